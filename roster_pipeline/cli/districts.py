"""``roster district ...``: provision and inspect districts and their SFTP accounts."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from roster_pipeline.cli.common import (
    confirmed,
    echo_json,
    opened_home,
    output_option,
    reported,
    say,
    write_or_echo,
)
from roster_pipeline.cli.display import print_table, status_markup
from roster_pipeline.cli.district_settings import district_contract, district_set
from roster_pipeline.cli.sources import DISTRICT_COMMANDS
from roster_pipeline.contracts import specs

if TYPE_CHECKING:
    from roster_pipeline.config import Settings
    from roster_pipeline.store import DistrictRecord

# The core API and the SSH library are imported inside the commands that use them.


@click.group()
def district() -> None:
    """Provision and inspect districts and their SFTP accounts."""


@district.command("add")
@click.argument("slug")
@click.option("--name", default="", help="Display name (default: the slug).")
@click.option("--spec", "spec_name", default=specs.DEFAULT_SPEC, show_default=True)
@click.option("--username", default=None, help="SFTP user name (default: the slug).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--no-password", is_flag=True, help="Key-only account.")
@click.option("--public-key", "key_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="authorized_keys file (repeatable).")  # fmt: skip
@click.option("--allow-ip", "allow_ips", multiple=True, help="Allowed CIDR (repeatable).")
@click.option("--json", "as_json", is_flag=True)
@reported
def district_add(
    *,
    slug: str,
    name: str,
    spec_name: str,
    username: str | None,
    password_stdin: bool,
    no_password: bool,
    key_files: tuple[Path, ...],
    allow_ips: tuple[str, ...],
    as_json: bool,
) -> None:
    """Register district SLUG and create its SFTP account.

    Prints what the district admin types into PowerSchool: host, port, user
    name, password (shown once) and the host key fingerprints.
    """
    from roster_pipeline import districts, hostkeys

    if password_stdin and no_password:
        raise click.UsageError("--password-stdin and --no-password exclude each other")
    password = _read_password() if password_stdin else None
    keys = tuple(line for f in key_files for line in _key_lines(f))
    with opened_home() as home:
        hostkeys.ensure(home.folder("hostkeys"))
        done = districts.add_district(
            home, slug, name, spec_name, username=username, password=password,
            with_password=not no_password, public_keys=keys, allow_ips=allow_ips,
        )  # fmt: skip
    _print_account(home.settings, done.district, as_json, done.password)


def _read_password() -> str:
    password = str(sys.stdin.readline()).rstrip("\r\n")
    if len(password) < 12:
        raise click.UsageError("the password must have at least 12 characters")
    return password


def _key_lines(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _print_account(
    settings: Settings, record: DistrictRecord, as_json: bool, password: str | None = None
) -> None:
    """Print a district's connection details; ``password`` only right after it was set."""
    from roster_pipeline import districts

    info = districts.connection_info(settings, record, password)
    _warn_unreachable(info)
    if as_json:
        echo_json(info)
        return
    for label, value in _info_rows(info):
        click.echo(f"{label:<28} {value}")


def _warn_unreachable(info: Mapping[str, Any]) -> None:
    """Loudly (even with --quiet) when districts would be told an address they cannot use."""
    from roster_pipeline.districts import unreachable_host

    reason = unreachable_host(str(info["host"]))
    if reason:
        click.secho(
            f"WARNING: districts are told to connect to {info['host']!s}:{info['port']}, but"
            f" {reason}. Set the public host: `roster init --public-host HOST"
            " [--public-port PORT]` (or public_host in roster.toml).",
            fg="red", bold=True, err=True,
        )  # fmt: skip


def _info_rows(info: dict[str, Any]) -> list[tuple[str, Any]]:
    rows = [
        ("district", info["district"]),
        ("name", info["name"] or info["district"]),
        ("host", info["host"]),
        ("port", info["port"]),
        ("username", info["username"]),
        ("authentication", ", ".join(info["authentication"])),
    ]
    if "password" in info:
        rows.append(("password", f"{info['password']}   (shown once; store it now)"))
    rows += [("authorized key", k["fingerprint"]) for k in info["public_keys"]]
    rows += [("allowed from", c) for c in info["allow_ips"]]
    rows += [
        (f"host key {h['algorithm']}", h["fingerprint"]) for h in info["host_key_fingerprints"]
    ]
    if not info["enabled"]:
        rows.append(("state", "DISABLED"))
    return rows


@district.command("show")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True)
@reported
def district_show(slug: str, as_json: bool) -> None:
    """Show a district's account, pause state and settings (never a secret)."""
    from roster_pipeline import districts

    with opened_home() as home:
        info = districts.described(home.settings, home.store.district(slug))
    _warn_unreachable(info)
    if as_json:
        echo_json(info)
        return
    rows = _info_rows(info)
    rows.append(("processing", "PAUSED (uploads kept)" if info["paused"] else "active"))
    rows += [(f"source {k}", v) for k, v in info["source"].items()]
    for key, knob in info["settings"].items():
        mark = "" if knob["source"] == "deployment" else "   (this district's own)"
        value = knob["value"]
        shown = ("on" if value else "off") if isinstance(value, bool) else f"{value:g}"
        rows.append((key, f"{shown}{mark}"))
    for label, value in rows:
        click.echo(f"{label:<28} {value}")


