"""The HTML reject report: one self-contained page a person reads in the morning.

Built from the batch record and its rejects only. No external asset, no script:
the shell (``render.page``) forbids both, so the page is the same offline, in a
mail attachment or on a file share. Every value passes through ``html.escape``.
Size stays bounded whatever the batch: the grouped view shows a few examples
per reason and the full table at most ``ROW_LIMIT`` rows, then points to the
CSV that holds them all (a million rejects make a page of about a megabyte).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import polars as pl

from roster_pipeline.contracts.rejects import Code
from roster_pipeline.render import locations
from roster_pipeline.render.page import page
from roster_pipeline.store import BatchRecord, BatchStatus

ROW_LIMIT = 2000
EXAMPLES_PER_CODE = 5

#: What each reject code means, in words for the person who fixes the export.
CODE_ADVICE: Mapping[str, str] = {
    Code.BAD_ZIP: "The zip file is damaged or incomplete. Send it again.",
    Code.UNSAFE_ZIP: "The zip contains paths outside its folder or links. Zip only the files.",
    Code.ZIP_LIMIT: "The zip is larger or more compressed than allowed. Send the files loose.",
    Code.MISSING_FILE: "A required file was not sent and nothing is loaded for it yet.",
    Code.AMBIGUOUS_FILE: "Two files match the same table. Send one file per table.",
    Code.EMPTY_FILE: "The file has no header row. Check that the export produced data.",
    Code.NOT_UTF8: "The file is not in the agreed character set. Export it as UTF-8.",
    Code.MISSING_COLUMN: "A required column is missing from the header row.",
    Code.DUPLICATE_COLUMN: "Two header columns mean the same field. Keep one of them.",
    Code.INTERNAL: "Our pipeline failed on this batch. Ops will fix it and reprocess it.",
    Code.WRONG_CONTRACT: "The files are another format or version than the district's contract.",
    Code.BAD_MANIFEST: "The manifest cannot be read. Send it as propertyName,value rows.",
    Code.FIELD_COUNT: "The row has more or fewer fields than the header (often a stray quote).",
    Code.REQUIRED: "A required value is empty.",
    Code.PATTERN: "The value does not have the required format.",
    Code.SPREADSHEET_NUMBER: "A spreadsheet turned an ID into a number. Re-export without Excel.",
    Code.NOT_ALLOWED: "The value is not one of the allowed values.",
    Code.TOO_LONG: "The value is longer than allowed.",
    Code.DUPLICATE_KEY: "Several rows share one ID; none of them was loaded.",
    Code.REFERENCE_MISSING: "The row names something (a user, class, school) that does not exist.",
    Code.REFERENCE_REJECTED: "The row names something whose own row was rejected; fix that first.",
    Code.REFERENCE_MISMATCH: "The row names someone of the wrong kind (e.g. a student as teacher).",
}

_MEANING: Mapping[BatchStatus, str] = {
    BatchStatus.LOADED: "Everything was loaded.",
    BatchStatus.LOADED_WITH_REJECTS: (
        "Loaded, except the rows listed below: they were not applied, and a version of them"
        " loaded before, if any, stays as it was."
    ),
    BatchStatus.REJECTED: (
        "Nothing was loaded from these files; what was loaded before, if anything, stays as it"
        " was. Fix the problem below and send the files again."
    ),
    BatchStatus.HELD: "Held for approval by ops: nothing was applied yet.",
    BatchStatus.DUPLICATE: "Identical to the last loaded files; nothing to do.",
}

_STYLE = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;
color:#1d2430;max-width:78rem;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem}
h3{font-size:1rem;margin:1.4rem 0 .3rem}
table{border-collapse:collapse;width:100%;margin:.4rem 0}
td,th{border:1px solid #d6dae1;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f4f7}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
td.v{font-family:ui-monospace,Consolas,monospace;white-space:pre-wrap;word-break:break-all}
td.f{font-family:ui-monospace,Consolas,monospace;white-space:nowrap}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{color:#5b6475}dd{margin:0}
.status{display:inline-block;padding:.05rem .6rem;border-radius:1rem;background:#e8eefc}
.rejected,.held{background:#fde2e1}.loaded,.duplicate{background:#dff5e3}
.loaded_with_rejects{background:#fff3cd}.note{color:#5b6475}code{font-size:.95em}
@media print{body{margin:0}a{color:inherit}}
"""


def _esc(value: object) -> str:
    return "" if value is None else html.escape(str(value))


