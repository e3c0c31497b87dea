"""``roster`` commands about batches and the spec: process, check, batches, report,
export, batch approve|discard|reprocess, spec show."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from roster_pipeline.cli.common import (
    echo_json,
    exit_for,
    minute,
    opened_home,
    output_option,
    reported,
    settings_of,
    write_or_echo,
)
from roster_pipeline.cli.display import (
    console,
    print_table,
    shows_progress,
    stage_display,
    status_markup,
)
from roster_pipeline.contracts import specs

if TYPE_CHECKING:
    from roster_pipeline.store import BatchRecord

# The pipeline (polars, pandera) is imported inside the commands that run it.


#: render.report.FORMATS, spelled here so `--help` need not import the renderer.
REPORT_FORMATS = ("text", "json", "csv", "html")


@click.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--district", "slug", required=True, help="The district the files come from.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@reported
def process(path: Path, slug: str, as_json: bool) -> None:
    """Process PATH (a zip, a CSV or a folder) for a district and load it."""
    from roster_pipeline import pipeline, system

    with opened_home() as home, stage_display(shows_progress(as_json)) as progress:
        system.require_enabled(home, "processing")
        result = pipeline.process(home, slug, [path], progress=progress)
    batch = result.batch
    if as_json:
        echo_json(process_json(batch))
    else:
        print_batch(batch)
    exit_for(batch.status)


def process_json(batch: BatchRecord) -> dict[str, Any]:
    from roster_pipeline.render import report

    data = report.summary(batch)
    keys = ("batch_id", "district", "status", "mode", "files", "counts", "rejects", "report")
    return {k: data[k] for k in keys}


def print_batch(batch: BatchRecord) -> None:
    from rich.markup import escape
    from rich.table import Table

    out = console()
    title = f"batch {batch.batch_id} ({batch.district}): {status_markup(str(batch.status))}"
    columns = ("table", "added", "updated", "deleted", "unchanged", "rejected", "left out")
    table = Table(*columns, title=title)
    for name, c in batch.counts.items():
        numbers = (c.added, c.updated, c.deleted, c.unchanged, c.rejected, c.left_out)
        table.add_row(name, *(f"{n:,}" for n in numbers))
    out.print(table)
    out.print(batch.message, highlight=False, markup=False)
    for warning in batch.warnings:
        out.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    if batch.report_path:
        out.print(f"report: {escape(batch.report_path)}", highlight=False)


@click.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--spec", "spec_name", default=specs.DEFAULT_SPEC, show_default=True)
@click.option("--district", "slug", default=None,
              help="Read the files as this district's (its spec and dialect).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True)
@reported
def check(path: Path, spec_name: str, slug: str | None, as_json: bool) -> None:
    """Parse and validate PATH only; nothing is loaded. Exit 1 when it would be rejected."""
    from roster_pipeline import pipeline
    from roster_pipeline.render import report

    record = None
    if slug is not None:
        with opened_home() as home:
            record = home.store.district(slug)
    outcome = pipeline.check([path], spec_name, settings_of(), record)
    rows = outcome.rejects.select(report.REJECT_COLUMNS)
    if as_json:
        echo_json({"status": str(outcome.status), "message": outcome.message,
                   "warnings": list(outcome.warnings), "rejects": rows.to_dicts()})  # fmt: skip
    else:
        click.echo(report.render_rejects_text(outcome.message, outcome.warnings, rows))
    exit_for(outcome.status)


@click.command()
@click.option("--district", "slug", default=None)
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@reported
def batches(slug: str | None, limit: int, as_json: bool) -> None:
    """List batches, newest first. IDs are shown whole; any unique beginning of one
    is accepted wherever a BATCH_ID is asked for."""
    with opened_home() as home:
        found = home.store.batches(slug, limit)
    if as_json:
        from roster_pipeline.render import report

        echo_json([report.summary(b) for b in found])
        return
    rows = [
        (b.batch_id, b.district, status_markup(str(b.status)), minute(b.received_at),
         str(len(b.files)), f"{b.rejects:,}")
        for b in found
    ]  # fmt: skip
    print_table(("batch", "district", "status", "received", "files", "rejects"), rows)


@click.command("report")
@click.argument("batch_id")
@click.option(
    "--format", "fmt", type=click.Choice(REPORT_FORMATS), default="text", show_default=True
)
@output_option
@reported
def report_cmd(batch_id: str, fmt: str, output: Path | None) -> None:
    """Print or write the reject report of a batch."""
    from roster_pipeline.render import report

    with opened_home() as home:
        batch = home.store.batch(batch_id)
        text = report.render(batch, home.store.rejects(batch.batch_id), fmt)
    write_or_echo(text, output)


@click.command()
@click.argument("slug")
@click.argument("table")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True
)
@click.option("--as-of", "as_of", metavar="BATCH_ID", default=None,
              help="The table as it stood right after this applied batch.")  # fmt: skip
@reported
def export(slug: str, table: str, fmt: str, as_of: str | None) -> None:
    """Print what is loaded now (or --as-of a batch) for district SLUG's TABLE, in the
    spec's column names."""
    from roster_pipeline import districts

    with opened_home() as home:
        frame = districts.export(home, slug, table, as_of)
    if fmt == "json":
        _stream_json(frame)
    else:
        click.echo(frame.write_csv(), nl=False)


