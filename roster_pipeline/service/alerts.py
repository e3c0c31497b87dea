"""Alerts: a JSON event POSTed to the ops webhook on batch rejected, held and stale.

Sending never blocks the pipeline: events go to a bounded queue that one
background thread drains, retrying each POST with backoff. When the queue is
full (the webhook has been down for long) new events are dropped and logged;
the batch records in the database stay the source of truth.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime

from roster_pipeline.store import BatchRecord, BatchStatus

log = logging.getLogger(__name__)

#: Batch outcomes that page someone.
ALERTING = {BatchStatus.REJECTED: "batch_rejected", BatchStatus.HELD: "batch_held"}

_STOP = object()


def batch_event(batch: BatchRecord) -> dict[str, object] | None:
    """The event for a finished batch, or None when its outcome is not alarming."""
    kind = ALERTING.get(batch.status)
    if kind is None:
        return None
    return {
        "event": kind,
        "district": batch.district,
        "batch_id": batch.batch_id,
        "status": str(batch.status),
        "message": batch.message,
        "hold_reasons": list(batch.hold_reasons),
        "report": batch.report_path,
        "at": datetime.now(UTC).isoformat(),
    }


class Alerts:
    """A webhook sender; with an empty URL every event is only logged."""

    def __init__(
        self,
        url: str,
        *,
        attempts: int = 5,
        backoff: float = 1.0,
        timeout: float = 10.0,
        capacity: int = 1000,
    ) -> None:
        self.url = url
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = timeout
        self._queue: queue.Queue[object] = queue.Queue(maxsize=capacity)
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        if url:
            self._thread = threading.Thread(target=self._drain, name="alerts", daemon=True)
            self._thread.start()

    def send(self, event: Mapping[str, object]) -> None:
        """Queue an event; returns at once."""
        log.warning("alert %s", json.dumps(event, default=str))
        if self._thread is None:
            return
        try:
            self._queue.put_nowait(dict(event))
        except queue.Full:
            log.error("alert queue full; dropped %s", event.get("event"))

    def batch_finished(self, batch: BatchRecord) -> None:
        event = batch_event(batch)
        if event is not None:
            self.send(event)

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (waiting at most ``timeout`` seconds), then stop."""
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join(timeout)
        self._closing.set()  # cuts short any backoff still running
        self._thread.join(1.0)

    def _drain(self) -> None:
        while True:
            event = self._queue.get()
            if event is _STOP:
                return
            assert isinstance(event, dict)
            self._deliver(event)

    def _deliver(self, event: dict[str, object]) -> None:
        body = json.dumps(event, default=str).encode("utf-8")
        for attempt in range(1, self.attempts + 1):
            try:
                self._post(body)
                return
            except (OSError, urllib.error.URLError) as exc:
                log.warning("webhook attempt %d/%d failed: %s", attempt, self.attempts, exc)
            if self._closing.wait(self.backoff * 2 ** (attempt - 1)):
                break
        log.error("webhook gave up on %s after %d attempts", event.get("event"), self.attempts)

    def _post(self, body: bytes) -> None:
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "roster-pipeline"},
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            response.read()
