"""History and rollback from the command line: rollback and its refusals, export
--as-of, roster history, the referential cascade, the district claim, kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from roster_pipeline.config import load_settings
from roster_pipeline.contracts import rejects
from roster_pipeline.errors import ConflictError
from roster_pipeline.home import Home
from roster_pipeline.service import retention
from roster_pipeline.store import BatchRecord, BatchStatus, Store, worker_name
from tests.helpers import SAMPLES, Roster, as_json, process_json, write_night
from tests.service_helpers import ROSTER, wait_for

TEACHERS = [
    ("T1", "Ada", "Lovelace", "Teacher", "", ""),
    ("T2", "Alan", "Turing", "Teacher", "", ""),
]


def two_nights(roster: Roster) -> tuple[str, str]:
    """lincoln's sample first load and next night; their batch ids."""
    first = process_json(roster, SAMPLES / "good")
    second = process_json(roster, SAMPLES / "next-night")
    return str(first["batch_id"]), str(second["batch_id"])


def export(roster: Roster, table: str, *extra: str) -> str:
    result = roster("export", "lincoln", table, *extra)
    assert result.exit_code == 0, result.output
    return result.stdout


def tables(roster: Roster, *extra: str) -> dict[str, str]:
    return {t: export(roster, t, *extra) for t in ("users", "classes", "enrollments", "schools")}


@pytest.fixture
def lincoln(roster: Roster) -> Roster:
    assert roster("district", "add", "lincoln").exit_code == 0
    return roster


def test_rollback_restores_the_tables_logs_compensations_and_holds_the_next(
    lincoln: Roster, tmp_path: Path
) -> None:
    first, second = two_nights(lincoln)
    after_first, after_second = tables(lincoln, "--as-of", first), tables(lincoln)
    assert after_first != after_second
    dry = lincoln("batch", "rollback", second, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert f"would roll back {second} (lincoln): enrollments: 2 removed; users: 1 removed," \
        " 1 restored" in dry.stdout  # fmt: skip
    assert tables(lincoln) == after_second  # a dry run changes nothing
    done = lincoln("batch", "rollback", second[:-3])
    assert done.exit_code == 0, done.output
    assert "next batch of lincoln will be held for review" in done.stdout
    assert tables(lincoln) == after_first
    assert tables(lincoln, "--as-of", second) == after_second  # as it stood then
    listed = as_json(lincoln("batches", "--json"))
    assert [b["status"] for b in listed] == ["rolled_back", "loaded"]
    again = process_json(lincoln, SAMPLES / "next-night", code=3)
    assert again["status"] == "held"
    approved = lincoln("batch", "approve", str(again["batch_id"]))
    assert approved.exit_code == 0, approved.output
    assert tables(lincoln) == after_second


def test_the_change_log_shows_the_compensating_changes(
    lincoln: Roster, store_url: str, tmp_path: Path
) -> None:
    _, second = two_nights(lincoln)
    with Home(load_settings(env={}, home=tmp_path / "home", database_url=store_url)) as home:
        before = home.store.changes(second).sort("table", "key").rows()
        assert lincoln("batch", "rollback", second).exit_code == 0
        versions = home.store.versions()
        spans = versions.spans("lincoln")
        assert [s.kind for s in spans] == ["apply", "apply", "rollback"]
        undo = versions.changes(spans[-1]).sort("table_name", "key")
        reverse = {"added": "deleted", "deleted": "added", "updated": "updated"}
        assert [(t, k, reverse[o]) for t, k, o in before] == undo.select(
            "table_name", "key", "op"
        ).rows()
        assert home.store.changes(second).sort("table", "key").rows() == before  # its own stay


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("twice", "is already rolled back; nothing was changed"),
        ("held", "is held: it applied nothing, so there is nothing to roll back"),
        ("other", "belongs to district lincoln, not harbor; nothing was changed"),
    ],
)
def test_rollback_refusals_change_nothing(lincoln: Roster, setup: str, message: str) -> None:
    _, second = two_nights(lincoln)
    target = second
    if setup == "twice":
        assert lincoln("batch", "rollback", second).exit_code == 0
    if setup == "held":
        lincoln("district", "set", "lincoln", "--max-delete-pct", "0")
        held = process_json(lincoln, SAMPLES / "good", code=3)
        target = str(held["batch_id"])
    before = tables(lincoln)
    extra = ("--district", "harbor") if setup == "other" else ()
    result = lincoln("batch", "rollback", target, *extra)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert tables(lincoln) == before


