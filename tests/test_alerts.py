"""The webhook, against a real HTTP server on loopback that fails on purpose first."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from roster_pipeline.service.alerts import Alerts, batch_event
from roster_pipeline.store import BatchRecord, BatchStatus

pytestmark = pytest.mark.timeout(60)


class Hook(BaseHTTPRequestHandler):
    """Answers 503 to the first ``failures`` POSTs, then 204; keeps every body."""

    failures: ClassVar[int] = 0
    bodies: ClassVar[list[dict[str, object]]] = []
    attempts: ClassVar[int] = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).attempts += 1
        if type(self).attempts <= type(self).failures:
            self.send_response(503)
        else:
            type(self).bodies.append(json.loads(body))
            self.send_response(204)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, type[Hook]]]:
    handler = type("TestHook", (Hook,), {"failures": 0, "bodies": [], "attempts": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    server.shutdown()
    server.server_close()


def _batch(status: BatchStatus) -> BatchRecord:
    return BatchRecord(
        "b1", "lincoln", status, datetime(2026, 11, 22, tzinfo=UTC), message="why it happened"
    )


def test_a_held_batch_is_posted_after_the_server_recovers(hook: tuple[str, type[Hook]]) -> None:
    url, handler = hook
    handler.failures = 2
    alerts = Alerts(url, backoff=0.01)
    alerts.batch_finished(_batch(BatchStatus.HELD))
    alerts.close(timeout=20)
    assert handler.attempts == 3
    assert len(handler.bodies) == 1
    body = handler.bodies[0]
    assert body["event"] == "batch_held"
    assert body["district"] == "lincoln"
    assert body["batch_id"] == "b1"
    assert body["message"] == "why it happened"


def test_sending_never_blocks_even_when_the_server_hangs() -> None:
    """A server that accepts and never answers: a blocking send would hang the test."""
    with socket.create_server(("127.0.0.1", 0)) as hung:
        url = f"http://127.0.0.1:{hung.getsockname()[1]}/hook"
        alerts = Alerts(url, attempts=1, timeout=30.0)
        for _ in range(50):
            alerts.send({"event": "district_stale", "district": "x"})
        hung.settimeout(20)
        connection, _ = hung.accept()  # the delivery is under way, the sends have returned
        connection.close()
        alerts.close(timeout=0.1)


def test_only_rejected_and_held_batches_alert() -> None:
    assert batch_event(_batch(BatchStatus.LOADED)) is None
    assert batch_event(_batch(BatchStatus.DUPLICATE)) is None
    rejected = batch_event(_batch(BatchStatus.REJECTED))
    assert rejected is not None
    assert rejected["event"] == "batch_rejected"


def test_without_a_url_events_are_only_logged(caplog: pytest.LogCaptureFixture) -> None:
    alerts = Alerts("")
    alerts.send({"event": "district_stale", "district": "x"})
    alerts.close()
    assert "district_stale" in caplog.text
