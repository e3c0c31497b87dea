"""The ``roster`` command: thin over the core API; RosterError becomes a ClickException."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from roster_pipeline import dialects, districts, guide, pipeline, report, specs
from roster_pipeline.config import Settings, load_settings
from roster_pipeline.display import shows_progress, stage_display
from roster_pipeline.errors import RosterError
from roster_pipeline.home import Home
from roster_pipeline.store import BatchRecord, BatchStatus, DistrictRecord
from sftp_server import KEY_TYPES, HostKeyError, add_host_key, ensure_host_keys, fingerprints

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])

#: Exit codes of `roster process`, by batch status.
EXIT_CODES = {BatchStatus.REJECTED: 1, BatchStatus.HELD: 3}


def reported(func: F) -> F:
    """Turn RosterError into a clean one-line error at the edge."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RosterError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


@contextmanager
def opened_home() -> Iterator[Home]:
    settings = click.get_current_context().find_root().obj
    assert isinstance(settings, Settings)
    with Home(settings) as home:
        home.create()  # idempotent and cheap: every command works on a fresh home
        yield home


def echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@click.group()
@click.option("--home", type=click.Path(path_type=Path), envvar="ROSTER_HOME", default=None,
              help="Home folder (default ./roster-data).")  # fmt: skip
@click.option("--db", "database_url", envvar="ROSTER_DATABASE_URL", default=None,
              help="Database URL (default SQLite in the home).")  # fmt: skip
@click.version_option(package_name="roster-pipeline")
@click.pass_context
@reported
def main(ctx: click.Context, home: Path | None, database_url: str | None) -> None:
    """Receive, validate and load school roster exports."""
    ctx.obj = load_settings(home=home, database_url=database_url)


@main.command()
@reported
def init() -> None:
    """Create the home, database and SSH host keys (safe to run again; keys are kept)."""
    with opened_home() as home:
        ensure_host_keys(home.folder("hostkeys"))
        click.echo(f"home {home.root.resolve()} ready; database {home.store.url}")
        _print_fingerprints(home.settings)


@main.group()
def hostkey() -> None:
    """The receiver's SSH host keys (districts pin their fingerprints)."""


@hostkey.command("fingerprints")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reported
def hostkey_fingerprints(settings: Settings, as_json: bool) -> None:
    """Print the SHA256 fingerprint of every host key, as OpenSSH shows it."""
    found = fingerprints(settings.path("hostkeys"))
    if as_json:
        echo_json([{"algorithm": a, "fingerprint": f} for a, f in found])
    else:
        _print_fingerprints(settings)


@hostkey.command("add")
@click.argument("key_type", type=click.Choice(KEY_TYPES))
@click.pass_obj
@reported
def hostkey_add(settings: Settings, key_type: str) -> None:
    """Add a host key of KEY_TYPE beside the others, for a planned rotation."""
    try:
        add_host_key(settings.path("hostkeys"), key_type)
    except HostKeyError as exc:
        raise click.ClickException(str(exc)) from exc
    _print_fingerprints(settings)


def _print_fingerprints(settings: Settings) -> None:
    for algorithm, fingerprint in fingerprints(settings.path("hostkeys")):
        click.echo(f"{algorithm:<22} {fingerprint}")


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
        info = districts.connection_info(home.settings, done.district, done.password)
    _print_info(info, as_json)


def _read_password() -> str:
    password = str(sys.stdin.readline()).rstrip("\r\n")
    if len(password) < 12:
        raise click.UsageError("the password must have at least 12 characters")
    return password


def _key_lines(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _print_info(info: dict[str, Any], as_json: bool) -> None:
    if as_json:
        echo_json(info)
        return
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
    for label, value in rows:
        click.echo(f"{label:<28} {value}")


@district.command("show")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True)
@reported
def district_show(slug: str, as_json: bool) -> None:
    """Show a district's account and settings (never a secret)."""
    with opened_home() as home:
        info = districts.connection_info(home.settings, home.store.district(slug))
    _print_info(info, as_json)


@district.command("rotate-password")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True)
@reported
def district_rotate_password(slug: str, as_json: bool) -> None:
    """Set a new generated password and show it once."""
    with opened_home() as home:
        done = districts.rotate_password(home, slug)
        info = districts.connection_info(home.settings, done.district, done.password)
    _print_info(info, as_json)


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
        _print_info(districts.connection_info(home.settings, done.district), as_json)


