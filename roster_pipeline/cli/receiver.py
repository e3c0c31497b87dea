"""``roster hostkey ...`` and ``roster ban ...``: the SFTP receiver's keys and bans."""

from __future__ import annotations

import click

from roster_pipeline.cli.common import (
    echo_json,
    minute,
    opened_home,
    print_fingerprints,
    reported,
    settings_of,
)

# The core API and the SSH library are imported inside the commands that use them.

#: sftp_server.KEY_TYPES, spelled here so that `--help` need not import the SSH
#: library (a test holds them equal).
KEY_TYPES = ("ed25519", "ecdsa", "rsa")


@click.group()
def hostkey() -> None:
    """The receiver's SSH host keys (districts pin their fingerprints)."""


@hostkey.command("fingerprints")
@click.option("--json", "as_json", is_flag=True)
@reported
def hostkey_fingerprints(as_json: bool) -> None:
    """Print the SHA256 fingerprint of every host key, as OpenSSH shows it."""
    from roster_pipeline import hostkeys

    settings = settings_of()
    found = hostkeys.fingerprints(settings.path("hostkeys"))
    if as_json:
        echo_json([{"algorithm": a, "fingerprint": f} for a, f in found])
    else:
        print_fingerprints(settings)


@hostkey.command("add")
@click.argument("key_type", type=click.Choice(KEY_TYPES))
@reported
def hostkey_add(key_type: str) -> None:
    """Add a new KEY_TYPE key beside the others, for a planned rotation.

    The receiver offers it to clients that learn new keys (OpenSSH's
    UpdateHostKeys) from its next start; districts that pin keys by hand
    should be given the new fingerprint before the old key is retired.
    """
    from roster_pipeline import hostkeys

    settings = settings_of()
    added = hostkeys.add(settings.path("hostkeys"), key_type, settings.path("logs", "audit.log"))
    click.echo(f"added {added}")
    print_fingerprints(settings)


@hostkey.command("retire")
@click.argument("fingerprint")
@reported
def hostkey_retire(fingerprint: str) -> None:
    """Stop serving the key with FINGERPRINT (kept in hostkeys/retired/); restart to apply."""
    from roster_pipeline import hostkeys

    settings = settings_of()
    hostkeys.retire(settings.path("hostkeys"), fingerprint, settings.path("logs", "audit.log"))
    click.echo(f"retired {fingerprint}")
    print_fingerprints(settings)


@click.group()
def ban() -> None:
    """Addresses banned by the receiver (shared by every receiver on the database)."""


@ban.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@reported
def ban_list(as_json: bool) -> None:
    """Banned addresses, why, and until when (UTC)."""
    from roster_pipeline.service import receiver

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
    from roster_pipeline.service import receiver

    with opened_home() as home:
        receiver.lift_ban(home, address)
    click.echo(f"ban on {address} lifted")


COMMANDS = (hostkey, ban)
