"""What ops do: hold/approve/discard/reprocess, per-file duplicates, retention, status."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from roster_pipeline import districts
from roster_pipeline.cli.exits import ExitCode
from roster_pipeline.home import Home
from roster_pipeline.service import batches, retention, worker
from roster_pipeline.service.alerts import Alerts
from roster_pipeline.service.worker import queue_for
from roster_pipeline.store.queue import worker_name
from tests.helpers import Roster, as_json, process_json
from tests.service_helpers import open_home, publish, wait_for

pytestmark = pytest.mark.timeout(120)


def _held(roster: Roster, samples: Path) -> str:
    """next-night, then good.zip: 2 of 11 enrollments deleted (18%) is held."""
    assert roster("district", "add", "lincoln").exit_code == 0
    process_json(roster, samples / "next-night")
    held = process_json(roster, samples / "good.zip", code=3)
    assert held["status"] == "held"
    return str(held["batch_id"])


def _enrollments(roster: Roster) -> int:
    return len(as_json(roster("export", "lincoln", "enrollments", "--format", "json")))


def _status_of(roster: Roster, batch_id: str) -> str:
    listing = as_json(roster("batches", "--json"))
    return str(next(b["status"] for b in listing if b["batch_id"] == batch_id))


def _changes(root: Path, store_url: str, batch_id: str) -> list[tuple[str, ...]]:
    with open_home(root, ROSTER_DATABASE_URL=store_url) as home:
        frame = home.store.changes(batch_id)
    return [tuple(r) for r in frame.iter_rows()]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "home"  # the home the roster fixture runs in


def test_approve_applies_a_held_batch_under_its_own_id(
    roster: Roster, samples: Path, root: Path, store_url: str
) -> None:
    batch_id = _held(roster, samples)
    assert _enrollments(roster) == 11  # nothing applied while held
    result = roster("batch", "approve", batch_id)
    assert result.exit_code == 0, result.output
    assert _status_of(roster, batch_id) == "loaded"
    assert _enrollments(roster) == 9
    deleted = [c for c in _changes(root, store_url, batch_id) if c[2] == "deleted"]
    assert {c[0] for c in deleted} >= {"enrollments"}
    again = roster("batch", "approve", batch_id)
    assert again.exit_code == ExitCode.USAGE
    assert "only a held batch" in again.output


def test_discard_drops_a_held_batch(
    roster: Roster, samples: Path, root: Path, store_url: str
) -> None:
    batch_id = _held(roster, samples)
    assert roster("batch", "discard", batch_id).exit_code == 0
    assert _status_of(roster, batch_id) == "discarded"
    assert _enrollments(roster) == 11
    assert _changes(root, store_url, batch_id) == []
    assert roster("batch", "approve", batch_id).exit_code == ExitCode.USAGE


def test_reprocess_runs_archived_files_as_a_new_batch(roster: Roster, samples: Path) -> None:
    batch_id = _held(roster, samples)
    result = roster("batch", "reprocess", batch_id)
    assert result.exit_code == 3, result.output  # held again: the same deletions
    listing = as_json(roster("batches", "--json"))
    assert [b["status"] for b in listing] == ["held", "held", "loaded"]
    assert listing[0]["batch_id"] != batch_id
    assert roster("batch", "reprocess", "no-such-batch").exit_code == ExitCode.NOT_FOUND


def test_a_file_equal_to_the_last_loaded_one_is_recorded_not_reprocessed(
    roster: Roster, samples: Path, tmp_path: Path
) -> None:
    roster("district", "add", "lincoln")
    process_json(roster, samples / "good.zip")
    mixed = tmp_path / "mixed"
    shutil.copytree(samples / "good", mixed)
    shutil.copy(samples / "next-night" / "users.csv", mixed / "users.csv")
    data = process_json(roster, mixed)
    assert data["status"] == "loaded"
    counts = data["counts"]
    assert isinstance(counts, dict)
    assert counts["users"]["added"] == 1
    assert counts["classes"] == {
        "added": 0, "updated": 0, "deleted": 0, "unchanged": 4, "rejected": 0, "left_out": 0,
    }  # fmt: skip
    files = {f["name"]: f["rows"] for f in data["files"]}  # type: ignore[attr-defined]
    assert files["classes.csv"] == 0  # recorded, not parsed again
    assert files["users.csv"] == 13
    report = json.loads((Path(str(data["report"])).parent / "report.json").read_text())
    assert any("identical to the last loaded file" in w for w in report["warnings"])


def test_retention_purges_old_folders_and_keeps_the_records(
    roster: Roster, samples: Path, root: Path, store_url: str
) -> None:
    roster("district", "add", "lincoln")
    batch_id = str(process_json(roster, samples / "good.zip")["batch_id"])
    folder = root / "archive" / batch_id
    assert "0 batch folder(s) purged" in roster("purge").output
    assert folder.is_dir()
    assert roster("district", "set", "lincoln", "--retention-days", "60").exit_code == 0
    now = datetime.now(UTC)
    with open_home(root, ROSTER_DATABASE_URL=store_url) as home:
        assert retention.purge(home, now + timedelta(days=31)) == []
        (gone,) = retention.purge(home, now + timedelta(days=61))
        assert (gone.batch_id, gone.district, gone.folder) == (batch_id, "lincoln", "archive")
        assert not folder.exists()
        assert home.store.batch(batch_id).status == "loaded"
        assert home.store.changes(batch_id).height > 0


def test_status_exit_codes_stale_held_and_paused(roster: Roster, samples: Path) -> None:
    roster("district", "add", "lincoln")
    fresh = roster("status", "--json")
    assert fresh.exit_code == 0, fresh.output
    process_json(roster, samples / "good.zip")
    (lincoln,) = as_json(roster("status", "--json"))["districts"]
    assert lincoln["rows"]["users"] == 12
    assert lincoln["latest_status"] == "loaded"
    assert lincoln["stale"] is False
    assert roster("district", "set", "lincoln", "--expect-every", "0.0003").exit_code == 0

    def stale() -> bool:
        return roster("status").exit_code == 1

    wait_for(stale, "the district to go stale", timeout=30)  # 0.0003 h is about a second
    assert "STALE" in roster("status").output
    assert roster("district", "set", "lincoln", "--pause").exit_code == 0
    assert roster("status").exit_code == 0  # a paused district is never stale
    assert roster("district", "set", "lincoln", "--resume", "--expect-every", "26").exit_code == 0
    assert roster("status").exit_code == 0
    process_json(roster, samples / "next-night")
    process_json(roster, samples / "good.zip", code=3)
    held = roster("status", "--json")
    assert held.exit_code == 1
    assert len(as_json(held)["districts"][0]["held"]) == 1


def test_district_set_refuses_nonsense(roster: Roster) -> None:
    roster("district", "add", "lincoln")
    result = roster("district", "set", "lincoln", "--max-delete-pct", "150")
    assert result.exit_code == ExitCode.USAGE
    assert "max_delete_pct must be between 0 and 100" in result.output
    assert roster("district", "set", "nowhere", "--pause").exit_code == ExitCode.NOT_FOUND


def test_a_district_threshold_lets_a_big_change_through(roster: Roster, samples: Path) -> None:
    roster("district", "add", "lincoln")
    assert roster("district", "set", "lincoln", "--max-delete-pct", "50").exit_code == 0
    process_json(roster, samples / "next-night")
    assert process_json(roster, samples / "good.zip")["status"] == "loaded"  # 18% < 50%


def _assembled(root: Path, store_url: str, samples: Path) -> tuple[Home, str]:
    home = open_home(root, ROSTER_DATABASE_URL=store_url)
    districts.add_district(home, "lincoln")
    for name in ("schools.csv", "users.csv", "classes.csv", "enrollments.csv"):
        publish(root, "lincoln", name, (samples / "good" / name).read_bytes())
    queue = queue_for(home.store, "host:1:assembler", 60)
    later = datetime.now(UTC).timestamp() + 3600  # past any settle period
    assert batches.assemble_ready(home, queue, now=later) is None
    (batch,) = home.store.batches("lincoln")
    return home, batch.batch_id


def test_a_worker_runs_an_assembled_batch_and_archives_it(
    root: Path, store_url: str, samples: Path
) -> None:
    home, batch_id = _assembled(root, store_url, samples)
    with home:
        assert list((root / "inbox" / "lincoln").iterdir()) == []
        folder = root / "processing" / batch_id
        assert sorted(p.name for p in (folder / "files").iterdir()) == [
            "classes.csv", "enrollments.csv", "schools.csv", "users.csv",
        ]  # fmt: skip
        manifest = batches.Manifest.read(folder)
        assert manifest.district == "lincoln"
        assert all(len(f.sha256) == 64 for f in manifest.files)
        done = worker.run_next(home, queue_for(home.store, worker_name("w"), 60), Alerts(""))
        assert done is not None
        assert (done.batch_id, done.status) == (batch_id, "loaded")
        assert not folder.exists()
        assert (root / "archive" / batch_id / "raw" / "users.csv").is_file()
        assert (root / "archive" / batch_id / "manifest.json").is_file()
        assert home.store.table_counts("lincoln")["enrollments"] == 9


def test_a_batch_whose_worker_keeps_dying_is_moved_to_failed(
    root: Path, store_url: str, samples: Path
) -> None:
    home, batch_id = _assembled(root, store_url, samples)
    with home:
        queue = queue_for(home.store, "host:2:worker", 60)
        now = datetime.now(UTC)
        for attempt in range(worker.MAX_ATTEMPTS + 1):  # each claim expired: a dead worker
            claim = queue.claim(now=now + timedelta(minutes=2 * attempt))
        assert claim is not None
        assert claim.attempts == worker.MAX_ATTEMPTS + 1
        final = worker.run_claim(home, queue, claim, Alerts(""))
        assert final.status == "rejected"
        assert "died" in final.message
        assert home.store.batch(batch_id).status == "rejected"
        failed = root / "failed" / batch_id
        assert "died" in (failed / "reason.txt").read_text()
        assert (failed / "files" / "users.csv").is_file()  # kept for ops
        assert home.store.table_counts("lincoln")["users"] == 0


def test_one_districts_broken_setup_does_not_hold_up_the_others(
    root: Path, store_url: str, samples: Path
) -> None:
    home, _ = _assembled(root, store_url, samples)
    with home:
        broken = districts.add_district(home, "broken").district
        home.store.put_district(replace(broken, spec="no-such-spec"))
        districts.add_district(home, "fine")
        for slug in ("broken", "fine"):
            publish(root, slug, "good.zip", (samples / "good.zip").read_bytes())
        queue = queue_for(home.store, "host:1:assembler", 60)
        later = datetime.now(UTC).timestamp() + 3600
        batches.assemble_ready(home, queue, now=later)
        assert len(home.store.batches("fine")) == 1
        assert home.store.batches("broken") == []
        assert len(list((root / "inbox" / "broken").iterdir())) == 1  # kept, not lost


def test_an_upload_replaced_by_a_later_one_of_the_same_name_is_kept_and_reported(
    root: Path, store_url: str, samples: Path
) -> None:
    home = open_home(root, ROSTER_DATABASE_URL=store_url)
    with home:
        districts.add_district(home, "lincoln")
        first = publish(root, "lincoln", "users.csv", b"district_user_id\nbroken\n")
        for name in ("schools.csv", "users.csv", "classes.csv", "enrollments.csv"):
            publish(root, "lincoln", name, (samples / "good" / name).read_bytes())
        queue = queue_for(home.store, "host:1:assembler", 60)
        batches.assemble_ready(home, queue, now=datetime.now(UTC).timestamp() + 3600)
        done = worker.run_next(home, queue_for(home.store, worker_name("w"), 60), Alerts(""))
        assert done is not None
        assert done.status == "loaded", done.message  # the later, good users.csv was used
        stored = home.store.batch(done.batch_id)
        assert any(first.name in w and "not loaded" in w for w in stored.warnings)
        kept = root / "archive" / done.batch_id / "superseded" / first.name
        assert kept.read_bytes() == b"district_user_id\nbroken\n"
