"""``roster district set``: a district's thresholds, timing, pause and file dialect;
``roster district contract``: the contract (spec) its batches are read with."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from roster_pipeline.cli.common import F, opened_home, reported

if TYPE_CHECKING:
    from roster_pipeline.contracts import dialects
    from roster_pipeline.store import DistrictRecord


#: contracts.dialects.ENCODINGS, spelled here so that `--help` need not import the
#: parser (a test holds them equal).
ENCODINGS = ("utf-8", "cp1252", "mac_roman")

#: The options of `roster district set` that change the district's dialect.
DIALECT_OPTIONS = ("encoding", "aliases", "clear_aliases", "headerless", "with_header")


def dialect_options(func: F) -> F:
    """The dialect options of `roster district set`."""
    options = [
        click.option("--encoding", type=click.Choice(ENCODINGS), default=None,
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


def changed_dialect(record: DistrictRecord, given: dict[str, Any]) -> dialects.CsvDialect | None:
    """The district's dialect with the options given applied; None when none was given."""
    from roster_pipeline.contracts import dialects

    if not any(given.values()):
        return None
    current = dialects.CsvDialect.from_settings(record.settings)
    return current.changed(**given)


@click.command("set")
@click.argument("slug")
@click.option("--max-delete-pct", type=float, help="Hold a batch deleting more of a table.")
@click.option("--max-update-pct", type=float, help="Hold a batch updating more of a table.")
@click.option("--max-reject-pct", type=float, help="Hold a batch rejecting more of a table.")
@click.option(
    "--strict-columns/--lenient-columns",
    default=None,
    help="Reject rows breaking a rule on a column the contract does not load.",
)
@click.option("--settle", type=float, help="Seconds of quiet before loose files form a batch.")
@click.option("--expect-every", type=float, help="Hours without upload before STALE.")
@click.option("--retention-days", type=float, help="Days archived files and reports are kept.")
@click.option("--pause/--resume", default=None, help="Keep uploads without processing them.")
@dialect_options
@reported
def district_set(slug: str, pause: bool | None, **given: Any) -> None:
    """Change district SLUG's settings; options not given keep their value."""
    from roster_pipeline import operations
    from roster_pipeline.config import DISTRICT_KEYS
    from roster_pipeline.contracts import dialects

    dialect_given = {k: given.pop(k) for k in DIALECT_OPTIONS}
    names = {"settle": "settle_seconds", "expect_every": "expect_every_hours"}
    given = {names.get(k, k): v for k, v in given.items()}
    values = {k: v for k, v in given.items() if v is not None}
    with opened_home() as home:
        dialect = changed_dialect(home.store.district(slug), dialect_given)
        record = operations.configure(home, slug, values, pause, dialect)
    known = {*DISTRICT_KEYS, *dialects.SETTING_KEYS}
    knobs = {k: v for k, v in record.settings.items() if k in known}
    shown = ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(knobs.items()))
    state = "paused" if record.paused else "active"
    click.echo(f"district {record.slug}: {state}" + (f"; {shown}" if shown else ""))


@click.command("contract")
@click.argument("slug")
@click.argument("contract")
@reported
def district_contract(slug: str, contract: str) -> None:
    """Read district SLUG's batches with CONTRACT (a spec name) from its next batch on.

    Refused while a batch of the district is held: approve or discard it first.
    The rows loaded stay; the district's onboarding guide describes CONTRACT.
    """
    from roster_pipeline import operations

    with opened_home() as home:
        record, before = operations.change_contract(home, slug, contract)
    if before == record.spec:
        click.echo(f"district {slug} already uses {before}; nothing changed")
        return
    click.echo(
        f"district {slug}: contract {before} -> {record.spec}. The next batch is read with"
        f" {record.spec}; the rows loaded so far stay, and the next batch is compared with"
        f" them (other IDs than before would be deletions, held past the district's limits)."
        f" The onboarding guide now describes {record.spec}: send the district the new one"
        f" (roster district guide {slug})."
    )