def _num(value: object) -> str:
    return f"<td class='n'>{value:,}</td>" if isinstance(value, int) else f"<td>{_esc(value)}</td>"


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]], numeric: int = 0) -> str:
    """A table; the last ``numeric`` columns are right-aligned numbers."""
    first = len(headers) - numeric
    # Values as sent show in monospace, so spaces, tabs and look-alikes are visible.
    # File names never wrap inside a name (values may: they can be any length).
    mono = [
        {"value": " class='v'", "file": " class='f'", "query": " class='f'"}.get(h, "")
        for h in headers
    ]
    head = "".join(
        f"<th{' class=n' if i >= first else ''}>{_esc(h)}</th>" for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            _num(v) if i >= first else f"<td{mono[i]}>{_esc(v)}</td>" for i, v in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _facts(batch: BatchRecord) -> str:
    status = _esc(batch.status)
    finished = batch.finished_at.strftime("%Y-%m-%d %H:%M:%S UTC") if batch.finished_at else ""
    facts = [
        ("District", _esc(batch.district)),
        ("Batch", f"<code>{_esc(batch.batch_id)}</code>"),
        ("Received", _esc(batch.received_at.strftime("%Y-%m-%d %H:%M:%S UTC"))),
        ("Processed", _esc(finished)),
        ("Sent as", _esc(batch.source)),
        ("Status", f"<span class='status {status}'>{status}</span>"),
        ("Rejects", f"{batch.rejects:,}"),
    ]
    if batch.mode == "delta":  # bulk, the usual case, goes without saying
        facts.insert(-1, ("Applied as", "delta: the rows listed changed, the others kept"))
    return "<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>"


def _detail(batch: BatchRecord) -> str:
    """What the batch's own message adds to the lead sentence, for the district's eyes:
    why a batch was rejected. Other messages restate the lead or speak to ops."""
    if batch.status == BatchStatus.REJECTED and batch.message:
        return f" {_esc(batch.message)}"
    return ""


def _summary(batch: BatchRecord) -> str:
    meaning = _MEANING.get(batch.status, "")
    parts = [
        f"<h1>Roster batch report: {_esc(batch.district)}</h1>",
        _facts(batch),
        f"<p><b>{_esc(meaning or batch.message)}</b>{_detail(batch)}</p>",
    ]
    if batch.hold_reasons:
        reasons = "".join(f"<li>{_esc(r)}</li>" for r in batch.hold_reasons)
        parts.append(f"<h2>Why it was held</h2><ul>{reasons}</ul>")
    if batch.warnings:
        warnings = "".join(f"<li>{_esc(w)}</li>" for w in batch.warnings)
        parts.append(f"<h2>Warnings</h2><ul>{warnings}</ul>")
    files = [(f.name, f.file_spec or "(matches no file of the spec)", f.rows, f.rejected)
             for f in batch.files]  # fmt: skip
    parts.append("<h2>Files received</h2>")
    parts.append(_table(("file", "table", "rows", "rows rejected"), files, numeric=2))
    counts = [(t, c.added, c.updated, c.deleted, c.unchanged, c.rejected, c.left_out)
              for t, c in batch.counts.items()]  # fmt: skip
    if counts:
        parts.append("<h2>Changes per table</h2>")
        headers = ("table", "added", "updated", "deleted", "unchanged", "rejected", "left out")
        parts.append(_table(headers, counts, numeric=6))
    return "".join(parts)


def _by_code(rejects: pl.DataFrame, shown: Sequence[str]) -> pl.DataFrame:
    return (
        rejects.group_by("code")
        .agg(pl.len().alias("count"), pl.struct(shown).head(EXAMPLES_PER_CODE).alias("examples"))
        .sort(["count", "code"], descending=[True, False])
    )


def _grouped(rejects: pl.DataFrame, full: Sequence[str]) -> str:
    cells = [c for c in full if c != "code"]  # grouped by code already
    groups = _by_code(rejects, cells)
    overview = [
        (g["code"], CODE_ADVICE.get(g["code"], ""), g["count"])
        for g in groups.iter_rows(named=True)
    ]
    parts = [
        f"<h2>Rejects by reason ({rejects.height:,} in all)</h2>",
        _table(("reason", "what it means", "count"), overview, numeric=1),
    ]
    for group in groups.iter_rows(named=True):
        shown = min(group["count"], EXAMPLES_PER_CODE)
        examples = [tuple(e[c] for c in cells) for e in group["examples"]]
        parts.append(
            f"<h3 id='code-{_esc(group['code'])}'><code>{_esc(group['code'])}</code>: "
            f"{group['count']:,} (first {shown} shown)</h3>"
        )
        parts.append(_table(cells, examples))
    return "".join(parts)


def _full(rejects: pl.DataFrame, full: Sequence[str]) -> str:
    parts = ["<h2>All rejects</h2>"]
    if rejects.height > ROW_LIMIT:
        parts.append(
            f"<p class='note'>The first {ROW_LIMIT:,} of {rejects.height:,} are shown. "
            "<a href='rejects.csv'>rejects.csv</a> beside this file has them all.</p>"
        )
    rows = rejects.head(ROW_LIMIT).select(full).iter_rows()
    return "".join(parts) + _table(full, list(rows))


def render_html(batch: BatchRecord, rejects: pl.DataFrame) -> str:
    """The whole page: summary, rejects grouped by reason, then the (capped) full table."""
    body = _summary(batch)
    if rejects.height:
        # A pulled batch's rejects are named by query, record and key (render.locations).
        pulled = locations.pulled(batch)
        located, full = locations.locate(rejects, pulled), locations.columns(pulled)
        body += _grouped(located, full) + _full(located, full)
    else:
        body += "<h2>Rejects</h2><p>None.</p>"
    title = f"Roster batch {_esc(batch.batch_id)} ({_esc(batch.status)})"
    return page(title, _STYLE, body)
