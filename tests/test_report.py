"""Reject reports people read: HTML rendered by a real browser, CSV safe in a spreadsheet."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from roster_pipeline.contracts import rejects
from roster_pipeline.contracts.rejects import Code
from roster_pipeline.render import report
from roster_pipeline.render.report_html import CODE_ADVICE, ROW_LIMIT
from roster_pipeline.store import BatchRecord, BatchStatus, FileRecord, TableCounts
from tests.browser import Rendered, dump_dom, screenshot
from tests.helpers import Roster, as_json

NASTY = "<script>alert(1)</script>"
FORMULAS = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def _batch(n_rejects: int, district: str = "lincoln") -> BatchRecord:
    return BatchRecord(
        batch_id="20261122T030012Z-lincoln-abc123",
        district=district,
        status=BatchStatus.LOADED_WITH_REJECTS,
        received_at=datetime(2026, 11, 22, 3, 0, 12, tzinfo=UTC),
        finished_at=datetime(2026, 11, 22, 3, 0, 20, tzinfo=UTC),
        source="lincoln.zip",
        files=(
            FileRecord("users.csv", "users", "0" * 64, 1234, rows=262_000, rejected=n_rejects),
            FileRecord("notes.txt", None, "1" * 64, 10),
        ),
        counts={"users": TableCounts(added=261_000, updated=7, deleted=3, rejected=n_rejects)},
        rejects=n_rejects,
        warnings=(f"users.csv: extra columns ignored: {NASTY}",),
        message="loaded; some row(s) rejected",
    )


def _rows(values: list[str]) -> pl.DataFrame:
    n = len(values)
    return pl.DataFrame(
        {
            "file": ["users.csv"] * n,
            "line": list(range(2, n + 2)),
            "column": ["first_name"] * n,
            "value": values,
            "code": [str(Code.TOO_LONG)] * (n - 1) + [str(Code.PATTERN)],
            "message": [f"users.csv line {i + 2}: {v} is wrong" for i, v in enumerate(values)],
        },
        schema=rejects.SCHEMA,
    )


def test_html_renders_in_chromium_with_values_as_text(tmp_path: Path) -> None:
    frame = _rows([NASTY, "José & Zoë", *FORMULAS])
    page = report.write_all(_batch(frame.height, district=f"lincoln {NASTY}"), frame, tmp_path)
    seen = Rendered(dump_dom(page, tmp_path / "profile"))
    assert "script" not in seen.tags  # escaped: the browser built no script element
    text = seen.text
    assert f"Roster batch report: lincoln {NASTY}" in text
    assert NASTY in text
    assert "José & Zoë" in text
    for fact in ("20261122T030012Z-lincoln-abc123", "2026-11-22 03:00:12 UTC", "lincoln.zip"):
        assert fact in text
    assert "loaded_with_rejects" in text
    assert "extra columns ignored" in text
    assert "users.csv users 262,000 8" in text  # file, table, rows, rows rejected
    assert "notes.txt (matches no file of the spec)" in text
    assert "users 261,000 7 3 0 8" in text  # added, updated, deleted, unchanged, rejected
    assert f"too_long {CODE_ADVICE[Code.TOO_LONG]} 7" in text
    assert "too_long: 7 (first 5 shown)" in text
    assert "pattern: 1 (first 1 shown)" in text
    shot = screenshot(page, tmp_path / "profile", "report.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_html_is_self_contained(tmp_path: Path) -> None:
    page = report.render(_batch(2), _rows(["a", "b"]), "html")
    assert "default-src 'none'" in page  # the browser may fetch nothing, run nothing
    for outside in ("http://", "https://", "<script", "<link", "src=", "@import"):
        assert outside not in page


def test_million_rejects_stay_a_small_usable_page(tmp_path: Path) -> None:
    n = 1_000_000
    frame = pl.DataFrame({"i": pl.int_range(n, eager=True)}).select(
        file=pl.lit("enrollments.csv"),
        line=pl.col("i").cast(pl.Int64) + 2,
        column=pl.lit("student_id"),
        value=pl.col("i").cast(pl.String),
        code=pl.when(pl.col("i") % 2 == 0)
        .then(pl.lit("reference_missing"))
        .otherwise(pl.lit("pattern")),
        message=pl.format("enrollments.csv line {}: student_id matches nothing", pl.col("i") + 2),
    )
    page = report.write_all(_batch(n), frame, tmp_path)
    size = page.stat().st_size
    print(f"\nHTML report for {n:,} rejects: {size / 1024:,.0f} KiB")
    assert size < 1024 * 1024
    text = Rendered(dump_dom(page, tmp_path / "profile")).text
    assert f"The first {ROW_LIMIT:,} of 1,000,000 are shown. rejects.csv beside this file" in text
    assert "reference_missing: 500,000 (first 5 shown)" in text
    assert (tmp_path / "rejects.csv").stat().st_size > 50 * size  # the CSV has them all


def test_csv_neutralises_formulas_and_opens_in_excel_as_utf8(tmp_path: Path) -> None:
    frame = _rows(["José", "plain", *FORMULAS])
    report.write_all(_batch(frame.height), frame, tmp_path)
    raw = (tmp_path / "rejects.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == list(report.REJECT_COLUMNS)
    values = [r[3] for r in rows[1:]]
    assert values == ["José", "plain", *(f"'{f}" for f in FORMULAS)]
    for row in rows[1:]:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row)


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_render_neutralises_every_formula_start(start: str) -> None:
    text = report.render(_batch(1), _rows([f"{start}cmd"]), "csv")
    row = next(csv.reader(io.StringIO(text.split("\n", 1)[1])))
    assert row[3] == f"'{start}cmd"


def test_text_report_names_files_and_counts() -> None:
    text = report.render(_batch(2), _rows(["a", "b"]), "text")
    assert "received 2026-11-22 03:00:12 UTC from lincoln.zip" in text
    assert "users.csv: 262,000 rows, 2 rejected (users)" in text
    assert "users: 261,000 added, 7 updated, 3 deleted, 0 unchanged, 2 rejected" in text


def test_every_code_has_advice() -> None:
    assert set(CODE_ADVICE) == {str(c) for c in Code}


def test_processed_bad_sample_report_in_chromium(
    roster: Roster, samples: Path, tmp_path: Path
) -> None:
    roster("district", "add", "lincoln")
    done = as_json(roster("process", samples / "bad", "--district", "lincoln", "--json"))
    page = Path(done["report"])
    text = Rendered(dump_dom(page, tmp_path / "profile")).text
    assert f"Rejects by reason ({done['rejects']:,} in all)" in text
    assert "classes.csv 3 teacher_id 000426 reference_mismatch" in text
    assert (page.parent / "rejects.csv").is_file()
