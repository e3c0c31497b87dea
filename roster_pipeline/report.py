"""Reject reports, rendered from the batch record and its rejects only.

Formats: text (terminal), JSON (machines), CSV (spreadsheets; cells that a
spreadsheet would run as a formula are neutralised) and one self-contained HTML
file (people; works offline, every value escaped, large batches summarised).
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import polars as pl

from roster_pipeline.store import BatchRecord

__all__ = ["FORMATS", "REJECT_COLUMNS", "render", "render_rejects_text", "summary", "write_all"]

FORMATS = ("text", "json", "csv", "html")
HTML_ROW_LIMIT = 2000  # beyond this the HTML shows examples and points to the CSV
EXAMPLES_PER_CODE = 5
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
REJECT_COLUMNS = ("file", "line", "column", "value", "code", "message")


def summary(batch: BatchRecord) -> dict[str, Any]:
    """The batch as plain JSON-able data."""
    return {
        "batch_id": batch.batch_id,
        "district": batch.district,
        "status": str(batch.status),
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
    (folder / "rejects.csv").write_text(_csv(batch, rejects), encoding="utf-8")
    page = folder / "report.html"
    page.write_text(_html(batch, rejects), encoding="utf-8")
    return page


def _json(batch: BatchRecord, rejects: pl.DataFrame) -> str:
    body = {
        "batch_id": batch.batch_id,
        "district": batch.district,
        "status": str(batch.status),
        "message": batch.message,
        "warnings": list(batch.warnings),
        "rejects": rejects.select(REJECT_COLUMNS).to_dicts(),
    }
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def _safe_cell(value: object) -> str:
    """Neutralise spreadsheet formulas (CSV injection): prefix with a quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv(batch: BatchRecord, rejects: pl.DataFrame) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REJECT_COLUMNS)
    writer.writerows(
        [_safe_cell(v) for v in row] for row in rejects.select(REJECT_COLUMNS).iter_rows()
    )
    return out.getvalue()


def _by_code(rejects: pl.DataFrame) -> pl.DataFrame:
    return (
        rejects.group_by("code")
        .agg(
            pl.len().alias("count"),
            pl.struct(REJECT_COLUMNS).head(EXAMPLES_PER_CODE).alias("examples"),
        )
        .sort(["count", "code"], descending=[True, False])
        if rejects.height
        else pl.DataFrame()
    )


def _text(batch: BatchRecord, rejects: pl.DataFrame) -> str:
    head = f"batch {batch.batch_id}  district {batch.district}  status {batch.status}\n"
    return head + render_rejects_text(batch.message, batch.warnings, rejects)


def render_rejects_text(
    message: str, warnings: Sequence[str], rejects: pl.DataFrame, limit: int = 50
) -> str:
    """The message, warnings and the first ``limit`` rejects, one per line."""
    lines = [message, *(f"warning: {w}" for w in warnings)]
    if rejects.height:
        lines.append(f"{rejects.height:,} reject(s):")
        for row in rejects.head(limit).iter_rows(named=True):
            where = f"{row['file']}" + (f" line {row['line']}" if row["line"] else "")
            column = f" [{row['column']}]" if row["column"] else ""
            lines.append(f"  {where}{column} {row['code']}: {row['message']}")
        if rejects.height > limit:
            lines.append(f"  ... and {rejects.height - limit:,} more (use --format csv)")
    return "\n".join(lines) + "\n"


_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#1d2430;max-width:75rem}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #d6dae1;padding:.3rem .5rem;
text-align:left;vertical-align:top}th{background:#f2f4f7}
.status{display:inline-block;padding:.1rem .6rem;border-radius:1rem;background:#e8eefc}
.rejected,.held{background:#fde2e1}.loaded{background:#dff5e3}
.loaded_with_rejects{background:#fff3cd}code{font-size:.95em}.note{color:#5b6475}
"""


def _cell(value: object) -> str:
    return "" if value is None else html.escape(str(value))


def _table(headers: tuple[str, ...], rows: list[tuple[object, ...]]) -> str:
    head = "".join(f"<th>{_cell(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_summary(batch: BatchRecord) -> str:
    files = _table(
        ("file", "table", "rows", "rejected"),
        [(f.name, f.file_spec or "(no match)", f.rows, f.rejected) for f in batch.files],
    )
    counts = _table(
        ("table", "added", "updated", "deleted", "unchanged", "rejected"),
        [
            (t, c.added, c.updated, c.deleted, c.unchanged, c.rejected)
            for t, c in batch.counts.items()
        ],
    )
    warnings = "".join(f"<li>{_cell(w)}</li>" for w in batch.warnings)
    status = _cell(batch.status)
    return (
        f"<h1>Roster batch {_cell(batch.batch_id)}</h1>"
        f"<p>District <b>{_cell(batch.district)}</b> · received {_cell(batch.received_at)}"
        f" · <span class='status {status}'>{status}</span></p>"
        f"<p>{_cell(batch.message)}</p>"
        + (f"<h2>Warnings</h2><ul>{warnings}</ul>" if warnings else "")
        + f"<h2>Files</h2>{files}<h2>Changes per table</h2>{counts}"
    )


def _html_rejects(rejects: pl.DataFrame) -> str:
    if not rejects.height:
        return "<h2>Rejects</h2><p>None.</p>"
    groups = _by_code(rejects)
    parts = [f"<h2>Rejects by reason ({rejects.height:,} in all)</h2>"]
    for group in groups.iter_rows(named=True):
        examples = [tuple(e[c] for c in REJECT_COLUMNS) for e in group["examples"]]
        parts.append(f"<h3><code>{_cell(group['code'])}</code>: {group['count']:,}</h3>")
        parts.append(_table(REJECT_COLUMNS, examples))
    shown = rejects.head(HTML_ROW_LIMIT)
    parts.append("<h2>All rejects</h2>")
    if rejects.height > HTML_ROW_LIMIT:
        parts.append(
            f"<p class='note'>The first {HTML_ROW_LIMIT:,} of {rejects.height:,} are shown; "
            "<a href='rejects.csv'>rejects.csv</a> beside this file has them all.</p>"
        )
    parts.append(_table(REJECT_COLUMNS, list(shown.select(REJECT_COLUMNS).iter_rows())))
    return "".join(parts)


def _html(batch: BatchRecord, rejects: pl.DataFrame) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Roster batch {_cell(batch.batch_id)}</title><style>{_STYLE}</style></head>"
        f"<body>{_html_summary(batch)}{_html_rejects(rejects)}</body></html>\n"
    )
