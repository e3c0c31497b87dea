"""``/metrics`` (Prometheus text format, for a bearer token), ``/healthz`` and ``/readyz``.

Metrics are read from the database and the audit log at each scrape by one
collector, so every console process, and any number of them, reports the same
figures, and nothing is lost when one restarts. ``/readyz`` fails when the
database cannot be reached or when a received batch has waited longer than
``STUCK_AFTER`` without a worker claiming it (no worker is alive to take it).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from roster_pipeline.errors import RosterError
from roster_pipeline.home import Home
from roster_pipeline.web.auth import ApiLogin, HomeDep
from roster_pipeline.web.overview import overview
from roster_pipeline.web.security import audit_tail

router = APIRouter(include_in_schema=False)
STUCK_AFTER = timedelta(minutes=10)
BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)


class _Roster(Collector):
    def __init__(self, home: Home) -> None:
        self.home = home

    def collect(self) -> Iterator[Metric]:
        console = self.home.store.console()
        yield _labelled(GaugeMetricFamily("roster_batches", "Batches by status", labels=["status"]),
                        console.batches_by_status())  # fmt: skip
        yield CounterMetricFamily("roster_rows_applied", "Roster rows added, updated or deleted",
                                  value=console.rows_applied())  # fmt: skip
        rejects = CounterMetricFamily("roster_rejects", "Rejects by code", labels=["code"])
        yield _labelled(rejects, console.rejects_by_code())
        yield _histogram(console.durations())
        by_status = console.batches_by_status()
        queued = by_status.get("received", 0) + by_status.get("processing", 0)
        yield GaugeMetricFamily("roster_queue_depth", "Batches waiting or processing", value=queued)
        uploads, size = console.upload_totals()
        yield CounterMetricFamily("roster_uploads", "Files received over SFTP", value=uploads)
        yield CounterMetricFamily("roster_uploaded_bytes", "Bytes received over SFTP", value=size)
        yield from self._sftp()
        stale = overview(self.home).by_status.get("stale", 0)
        yield GaugeMetricFamily("roster_stale_districts", "Districts overdue", value=stale)

    def _sftp(self) -> Iterator[Metric]:
        events = audit_tail(self.home.folder("logs", "audit.log"))
        for name, event, text in (
            ("roster_sftp_logins", "auth_ok", "SFTP logins in the audit log's recent part"),
            ("roster_sftp_login_failures", "auth_fail", "Failed SFTP logins, recent part"),
            ("roster_sftp_bans", "banned", "Addresses banned for failures, recent part"),
        ):
            yield GaugeMetricFamily(name, text, value=sum(1 for e in events if e.event == event))


def _labelled(family: Any, values: dict[str, int]) -> Metric:
    for label, value in sorted(values.items()):
        family.add_metric([label], value)
    return family  # type: ignore[no-any-return]


def _histogram(durations: list[float]) -> Metric:
    buckets = [(str(b), sum(1 for d in durations if d <= b)) for b in BUCKETS]
    buckets.append(("+Inf", len(durations)))
    return HistogramMetricFamily(
        "roster_batch_processing_seconds",
        "Seconds from a batch's receipt to its end",
        buckets=buckets,
        sum_value=sum(durations),
    )


@router.get("/metrics")
def metrics(home: HomeDep, login: ApiLogin) -> Response:
    """For Prometheus with an operator's bearer token (``authorization`` in its scrape config)."""
    registry = CollectorRegistry()
    registry.register(_Roster(home))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> Response:
    problems = []
    try:
        for home in request.app.state.pool.lend():
            console = home.store.console()
            console.ping()
            oldest = console.oldest_unclaimed()
            if oldest is not None and datetime.now(UTC) - oldest > STUCK_AFTER:
                problems.append(f"a batch received at {oldest:%H:%M} UTC waits for a worker")
    except RosterError as exc:
        problems.append(f"database: {exc}")
    body = {"status": "not ready" if problems else "ready", "problems": problems}
    return JSONResponse(body, status_code=503 if problems else 200)
