"""The audit log: one JSON object per line, appended, flushed at once.

Callers pass facts, never secrets; nothing here ever receives a password.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from pathlib import Path
from typing import Any, TextIO

_MAX_TEXT = 200  # usernames and file names come from strangers; keep lines bounded
_BURST = 20  # lines per source and event in one window; the rest are counted
_WINDOW = 60.0


def _clean(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _MAX_TEXT:
        return value[:_MAX_TEXT] + "..."
    if isinstance(value, Path):
        return str(value)
    return value


class AuditLog:
    """Append-only JSON lines at ``path`` (parent folders are created)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = threading.Lock()
        # Usernames, addresses and file names: for the operator's eyes only.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.fchmod(fd, 0o600)  # a log an older version created readable
        self._out: TextIO | None = os.fdopen(fd, "a", encoding="utf-8")
        self._windows: dict[tuple[str, str], tuple[float, int, int]] = {}

    def write(self, event: str, **fields: Any) -> None:
        """Append one ``event`` line with a UTC timestamp and ``fields``."""
        line = {"ts": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), "event": event}
        line.update({k: _clean(v) for k, v in fields.items()})
        text = json.dumps(line, ensure_ascii=False, default=str)
        with self._lock:
            if self._out is not None:
                self._out.write(text + "\n")
                self._out.flush()

    def write_limited(self, event: str, source: str, **fields: Any) -> None:
        """Like :meth:`write`, at most a burst per ``source`` and ``event`` a minute.

        A flood from one address must not flood the log (or the disk); the lines
        held back are counted and reported as ``suppressed`` on the next one.
        """
        now = time.monotonic()
        start, written, held = self._windows.get((event, source), (now, 0, 0))
        if now - start >= _WINDOW:
            start, written = now, 0
        if written >= _BURST:
            self._windows[(event, source)] = (start, written, held + 1)
            if held == 0:  # say once that lines are being held back
                self.write("log_rate_limited", source=source, of=event)
            return
        if len(self._windows) > 10_000:  # many sources: forget the old windows
            self._windows.clear()
        self._windows[(event, source)] = (start, written + 1, 0)
        self.write(event, **fields, **({"suppressed": held} if held else {}))

    def close(self) -> None:
        """Count the lines held back, then stop writing; later events are dropped."""
        for (event, source), (_, _, held) in sorted(self._windows.items()):
            if held:
                self.write("log_suppressed", source=source, of=event, lines=held)
        self._windows.clear()
        with self._lock:
            if self._out is not None:
                self._out.close()
                self._out = None
