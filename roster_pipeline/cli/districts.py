"""``roster`` commands about districts and the receiver's host keys: district ..., hostkey ..."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from roster_pipeline import districts, operations
from roster_pipeline.cli import main
from roster_pipeline.cli.common import (
    F,
    echo_json,
    opened_home,
    reported,
    write_or_echo,
)
from roster_pipeline.config import Settings
from roster_pipeline.contracts import dialects, specs
from roster_pipeline.render import guide
from roster_pipeline.store import DistrictRecord
from sftp_server import ensure_host_keys

__all__ = [
    "DIALECT_OPTIONS",
    "changed_dialect",
    "dialect_options",
    "district",
]


@main.group()
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
    if password_stdin and no_password:
        raise click.UsageError("--password-stdin and --no-password exclude each other")
    password = _read_password() if password_stdin else None
    keys = tuple(line for f in key_files for line in _key_lines(f))
    with opened_home() as home:
        ensure_host_keys(home.folder("hostkeys"))
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
    info = districts.connection_info(settings, record, password)
    if as_json:
        echo_json(info)
        return
    for label, value in _info_rows(info):
        click.echo(f"{label:<28} {value}")


def _info_rows(info: dict[str, Any]) -> list[tuple[str, Any]]:
    rows = [
        ("district", info["district"]),
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
    """Show a district's account and settings (never a secret)."""
    with opened_home() as home:
        record = home.store.district(slug)
    _print_account(home.settings, record, as_json)


@district.command("rotate-password")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True)
@reported
def district_rotate_password(slug: str, as_json: bool) -> None:
    """Set a new generated password and show it once."""
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
    with opened_home() as home:
        done = districts.set_enabled(home, slug, enabled)
    _print_account(home.settings, done.district, as_json)


@district.command("add-key")
@click.argument("slug")
@click.argument("key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@reported
def district_add_key(slug: str, key_file: Path) -> None:
    """Authorize the public key(s) in KEY_FILE (authorized_keys format)."""
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
    with opened_home() as home:
        done = districts.remove_key(home, slug, fingerprint)
    _print_account(home.settings, done.district, False)


@district.command("remove")
@click.argument("slug")
@click.option("--purge", is_flag=True, help="Also delete its loaded rows, batches and inbox.")
@reported
def district_remove(slug: str, purge: bool) -> None:
    """Remove the district's account; without --purge its files and records are kept."""
    with opened_home() as home:
        districts.remove_district(home, slug, purge)
    click.echo(f"district {slug} removed" + (" with its data" if purge else "; its data is kept"))


@district.command("list")
@click.option("--json", "as_json", is_flag=True)
@reported
def district_list(as_json: bool) -> None:
    """List the provisioned districts."""
    with opened_home() as home:
        found = [districts.connection_info(home.settings, d) for d in home.store.districts()]
    if as_json:
        echo_json(found)
        return
    table = Table("district", "name", "spec", "username", "authentication", "state")
    for d in found:
        state = "enabled" if d["enabled"] else "DISABLED"
        table.add_row(
            d["district"],
            d["name"],
            d["spec"],
            d["username"],
            ", ".join(d["authentication"]),
            state,
        )
    Console().print(table)


@district.command("guide")
@click.argument("slug")
@click.option("--format", "fmt", type=click.Choice(["md", "html"]), default="md",
              show_default=True)  # fmt: skip
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--include-password", is_flag=True,
              help="Set a NEW password and include it (the old one stops working).")  # fmt: skip
@reported
def district_guide(slug: str, fmt: str, output: Path | None, include_password: bool) -> None:
    """Write the onboarding guide a district admin follows to set up PowerSchool.

    Generated from the district's spec, account and dialect. Passwords are
    stored only as a hash and cannot be shown again: without
    --include-password the guide says the password is sent separately; with it,
    a new password is generated, the old one stops working at once, and the
    new one is in the guide (handle the file as a secret).
    """
    with opened_home() as home:
        data = districts.onboarding(home, slug, include_password)
    text = guide.onboarding_guide(data)
    if fmt == "html":
        text = guide.guide_html(text, f"Roster onboarding: {data.connection['name']}")
    write_or_echo(text, output)
    if include_password:
        click.echo(f"note: the password of {slug} was changed; the old one no longer works",
                   err=True)  # fmt: skip


#: The options of `roster district set` that change the district's dialect.
DIALECT_OPTIONS = ("encoding", "aliases", "clear_aliases", "headerless", "with_header")


def dialect_options(func: F) -> F:
    """The dialect options of `roster district set`."""
    options = [
        click.option("--encoding", type=click.Choice(dialects.ENCODINGS), default=None,
                     help="Character set the district's files are read in."),
        click.option("--alias", "aliases", multiple=True, metavar="FILE.COLUMN=HEADER",
                     help="A header name meaning a spec column (repeatable)."),
        click.option("--clear-aliases", is_flag=True, help="Forget the district's aliases."),
        click.option("--headerless", multiple=True, metavar="FILE=COL,COL,...",
                     help="FILE comes without a header row; its columns by position, '-'"
                     " skips one (repeatable)."),
        click.option("--with-header", multiple=True, metavar="FILE",
                     help="FILE has a header row again (repeatable)."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def changed_dialect(record: DistrictRecord, given: dict[str, Any]) -> dialects.Dialect | None:
    """The district's dialect with the options given applied; None when none was given."""
    if not any(given.values()):
        return None
    current = dialects.Dialect.from_settings(record.settings)
    return current.changed(**given)


@district.command("set")
@click.argument("slug")
@click.option("--max-delete-pct", type=float, help="Hold a batch deleting more of a table.")
@click.option("--max-update-pct", type=float, help="Hold a batch updating more of a table.")
@click.option("--settle", type=float, help="Seconds of quiet before loose files form a batch.")
@click.option("--expect-every", type=float, help="Hours without upload before STALE.")
@click.option("--retention-days", type=float, help="Days archived files and reports are kept.")
@click.option("--pause/--resume", default=None, help="Keep uploads without processing them.")
@dialect_options
@reported
def district_set(slug: str, pause: bool | None, **given: Any) -> None:
    """Change district SLUG's settings; options not given keep their value."""
    dialect_given = {k: given.pop(k) for k in DIALECT_OPTIONS}
    names = {"settle": "settle_seconds", "expect_every": "expect_every_hours"}
    given = {names.get(k, k): v for k, v in given.items()}
    values = {k: v for k, v in given.items() if v is not None}
    with opened_home() as home:
        dialect = changed_dialect(home.store.district(slug), dialect_given)
        record = operations.configure(home, slug, values, pause, dialect)
    known = {*operations.DISTRICT_KNOBS, *dialects.SETTING_KEYS}
    knobs = {k: v for k, v in record.settings.items() if k in known}
    shown = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(knobs.items()))
    state = "paused" if record.paused else "active"
    click.echo(f"district {record.slug}: {state}" + (f"; {shown}" if shown else ""))