def test_unknown_batch_is_not_found(lincoln: Roster) -> None:
    result = lincoln("batch", "rollback", "nosuchbatch")
    assert result.exit_code == 4
    assert "no batch 'nosuchbatch'" in result.output


def test_later_batches_on_the_same_rows_are_named_unless_cascade(
    lincoln: Roster, tmp_path: Path
) -> None:
    first, second = two_nights(lincoln)
    third_night = write_night(
        tmp_path / "third",
        [*TEACHERS, ("000421", "Zoe", "Brown-Ellis", "Student", "", "8")],
        [("S200-MATH7", "Math 7", "T1")],
        [("S200-MATH7", "000421")],
    )
    lincoln("district", "set", "lincoln", "--max-delete-pct", "100", "--max-update-pct", "100")
    third = str(process_json(lincoln, third_night)["batch_id"])
    before = tables(lincoln)
    refused = lincoln("batch", "rollback", second)
    assert refused.exit_code == 2
    assert f"later batches of lincoln changed the same rows: {third}" in refused.output
    assert tables(lincoln) == before
    done = lincoln("batch", "rollback", second, "--cascade")
    assert done.exit_code == 0, done.output
    assert done.stdout.index(third) < done.stdout.index(second)  # newest first
    assert tables(lincoln) == tables(lincoln, "--as-of", first)


def test_export_as_of_refuses_a_batch_that_applied_nothing(lincoln: Roster) -> None:
    two_nights(lincoln)
    rejected = process_json(lincoln, SAMPLES / "broken" / "not-utf8", code=1)
    result = lincoln("export", "lincoln", "users", "--as-of", str(rejected["batch_id"]))
    assert result.exit_code == 2
    assert "is rejected: it applied nothing" in result.output


def test_history_of_a_student_across_nights(lincoln: Roster) -> None:
    first, second = two_nights(lincoln)
    lincoln("batch", "rollback", second)
    text = lincoln("history", "lincoln", "000421")
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert lines[0] == "users 000421 of lincoln"
    assert f"{second}  users updated: last_name: Brown -> Brown-Ellis" in text.stdout
    assert f"{second}  users updated (rollback of this batch): last_name: Brown-Ellis -> Brown" in (
        text.stdout
    )
    assert lines[-1].startswith("now: district_user_id=000421, first_name=Zoë, last_name=Brown,")
    data = as_json(lincoln("history", "lincoln", "000421", "--json"))
    assert [(c["op"], c["rollback"]) for c in data["changes"] if c["table"] == "users"] == [
        ("added", False), ("updated", False), ("updated", True),
    ]  # fmt: skip
    assert data["changes"][0]["batch_id"] == first


def test_history_by_name_fragment_and_its_refusals(lincoln: Roster) -> None:
    two_nights(lincoln)
    found = lincoln("history", "lincoln", "brown-ell")
    assert found.exit_code == 0, found.output
    assert "found by name" in found.stdout
    several = lincoln("history", "lincoln", "Lincoln")  # every e-mail of the district
    assert several.exit_code == 2
    assert "name one by its key" in several.output
    none = lincoln("history", "lincoln", "nobody-at-all")
    assert none.exit_code == 4
    assert "has no 'nobody-at-all'" in none.output
    unknown = lincoln("history", "nowhere", "000421")
    assert unknown.exit_code == 4


def test_deleting_a_user_deletes_its_enrollments_in_the_same_plan(
    lincoln: Roster, tmp_path: Path
) -> None:
    students = [(f"S{i}", "Pat", "Doe", "Student", "", "5") for i in range(1, 21)]
    night = write_night(
        tmp_path / "one", [*TEACHERS, *students], [("C1", "Art", "T1"), ("C2", "Music", "T2")],
        [(c, s[0]) for s in students for c in ("C1", "C2")],
    )  # fmt: skip
    process_json(lincoln, night)
    users_only = tmp_path / "two"
    users_only.mkdir()
    lines = (night / "users.csv").read_text().splitlines(keepends=True)
    (users_only / "users.csv").write_text("".join(lines[:-1]))  # S20 leaves
    for name in ("schools", "classes", "enrollments"):
        (users_only / f"{name}.csv").write_bytes((night / f"{name}.csv").read_bytes())
    data = process_json(lincoln, users_only)  # files identical to last night are skipped
    counts = data["counts"]
    assert isinstance(counts, dict)
    assert counts["users"]["deleted"] == 1
    assert counts["enrollments"]["deleted"] == 2
    shown = lincoln("report", str(data["batch_id"]))
    assert "users: deleting 1 row(s) also deletes the 2 enrollment(s)" in shown.stdout
    assert "S20" not in export(lincoln, "enrollments")


