"""Samples are tests: each bad sample's reject report is checked in and compared.

The expected reports live in samples/expected/<name>.json. After a deliberate
change of messages, regenerate them with ROSTER_REGENERATE_EXPECTED=1 and review
the diff like code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.helpers import Roster, as_json

CASES = {
    "bad": "bad",
    "not-utf8": "broken/not-utf8",
    "missing-column": "broken/missing-column",
    "empty-file": "broken/empty-file",
    "missing-file": "broken/missing-file",
    "truncated-zip": "broken/truncated.zip",
    "escaping-zip": "broken/escaping.zip",
    "oneroster-bad": "oneroster/bad",
    "oneroster-quirks": "oneroster/quirks",
    "oneroster-1.0": "oneroster/v1.0",
    "oneroster-zip-to-roster-csv": "oneroster/good.zip",
    "powerschool-tables": "powerschool-tables",
    "powerschool-tables-bad": "powerschool-tables-bad",
    "clever": "clever/good",
    "clever-bad": "clever/bad",
}
#: The contract a case's district is on, when it is not the default.
SPECS = {
    "oneroster-bad": "oneroster-1.1",
    "oneroster-quirks": "oneroster-1.1",
    "oneroster-1.0": "oneroster-1.1",
    "powerschool-tables": "powerschool",
    "powerschool-tables-bad": "powerschool",
    "clever": "clever",
    "clever-bad": "clever",
}


def _comparable(report: dict[str, object]) -> dict[str, object]:
    """The report without what differs per run (batch id)."""
    return {k: report[k] for k in ("status", "message", "warnings", "rejects")}


@pytest.mark.parametrize("name", sorted(CASES))
def test_sample_report_matches_expected(
    roster: Roster, samples: Path, tmp_path: Path, name: str
) -> None:
    roster("district", "add", "lincoln", "--spec", SPECS.get(name, "roster-csv"))
    # The reports are about each reject; the share of rejects that holds a batch has its
    # own tests (test_rosters), so it does not hide these rows behind a hold here.
    roster("district", "set", "lincoln", "--max-reject-pct", "100")
    processed = as_json(roster("process", samples / CASES[name], "--district", "lincoln", "--json"))
    report = as_json(roster("report", processed["batch_id"], "--format", "json"))
    actual = _comparable(report)
    expected_file = samples / "expected" / f"{name}.json"
    if os.environ.get("ROSTER_REGENERATE_EXPECTED") == "1":
        expected_file.write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n")
    assert actual == json.loads(expected_file.read_text(encoding="utf-8"))


def test_escaping_zip_writes_nothing_outside(roster: Roster, samples: Path, tmp_path: Path) -> None:
    roster("district", "add", "lincoln")
    before = set(tmp_path.rglob("*"))
    roster("process", samples / "broken" / "escaping.zip", "--district", "lincoln")
    created = {
        p for p in set(tmp_path.rglob("*")) - before if "home" not in p.relative_to(tmp_path).parts
    }
    assert created == set()
    assert not list((tmp_path / "home").rglob("cron.d"))