@district.command("add-key")
@click.argument("slug")
@click.argument("key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@reported
def district_add_key(slug: str, key_file: Path) -> None:
    """Authorize the public key(s) in KEY_FILE (authorized_keys format)."""
    with opened_home() as home:
        for line in _key_lines(key_file):
            districts.add_key(home, slug, line)
        _print_info(districts.connection_info(home.settings, home.store.district(slug)), False)


@district.command("remove-key")
@click.argument("slug")
@click.argument("fingerprint")
@reported
def district_remove_key(slug: str, fingerprint: str) -> None:
    """Remove the key with FINGERPRINT (SHA256:..., as `district show` lists it)."""
    with opened_home() as home:
        done = districts.remove_key(home, slug, fingerprint)
        _print_info(districts.connection_info(home.settings, done.district), False)


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


@main.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--district", "slug", required=True, help="The district the files come from.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@reported
def process(path: Path, slug: str, as_json: bool) -> None:
    """Process PATH (a zip, a CSV or a folder) for a district and load it."""
    with opened_home() as home, stage_display(shows_progress(as_json)) as progress:
        result = pipeline.process(home, slug, [path], progress=progress)
    batch = result.batch
    if as_json:
        echo_json(_process_json(batch))
    else:
        _print_batch(batch)
    sys.exit(EXIT_CODES.get(batch.status, 0))


def _process_json(batch: BatchRecord) -> dict[str, Any]:
    data = report.summary(batch)
    keys = ("batch_id", "district", "status", "files", "counts", "rejects", "report")
    return {k: data[k] for k in keys}


def _print_batch(batch: BatchRecord) -> None:
    console = Console()
    table = Table("table", "added", "updated", "deleted", "unchanged", "rejected",
                  title=f"batch {batch.batch_id} ({batch.district}): {batch.status}")  # fmt: skip
    for name, c in batch.counts.items():
        table.add_row(
            name, *(f"{n:,}" for n in (c.added, c.updated, c.deleted, c.unchanged, c.rejected))
        )
    console.print(table)
    console.print(batch.message, highlight=False)
    for warning in batch.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if batch.report_path:
        console.print(f"report: {batch.report_path}", highlight=False)


@main.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--spec", "spec_name", default=specs.DEFAULT_SPEC, show_default=True)
@click.option("--district", "slug", default=None,
              help="Read the files as this district's (its spec and dialect).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
@reported
def check(settings: Settings, path: Path, spec_name: str, slug: str | None, as_json: bool) -> None:
    """Parse and validate PATH only; nothing is loaded. Exit 1 when it would be rejected."""
    record = None
    if slug is not None:
        with opened_home() as home:
            record = home.store.district(slug)
    outcome = pipeline.check([path], spec_name, settings, record)
    rows = outcome.rejects.select(report.REJECT_COLUMNS)
    if as_json:
        echo_json({"status": str(outcome.status), "message": outcome.message,
                   "warnings": list(outcome.warnings), "rejects": rows.to_dicts()})  # fmt: skip
    else:
        click.echo(report.render_rejects_text(outcome.message, outcome.warnings, rows))
    sys.exit(EXIT_CODES.get(outcome.status, 0))


@main.command()
@click.option("--district", "slug", default=None)
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@reported
def batches(slug: str | None, limit: int, as_json: bool) -> None:
    """List batches, newest first."""
    with opened_home() as home:
        found = home.store.batches(slug, limit)
    if as_json:
        echo_json([report.summary(b) for b in found])
        return
    table = Table("batch", "district", "status", "received", "files", "rejects")
    for b in found:
        received = b.received_at.strftime("%Y-%m-%d %H:%M")
        table.add_row(
            b.batch_id, b.district, str(b.status), received, str(len(b.files)), f"{b.rejects:,}"
        )
    Console().print(table)


@main.command("report")
@click.argument("batch_id")
@click.option(
    "--format", "fmt", type=click.Choice(report.FORMATS), default="text", show_default=True
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@reported
def report_cmd(batch_id: str, fmt: str, output: Path | None) -> None:
    """Print or write the reject report of a batch."""
    with opened_home() as home:
        batch = home.store.batch(batch_id)
        text = report.render(batch, home.store.rejects(batch_id), fmt)
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


@main.command()
@click.argument("slug")
@click.argument("table")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True
)
@reported
def export(slug: str, table: str, fmt: str) -> None:
    """Print what is loaded now for district SLUG's TABLE, in the spec's column names."""
    with opened_home() as home:
        frame = districts.export(home, slug, table)
    if fmt == "json":
        echo_json(frame.to_dicts())
    else:
        click.echo(frame.write_csv(), nl=False)


@main.group()
def spec() -> None:
    """The file contracts districts send."""


@spec.command("show")
@click.argument("name", default=specs.DEFAULT_SPEC)
@reported
def spec_show(name: str) -> None:
    """Print the contract NAME in human terms."""
    click.echo(guide.describe_spec(specs.load_spec(name)))


# -- issue 6: what district admins read (onboarding guide) ------------------------


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
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)
    if include_password:
        click.echo(f"note: the password of {slug} was changed; the old one no longer works",
                   err=True)  # fmt: skip


@main.command()
@click.option("--keep/--no-keep", default=True, show_default=True,
              help="Keep the demo home (and its reports) afterwards.")  # fmt: skip
@reported
def demo(keep: bool) -> None:
    """Run the sample district through the pipeline in a fresh home."""
    from roster_pipeline.demo import run_demo

    run_demo(keep=keep)


# --- the running service (issue 4): serve, status, batch, district set, purge ----------------
# Kept as one block at the end of the file so the other branches' commands merge cleanly.


@main.command()
@click.option("--workers", default=1, show_default=True, help="Batch worker processes.")
@click.option("--role", type=click.Choice(["all", "sftp", "worker"]), default="all",
              show_default=True, help="Run the receiver, the workers, or both.")  # fmt: skip
@click.option("--port", type=int, default=None, help="SFTP port (default: listen_port).")
@click.pass_obj
@reported
def serve(settings: Settings, workers: int, role: str, port: int | None) -> None:
    """Run the SFTP receiver, the inbox watcher and batch workers until SIGTERM/SIGINT."""
    import dataclasses
    import logging

    from roster_pipeline import service

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if port is not None:
        settings = dataclasses.replace(settings, listen_port=port)
    options = service.ServiceOptions(workers=workers, role=role)
    service.serve(settings, options, service.default_receiver(), ready=_announce)


def _announce(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@reported
def status(as_json: bool) -> None:
    """Per district: uploads, loads, holds, STALE. Exit 1 when any needs attention."""
    from roster_pipeline import status as status_mod

    with opened_home() as home:
        found = status_mod.overview(home)
    if as_json:
        echo_json({"districts": [s.as_json() for s in found],
                   "attention": status_mod.exit_code(found) != 0})  # fmt: skip
    else:
        _print_status(found)
    sys.exit(status_mod.exit_code(found))


def _print_status(found: list[Any]) -> None:
    table = Table("district", "last upload", "last loaded", "rows", "held", "state")
    for s in found:
        upload = s.last_upload.strftime("%Y-%m-%d %H:%M") if s.last_upload else "never"
        loaded = s.last_loaded_at.strftime("%Y-%m-%d %H:%M") if s.last_loaded_at else "never"
        rows = ", ".join(f"{t} {n:,}" for t, n in s.rows.items() if n)
        state = "; ".join(s.problems) or ("paused" if s.paused else "ok")
        table.add_row(s.district, upload, loaded, rows or "-", str(len(s.held)), state)
    Console().print(table)


@main.group("batch")
def batch_group() -> None:
    """Act on one batch: approve or discard a held batch, reprocess a finished one."""


@batch_group.command("approve")
@click.argument("batch_id")
@reported
def batch_approve(batch_id: str) -> None:
    """Apply the held batch BATCH_ID, planned again against what is loaded now."""
    from roster_pipeline import operations

    with opened_home() as home, stage_display(shows_progress(False)) as progress:
        approved = operations.approve(home, batch_id, progress)
    _print_batch(approved)


@batch_group.command("discard")
@click.argument("batch_id")
@reported
def batch_discard(batch_id: str) -> None:
    """Drop the held batch BATCH_ID; nothing of it is applied."""
    from roster_pipeline import operations

    with opened_home() as home:
        batch = operations.discard(home, batch_id)
    click.echo(f"batch {batch.batch_id}: {batch.status}")


@batch_group.command("reprocess")
@click.argument("batch_id")
@reported
def batch_reprocess(batch_id: str) -> None:
    """Run the archived files of the finished batch BATCH_ID again, as a new batch."""
    from roster_pipeline import operations

    with opened_home() as home:
        batch = operations.reprocess(home, batch_id)
    _print_batch(batch)
    sys.exit(EXIT_CODES.get(batch.status, 0))


# -- issue 6: per-district PowerSchool dialects (options of `district set`) ---------

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
    from roster_pipeline import operations

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


@main.command()
@reported
def purge() -> None:
    """Delete archived raw files and reports older than each district's retention."""
    from roster_pipeline import retention

    with opened_home() as home:
        gone = retention.purge(home)
    for item in gone:
        click.echo(f"purged {item.folder}/{item.batch_id} ({item.age_days:.0f} days old)")
    click.echo(f"{len(gone)} batch folder(s) purged")