def hold_reasons(roster: Roster, batch_id: object) -> list[str]:
    found = [b for b in as_json(roster("batches", "--json")) if b["batch_id"] == batch_id]
    return list(found[0]["hold_reasons"])


def test_a_cascade_counts_in_the_hold_thresholds(lincoln: Roster, tmp_path: Path) -> None:
    students = [(f"S{i}", "Pat", "Doe", "Student", "", "5") for i in range(1, 21)]
    enrolled = [("C1", s[0]) for s in students]
    night = write_night(tmp_path / "one", [*TEACHERS, *students], [("C1", "Art", "T1")], enrolled)
    process_json(lincoln, night)
    lincoln("district", "set", "lincoln", "--max-delete-pct", "9.5")
    # S1 and S2 leave (2 of 22 users: 9.1%); the enrollments file still names them, so
    # those rows are rejected, and the cascade deletes them: 2 of 20 (10%).
    lower = write_night(tmp_path / "two", [*TEACHERS, *students[2:]], [("C1", "Art", "T1")],
                        enrolled)  # fmt: skip
    held = process_json(lincoln, lower, code=3)
    assert hold_reasons(lincoln, held["batch_id"]) == [
        "enrollments: 2 of 20 loaded rows (10.0%) would be deleted; the limit is 9.5%"
    ]
    assert "C1,S1" in export(lincoln, "enrollments")  # held: nothing applied


def test_a_class_losing_its_teacher_is_held(lincoln: Roster, tmp_path: Path) -> None:
    students = [(f"S{i}", "Pat", "Doe", "Student", "", "5") for i in range(1, 5)]
    night = write_night(
        tmp_path / "one", [*TEACHERS, *students], [("C1", "Art", "T1"), ("C2", "Music", "T2")],
        [("C1", "S1")],
    )  # fmt: skip
    process_json(lincoln, night)
    users_only = tmp_path / "two"
    users_only.mkdir()
    lines = (night / "users.csv").read_text().splitlines(keepends=True)
    (users_only / "users.csv").write_text(lines[0] + "".join(lines[2:]))  # T1 leaves
    for name in ("schools", "classes", "enrollments"):
        (users_only / f"{name}.csv").write_bytes((night / f"{name}.csv").read_bytes())
    lincoln("district", "set", "lincoln", "--max-delete-pct", "100")
    held = process_json(lincoln, users_only, code=3)
    assert hold_reasons(lincoln, held["batch_id"]) == [
        "classes: 1 class(es) (C1) would keep a primary teacher this batch deletes; send the"
        " classes with their new teachers, or approve to keep them"
    ]
    counts = held["counts"]
    assert isinstance(counts, dict)
    assert counts["class_teachers"]["deleted"] == 1  # its teacher link goes with T1


def test_a_claimed_district_is_not_rolled_back_or_applied(store: Store) -> None:
    queue = store.queue(worker_name("test"), 300)
    other = store.queue("elsewhere:1:rollback", 300)
    received = BatchRecord("b1", "lincoln", BatchStatus.RECEIVED, received_at=datetime.now(UTC))
    store.save_batch(received, rejects.empty())
    other.claim_district("lincoln", "a rollback of batch b0")
    assert queue.claim() is None  # its batches wait
    with pytest.raises(ConflictError, match="district lincoln is busy"):
        queue.claim_district("lincoln", "a rollback of batch b2")
    other.release_district("lincoln")
    claim = queue.claim()
    assert claim is not None
    assert claim.batch_id == "b1"
    with pytest.raises(ConflictError, match="batch b1 of district lincoln is being processed"):
        other.claim_district("lincoln", "a rollback of batch b0")


