"""``roster ban ...``: the addresses the SFTP receiver turns away after repeated failures."""

from __future__ import annotations

import click

from roster_pipeline.cli import main
from roster_pipeline.cli.common import echo_json, minute, opened_home, reported
from roster_pipeline.service import receiver

__all__ = ["ban"]


@main.group()
def ban() -> None:
    """Addresses banned by the receiver (shared by every receiver on the database)."""


@ban.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@reported
def ban_list(as_json: bool) -> None:
    """Banned addresses, why, and until when (UTC)."""
    with opened_home() as home:
        found = receiver.bans(home)
    if as_json:
        echo_json([{"address": b.address, "until": b.until.isoformat(), "reason": b.reason}
                   for b in found])  # fmt: skip
        return
    for b in found:
        click.echo(f"{b.address}  until {minute(b.until)}  ({b.reason})")
    click.echo(f"{len(found)} address(es) banned")


@ban.command("lift")
@click.argument("address")
@reported
def ban_lift(address: str) -> None:
    """Let ADDRESS connect again (receivers notice within a few seconds)."""
    with opened_home() as home:
        receiver.lift_ban(home, address)
    click.echo(f"ban on {address} lifted")
