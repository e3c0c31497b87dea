"""The inbox watcher with a real watchdog observer on a real folder."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from roster_pipeline.service.watch import InboxWatcher

pytestmark = pytest.mark.timeout(60)


class Ticks:
    """Counts ticks and lets a test wait for the n-th one."""

    def __init__(self, wait: float | None = None, fail_first: bool = False) -> None:
        self.count = 0
        self.wait = wait
        self.fail_first = fail_first
        self.changed = threading.Condition()

    def __call__(self) -> float | None:
        with self.changed:
            self.count += 1
            self.changed.notify_all()
        if self.fail_first and self.count == 1:
            raise RuntimeError("a scan that fails")
        return self.wait

    def reach(self, n: int, timeout: float = 20.0) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.count >= n, timeout), self.count


def test_start_up_scan_then_a_tick_per_arrival(tmp_path: Path) -> None:
    ticks = Ticks()
    watcher = InboxWatcher(tmp_path / "inbox", ticks, rescan_seconds=3600)
    watcher.start()
    try:
        ticks.reach(1)  # the start-up rescan, before anything happened
        (tmp_path / "inbox" / "lincoln").mkdir()
        ticks.reach(2)
        (tmp_path / "inbox" / "lincoln" / "users.csv").write_text("x")
        ticks.reach(3)
    finally:
        watcher.stop()


def test_a_requested_wait_brings_the_next_tick_without_any_event(tmp_path: Path) -> None:
    ticks = Ticks(wait=0.1)
    watcher = InboxWatcher(tmp_path, ticks, rescan_seconds=3600)
    watcher.start()
    try:
        ticks.reach(4)  # settle deadlines are honoured with a quiet folder
    finally:
        watcher.stop()


def test_the_periodic_rescan_runs_and_a_failing_tick_is_retried(tmp_path: Path) -> None:
    ticks = Ticks(fail_first=True)
    watcher = InboxWatcher(tmp_path, ticks, rescan_seconds=0.1)
    watcher.start()
    try:
        ticks.reach(3)
    finally:
        watcher.stop()


def test_stop_ends_the_thread(tmp_path: Path) -> None:
    watcher = InboxWatcher(tmp_path, Ticks(), rescan_seconds=3600)
    watcher.start()
    watcher.stop()
    assert not watcher.running