def _stream_json(frame: Any, rows_per_slice: int = 10_000) -> None:
    """One JSON array, written a slice at a time: never a Python object per row."""
    out = sys.stdout
    out.write("[")
    separator = "\n"
    for piece in frame.iter_slices(rows_per_slice):
        rows = piece.write_json().strip()[1:-1]  # the slice's array, without its brackets
        if rows:
            out.write(separator + rows)
            separator = ",\n"
    out.write("\n]\n")


@click.group("batch")
def batch_group() -> None:
    """Act on one batch: approve or discard a held batch, reprocess a finished one, roll
    back an applied one."""


@batch_group.command("approve")
@click.argument("batch_id")
@reported
def batch_approve(batch_id: str) -> None:
    """Apply the held batch BATCH_ID, planned again against what is loaded now."""
    from roster_pipeline import operations, system

    with opened_home() as home, stage_display(shows_progress(False)) as progress:
        system.require_enabled(home, "approving a batch")
        approved = operations.approve(home, home.store.batch(batch_id).batch_id, progress)
    print_batch(approved)


@batch_group.command("discard")
@click.argument("batch_id")
@reported
def batch_discard(batch_id: str) -> None:
    """Drop the held batch BATCH_ID; nothing of it is applied."""
    from roster_pipeline import operations

    with opened_home() as home:
        batch = operations.discard(home, home.store.batch(batch_id).batch_id)
    click.echo(f"batch {batch.batch_id}: {batch.status}")


@batch_group.command("reprocess")
@click.argument("batch_id")
@reported
def batch_reprocess(batch_id: str) -> None:
    """Run the archived files of the finished batch BATCH_ID again, as a new batch."""
    from roster_pipeline import operations, system

    with opened_home() as home:
        system.require_enabled(home, "reprocessing")
        batch = operations.reprocess(home, home.store.batch(batch_id).batch_id)
    print_batch(batch)
    exit_for(batch.status)


@click.group()
def spec() -> None:
    """The file contracts districts send."""


@spec.command("show")
@click.argument("name", default=specs.DEFAULT_SPEC)
@reported
def spec_show(name: str) -> None:
    """Print the contract NAME in human terms."""
    from roster_pipeline.render import guide

    click.echo(guide.describe_spec(specs.load_spec(name)))


#: What this module adds to `roster`.
COMMANDS = (process, check, batches, report_cmd, export, batch_group, spec)


COMMANDS = (process, check, batches, report_cmd, export, batch_group, spec)