def test_kill_9_during_a_rollback_leaves_before_or_after(
    roster: Roster, store_url: str, tmp_path: Path
) -> None:
    assert roster("district", "add", "lincoln").exit_code == 0
    students = [(f"S{i:05d}", "Pat", "Doe", "Student", "", "5") for i in range(6000)]
    classes = [(f"C{i}", f"Class {i}", "T1") for i in range(40)]
    enrolled = [(f"C{i % 40}", s[0]) for i, s in enumerate(students)]
    process_json(roster, write_night(tmp_path / "one", [*TEACHERS, *students], classes, enrolled))
    renamed = [(s[0], "Pat", "Roe", *s[3:]) for s in students]
    roster("district", "set", "lincoln", "--max-update-pct", "100", "--max-delete-pct", "100")
    second = str(
        process_json(roster, write_night(tmp_path / "two", [*TEACHERS, *renamed], classes, []))[
            "batch_id"
        ]
    )
    after = tables(roster)
    before = tables(roster, "--as-of", str(as_json(roster("batches", "--json"))[1]["batch_id"]))
    home = tmp_path / "home"
    child = subprocess.Popen(
        [*ROSTER, "--home", str(home), "--db", store_url, "batch", "rollback", second],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    with Home(load_settings(env={}, home=home, database_url=store_url)) as watcher:
        engine = watcher.store.versions().engine

        def claimed() -> bool:
            if child.poll() is not None:
                return True
            return bool(engine.rows("SELECT COUNT(*) FROM district_claims")[0][0])

        wait_for(claimed, "the rollback to take the district's claim", 60)
        time.sleep(0.15)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        status = watcher.store.batch(second).status
    now = tables(roster)
    assert now in (before, after)
    assert (now == before) == (status == BatchStatus.ROLLED_BACK)
    if now == after:  # killed inside: run it again after the "restart"
        again = roster("batch", "rollback", second)
        assert again.exit_code == 0, again.output
    assert tables(roster) == before


def test_history_says_a_rejected_version_left_the_loaded_one(
    lincoln: Roster, tmp_path: Path
) -> None:
    process_json(lincoln, SAMPLES / "good")
    night = tmp_path / "night"
    night.mkdir()
    for f in (SAMPLES / "good").iterdir():
        (night / f.name).write_bytes(f.read_bytes())
    users = (night / "users.csv").read_text(encoding="utf-8")
    (night / "users.csv").write_text(
        users.replace("000421,Zoë,Brown,Student,,7,200", "000421,Zoë,Brown,Student,zoe at x,7,200"),
        encoding="utf-8",
    )
    rejected = str(process_json(lincoln, night)["batch_id"])
    text = lincoln("history", "lincoln", "000421").stdout
    assert (
        f"{rejected}  its row rejected, the version loaded before stays: users.csv line 9 email"
        " [pattern]" in text
    )
    data = as_json(lincoln("history", "lincoln", "000421", "--json"))
    # Its own row's reject, and its enrollment's (read again as the users changed).
    assert sorted(
        (r["batch_id"], r["file"], r["code"], r["kept_loaded"]) for r in data["rejects"]
    ) == [
        (rejected, "enrollments.csv", "reference_rejected", False),
        (rejected, "users.csv", "pattern", True),
    ]


def test_a_user_back_the_next_night_gets_its_enrollments_back(
    lincoln: Roster, tmp_path: Path
) -> None:
    students = [(f"S{i}", "Pat", "Doe", "Student", "", "5") for i in range(1, 21)]
    classes = [("C1", "Art", "T1")]
    enrolled = [("C1", s[0]) for s in students]
    process_json(lincoln, write_night(tmp_path / "one", [*TEACHERS, *students], classes, enrolled))
    # S20 is gone for a night; the enrollments file is the same all along.
    gone = process_json(
        lincoln, write_night(tmp_path / "two", [*TEACHERS, *students[:-1]], classes, enrolled)
    )
    assert "C1,S20" not in export(lincoln, "enrollments")
    counts = gone["counts"]
    assert isinstance(counts, dict)
    assert counts["enrollments"]["deleted"] == 1
    process_json(
        lincoln, write_night(tmp_path / "three", [*TEACHERS, *students], classes, enrolled)
    )
    assert "C1,S20" in export(lincoln, "enrollments")


def test_row_versions_go_with_the_archive_after_the_retention(
    lincoln: Roster, tmp_path: Path, store_url: str
) -> None:
    first, second = two_nights(lincoln)
    now = tables(lincoln)
    assert tables(lincoln, "--as-of", first) != now  # the images are there
    settings = load_settings(home=tmp_path / "home", database_url=store_url)
    with Home(settings) as home:  # a purge run a day after the 30 days archives are kept
        retention.purge(home, datetime.now(UTC) + timedelta(days=31))
    refused = lincoln("batch", "rollback", second)
    assert refused.exit_code == 2
    assert f"batch {second} is older than the district's retention" in refused.output
    assert tables(lincoln) == now  # nothing changed
    as_of = lincoln("export", "lincoln", "users", "--as-of", first)
    assert as_of.exit_code == 2
    assert "before-images were purged" in as_of.output
