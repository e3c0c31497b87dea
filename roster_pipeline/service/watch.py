"""Watching the inbox: watchdog events wake a tick; a periodic rescan is the safety net.

The watcher knows nothing about batches. It calls ``tick()`` once at start-up
(the rescan that finds what arrived while the service was down), again soon
after any file event under the watched folder, and at the latest after the
wait the previous tick asked for (a settle deadline) or ``rescan_seconds``
(events can be lost: a full kernel queue, a network filesystem).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

log = logging.getLogger(__name__)


class _Wake(FileSystemEventHandler):
    def __init__(self, changed: threading.Event) -> None:
        self.changed = changed

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in {"opened", "closed_no_write"}:  # reads are not arrivals
            self.changed.set()


class InboxWatcher:
    """Runs ``tick`` on a thread whenever the folder may hold something new.

    ``tick`` returns the seconds until it wants to run again (None: no deadline).
    An exception in ``tick`` is logged and retried at the next rescan.
    """

    def __init__(
        self,
        folder: Path,
        tick: Callable[[], float | None],
        *,
        rescan_seconds: float = 30.0,
        debounce_seconds: float = 0.2,
    ) -> None:
        self.folder = folder
        self.tick = tick
        self.rescan_seconds = rescan_seconds
        self.debounce_seconds = debounce_seconds
        self.changed = threading.Event()
        self._stop = threading.Event()
        self._observer = Observer()
        self._thread = threading.Thread(target=self._loop, name="inbox-watcher", daemon=True)

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._observer.schedule(_Wake(self.changed), str(self.folder), recursive=True)
        self._observer.start()
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.changed.set()
        self._observer.stop()
        self._observer.join(timeout)
        self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.changed.clear()
            wait = self._tick_once()
            self.changed.wait(
                self.rescan_seconds if wait is None else min(wait, self.rescan_seconds)
            )
            if self.changed.is_set() and not self._stop.is_set():
                # A burst of events (an upload is many writes) is one tick.
                self._stop.wait(self.debounce_seconds)

    def _tick_once(self) -> float | None:
        try:
            wait = self.tick()
        except Exception:
            log.exception("inbox scan failed; retrying at the next rescan")
            return None
        return None if wait is None else max(wait, 0.05)
