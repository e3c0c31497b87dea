"""The audit log: one JSON object per line, appended, flushed at once.

Callers pass facts, never secrets; nothing here ever receives a password.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any, TextIO

_MAX_TEXT = 200  # usernames and file names come from strangers; keep lines bounded


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
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._out: TextIO | None = path.open("a", encoding="utf-8")

    def write(self, event: str, **fields: Any) -> None:
        """Append one ``event`` line with a UTC timestamp and ``fields``."""
        line = {"ts": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), "event": event}
        line.update({k: _clean(v) for k, v in fields.items()})
        text = json.dumps(line, ensure_ascii=False, default=str)
        with self._lock:
            if self._out is not None:
                self._out.write(text + "\n")
                self._out.flush()

    def close(self) -> None:
        """Stop writing; later events are dropped."""
        with self._lock:
            if self._out is not None:
                self._out.close()
                self._out = None
