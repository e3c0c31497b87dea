"""Reject reports, rendered from the batch record and its rejects only.

Formats: text (terminal), JSON (machines), CSV (spreadsheets; cells that a
spreadsheet would run as a formula are neutralised) and one self-contained HTML
file (people; works offline, every value escaped, large batches summarised).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import polars as pl

from roster_pipeline.render import locations
from roster_pipeline.render.report_html import render_html
from roster_pipeline.store import BatchRecord

FORMATS = ("text", "json", "csv", "html")
REJECT_COLUMNS = locations.UPLOADED


def summary(batch: BatchRecord) -> dict[str, Any]:
    """The batch as plain JSON-able data."""
    return {
        "batch_id": batch.batch_id,
        "district": batch.district,
        "status": str(batch.status),
        "mode": batch.mode,
        "message": batch.message,
        "received_at": batch.received_at.isoformat(),
        "finished_at": batch.finished_at.isoformat() if batch.finished_at else None,
        "files": [
            {"name": f.name, "table": f.file_spec, "rows": f.rows, "rejected": f.rejected}
            for f in batch.files
        ],
        "counts": {table: asdict(c) for table, c in batch.counts.items()},
        "rejects": batch.rejects,
        "hold_reasons": list(batch.hold_reasons),
        "warnings": list(batch.warnings),
        "report": batch.report_path,
    }


def render(batch: BatchRecord, rejects: pl.DataFrame, fmt: str) -> str:
    renderers = {"text": _text, "json": _json, "csv": _csv, "html": _html}
    return renderers[fmt](batch, rejects)


def write_all(batch: BatchRecord, rejects: pl.DataFrame, folder: Path) -> Path:
    """Write report.json, rejects.csv and report.html; return the HTML's path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(_json(batch, rejects), encoding="utf-8")
    # With a byte-order mark, Excel opens it as UTF-8 instead of mangling "José".
    (folder / "rejects.csv").write_text(_csv(batch, rejects), encoding="utf-8-sig")
    page = folder / "report.html"
    page.write_text(_html(batch, rejects), encoding="utf-8")
    return page


def _json(batch: BatchRecord, rejects: pl.DataFrame) -> str:
    head = {
        "batch_id": batch.batch_id,
        "district": batch.district,
        "status": str(batch.status),
        "mode": batch.mode,
        "message": batch.message,
        "warnings": list(batch.warnings),
    }
    # The rejects are serialised by polars: a million rows as Python dicts take seconds.
    # A pulled batch's add where they are in the pull (query, record, key).
    pulled = locations.pulled(batch)
    shown = (*REJECT_COLUMNS, "query", "record", "key") if pulled else REJECT_COLUMNS
    rows = locations.locate(rejects, pulled).select(shown).write_json()
    return json.dumps(head, indent=2, ensure_ascii=False)[:-2] + f',\n  "rejects": {rows}\n}}\n'


#: A cell a spreadsheet would run as a formula (CSV injection) starts so.
_FORMULA = r"^[=+\-@\t\r]"


def _csv(batch: BatchRecord, rejects: pl.DataFrame) -> str:
    """Every cell a spreadsheet would run as a formula gets a leading quote.

    CRLF as RFC 4180 and Excel expect; a value holding a CR or LF is quoted.
    """
    pulled = locations.pulled(batch)
    shown = locations.columns(pulled)
    cells = [pl.col(c).cast(pl.String) for c in shown]
    safe = locations.locate(rejects, pulled).select(
        pl.when(c.str.contains(_FORMULA)).then(pl.lit("'") + c).otherwise(c).alias(name)
        for c, name in zip(cells, shown, strict=True)
    )
    return safe.write_csv(line_terminator="\r\n", quote_style="necessary")


def _text(batch: BatchRecord, rejects: pl.DataFrame) -> str:
    lines = [
        f"batch {batch.batch_id}  district {batch.district}  status {batch.status}"
        f"  mode {batch.mode}"
    ]
    lines.append(f"received {batch.received_at:%Y-%m-%d %H:%M:%S} UTC from {batch.source}")
    lines += [
        f"  {f.name}: {f.rows:,} rows, {f.rejected:,} rejected ({f.file_spec or 'no match'})"
        for f in batch.files
    ]
    lines += [
        f"  {t}: {c.added:,} added, {c.updated:,} updated, {c.deleted:,} deleted,"
        f" {c.unchanged:,} unchanged, {c.rejected:,} rejected"
        + (f", {c.left_out:,} left out as not active" if c.left_out else "")
        for t, c in batch.counts.items()
    ]
    head = "\n".join(lines) + "\n"
    return head + render_rejects_text(
        batch.message, batch.warnings, rejects, pulled=locations.pulled(batch)
    )


def render_rejects_text(
    message: str,
    warnings: Sequence[str],
    rejects: pl.DataFrame,
    limit: int = 50,
    *,
    pulled: bool = False,
) -> str:
    """The message, warnings and the first ``limit`` rejects, one per line."""
    lines = [message, *(f"warning: {w}" for w in warnings)]
    if rejects.height:
        lines.append(f"{rejects.height:,} reject(s):")
        for row in locations.locate(rejects.head(limit), pulled).iter_rows(named=True):
            where = locations.where(row["file"], row["line"], row.get("key"), pulled)
            column = f" [{row['column']}]" if row["column"] else ""
            lines.append(f"  {where}{column} {row['code']}: {row['message']}")
        if rejects.height > limit:
            lines.append(f"  ... and {rejects.height - limit:,} more (use --format csv)")
    return "\n".join(lines) + "\n"


def _html(batch: BatchRecord, rejects: pl.DataFrame) -> str:
    return render_html(batch, rejects)
