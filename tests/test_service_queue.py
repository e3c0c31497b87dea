"""Batch claims through the database, on SQLite and PostgreSQL, with real worker processes."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from datetime import UTC, datetime, timedelta

import pytest

from roster_pipeline.contracts import rejects
from roster_pipeline.service.worker import queue_for
from roster_pipeline.store import BatchRecord, BatchStatus, DistrictRecord, Store, open_store
from roster_pipeline.store.queue import BatchQueue, worker_name

pytestmark = pytest.mark.timeout(120)

T0 = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def _receive(store: Store, batch_id: str, district: str, minute: int) -> None:
    received = T0 + timedelta(minutes=minute)
    store.save_batch(
        BatchRecord(batch_id, district, BatchStatus.RECEIVED, received), rejects.empty()
    )


def _finish(store: Store, batch_id: str) -> None:
    done = store.batch(batch_id)
    finished = datetime.now(UTC)
    store.save_batch(
        BatchRecord(done.batch_id, done.district, BatchStatus.LOADED, done.received_at, finished),
        rejects.empty(),
    )


def _queue(store: Store, holder: str = "host:1:test", claim_seconds: float = 300) -> BatchQueue:
    return queue_for(store, holder, claim_seconds)


def test_claims_follow_arrival_order_within_a_district(store: Store) -> None:
    store.put_district(DistrictRecord("a"))
    store.put_district(DistrictRecord("b"))
    _receive(store, "a2", "a", 2)
    _receive(store, "a1", "a", 1)
    _receive(store, "b1", "b", 3)
    queue = _queue(store)
    first = queue.claim()
    assert first is not None
    assert (first.batch_id, first.district, first.attempts) == ("a1", "a", 1)
    second = queue.claim()
    assert second is not None
    assert second.batch_id == "b1"  # a2 waits: a1 of the same district is in hand
    assert queue.claim() is None
    _finish(store, "a1")
    third = queue.claim()
    assert third is not None
    assert third.batch_id == "a2"


def test_a_batch_being_assembled_is_not_claimable_until_released(store: Store) -> None:
    store.put_district(DistrictRecord("a"))
    assembler = _queue(store, "host:1:assembler")
    assembler.receive(BatchRecord("a1", "a", BatchStatus.RECEIVED, T0))
    worker = _queue(store, "host:2:worker")
    assert worker.claim() is None
    assembler.release("a1")
    claim = worker.claim()
    assert claim is not None
    assert claim.batch_id == "a1"


def test_an_expired_claim_is_claimed_again_and_counts_attempts(store: Store) -> None:
    store.put_district(DistrictRecord("a"))
    _receive(store, "a1", "a", 1)
    first = _queue(store, "host:1:worker", claim_seconds=60)
    assert first.claim() is not None
    later = datetime.now(UTC) + timedelta(seconds=120)
    again = _queue(store, "host:2:worker").claim(now=later)
    assert again is not None
    assert (again.batch_id, again.attempts) == ("a1", 2)


def test_claims_of_dead_processes_of_this_host_are_released(store: Store) -> None:
    store.put_district(DistrictRecord("a"))
    _receive(store, "a1", "a", 1)
    _receive(store, "a2", "a", 2)
    dead = _queue(store, worker_name("worker"))
    assert dead.claim() is not None
    survivor = _queue(store, worker_name("service"))
    assert survivor.release_dead(alive=lambda pid: pid != os.getpid()) == ["a1"]
    assert store.batch("a1").status == BatchStatus.RECEIVED
    claim = survivor.claim()
    assert claim is not None
    assert claim.batch_id == "a1"


def _claim_loop(url: str, slow: str, claim_seconds: float) -> None:
    """A worker process: claim, 'process' (the first try of ``slow`` hangs), finish."""
    store = open_store(url)
    queue = _queue(store, worker_name("worker"), claim_seconds)
    idle_since = time.monotonic()
    while time.monotonic() - idle_since < 3.0:
        claim = queue.claim()
        if claim is None:
            time.sleep(0.02)
            continue
        if claim.batch_id == slow and claim.attempts == 1:
            time.sleep(3600)  # killed here by the test
        _finish(store, claim.batch_id)
        idle_since = time.monotonic()
    store.close()


def test_three_worker_processes_never_take_a_batch_twice(store: Store, store_url: str) -> None:
    districts = [f"d{i}" for i in range(10)]
    for slug in districts:
        store.put_district(DistrictRecord(slug))
    for n in range(30):
        _receive(store, f"b{n:02d}", districts[n % 10], n)
    slow = "b04"
    spawn = multiprocessing.get_context("spawn")
    workers = [spawn.Process(target=_claim_loop, args=(store_url, slow, 1.0)) for _ in range(3)]
    for process in workers:
        process.start()

    def slow_holder() -> int | None:
        rows = store.engine.rows(  # type: ignore[attr-defined]
            "SELECT claimed_by FROM batches WHERE batch_id = ? AND status = 'processing'",
            (slow,),
        )
        return int(rows[0][0].split(":")[1]) if rows else None

    deadline = time.monotonic() + 60
    while (holder := slow_holder()) is None:
        assert time.monotonic() < deadline, "the slow batch was never claimed"
        time.sleep(0.02)
    os.kill(holder, signal.SIGKILL)  # a worker dies holding a claim
    for process in workers:
        process.join(60)
    done = store.batches(limit=100)
    assert sorted(b.batch_id for b in done) == [f"b{n:02d}" for n in range(30)]
    assert all(b.status == BatchStatus.LOADED for b in done)
    attempts = dict(
        store.engine.rows("SELECT batch_id, attempts FROM batches")  # type: ignore[attr-defined]
    )
    assert attempts.pop(slow) == 2  # the killed worker's try, then one that finished
    assert set(attempts.values()) == {1}  # every other batch was taken exactly once
    for slug in districts:
        mine = sorted((b for b in done if b.district == slug), key=lambda b: b.received_at)
        finished = [b.finished_at for b in mine]
        assert finished == sorted(finished), f"{slug} applied out of arrival order"  # type: ignore[type-var]