@district.command("rotate-password")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True)
@click.option("--yes", is_flag=True, help="Do not ask before changing the password.")
@reported
def district_rotate_password(slug: str, as_json: bool, yes: bool) -> None:
    """Set a new generated password and show it once (the old one stops working)."""
    confirmed(f"The password of {slug} will change and the old one stop working. Go on?", yes)
    from roster_pipeline import districts

    with opened_home() as home:
        done = districts.rotate_password(home, slug)
    _print_account(home.settings, done.district, as_json, done.password)


@district.command("disable")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True)
@reported
def district_disable(slug: str, as_json: bool) -> None:
    """Refuse the district's logins (files and data stay)."""
    _set_enabled(slug, False, as_json)


@district.command("enable")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True)
@reported
def district_enable(slug: str, as_json: bool) -> None:
    """Allow the district's logins again."""
    _set_enabled(slug, True, as_json)


def _set_enabled(slug: str, enabled: bool, as_json: bool) -> None:
    from roster_pipeline import districts

    with opened_home() as home:
        done = districts.set_enabled(home, slug, enabled)
    _print_account(home.settings, done.district, as_json)


@district.command("add-key")
@click.argument("slug")
@click.argument("key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@reported
def district_add_key(slug: str, key_file: Path) -> None:
    """Authorize the public key(s) in KEY_FILE (authorized_keys format)."""
    from roster_pipeline import districts

    with opened_home() as home:
        for line in _key_lines(key_file):
            districts.add_key(home, slug, line)
        record = home.store.district(slug)
    _print_account(home.settings, record, False)


@district.command("remove-key")
@click.argument("slug")
@click.argument("fingerprint")
@reported
def district_remove_key(slug: str, fingerprint: str) -> None:
    """Remove the key with FINGERPRINT (SHA256:..., as `district show` lists it)."""
    from roster_pipeline import districts

    with opened_home() as home:
        done = districts.remove_key(home, slug, fingerprint)
    _print_account(home.settings, done.district, False)


@district.command("remove")
@click.argument("slug")
@click.option("--purge", is_flag=True, help="Also delete its loaded rows, batches and inbox.")
@click.option("--yes", is_flag=True, help="Do not ask before purging.")
@reported
def district_remove(slug: str, purge: bool, yes: bool) -> None:
    """Remove the district's account; without --purge its files and records are kept."""
    if purge:
        confirmed(f"Delete district {slug} with its loaded rows, batches and files?", yes)
    from roster_pipeline import districts

    with opened_home() as home:
        districts.remove_district(home, slug, purge)
    click.echo(f"district {slug} removed" + (" with its data" if purge else "; its data is kept"))


@district.command("list")
@click.option("--json", "as_json", is_flag=True)
@reported
def district_list(as_json: bool) -> None:
    """List the provisioned districts."""
    from roster_pipeline import districts

    with opened_home() as home:
        found = [districts.connection_info(home.settings, d) for d in home.store.districts()]
    if as_json:
        echo_json(found)
        return
    rows = [
        (d["district"], d["name"], d["spec"], d["username"], ", ".join(d["authentication"]),
         status_markup("enabled" if d["enabled"] else "DISABLED"))
        for d in found
    ]  # fmt: skip
    print_table(("district", "name", "spec", "username", "authentication", "state"), rows)


@district.command("guide")
@click.argument("slug")
@click.option("--format", "fmt", type=click.Choice(["md", "html"]), default="md",
              show_default=True)  # fmt: skip
@output_option
@click.option("--include-password", is_flag=True,
              help="Set a NEW password and include it (the old one stops working).")  # fmt: skip
@click.option("--yes", is_flag=True, help="Do not ask before changing the password.")
@reported
def district_guide(
    slug: str, fmt: str, output: Path | None, include_password: bool, yes: bool
) -> None:
    """Write the onboarding guide a district admin follows to set up PowerSchool.

    Generated from the district's spec, account and dialect. Passwords are
    stored only as a hash and cannot be shown again: without
    --include-password the guide says the password is sent separately; with it,
    a new password is generated and put in the guide, and only once the guide
    is written does it replace the old one (handle the file as a secret).
    """
    from roster_pipeline import districts
    from roster_pipeline.render import guide

    if include_password:
        confirmed(f"The password of {slug} will change and the old one stop working. Go on?", yes)
    with opened_home() as home:
        password = districts.new_password() if include_password else None
        data = districts.onboarding(home, slug, password)
        text = guide.onboarding_guide(data)
        if fmt == "html":
            text = guide.guide_html(text, f"Roster onboarding: {data.connection['name']}")
        if data.source.get("kind") == "sftp":
            _warn_unreachable(data.connection)  # a district we pull from is told no address
        write_or_echo(text, output)
        if password is not None:
            districts.rotate_password(home, slug, password)
            say(f"note: the password of {slug} was changed; the old one no longer works")


COMMANDS = (district,)

district.add_command(district_set)
district.add_command(district_contract)
for _command in DISTRICT_COMMANDS:
    district.add_command(_command)
