"""Scheduled pulls inside `roster serve`: districts whose roster we fetch ourselves.

Each district with a pull source and a schedule is pulled at its time of night
in its own time zone (``pull_at``), or every N hours (``pull_every_hours``),
or both. A missed time (the service was down) is caught up at the next look.
One pull per district at a time, a few districts at once; across processes too:
a pull holds its district's claim (``pulls``), so one started by `roster pull`
meanwhile makes the scheduled one skip its turn, logged, without an alert. A pull publishes its
zip into the district's inbox, so the watcher forms the batch and the workers
process it like any upload; a failed pull publishes nothing, is an error event
and a ``pull_failed`` alert, and is tried again at the next scheduled time.
Paused or disabled districts and a disabled system are not pulled.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from roster_pipeline import pulls, system
from roster_pipeline.config import Settings
from roster_pipeline.errors import ConflictError, RosterError
from roster_pipeline.home import Home
from roster_pipeline.service.alerts import Alerts
from roster_pipeline.sources import SourceConfig, batch_name

log = logging.getLogger(__name__)

#: Districts pulled at the same time; each holds its own connections to its server.
PARALLEL_PULLS = 4


def last_slot(config: SourceConfig, now: datetime) -> datetime | None:
    """The latest moment at or before ``now`` when the nightly pull was due (UTC)."""
    if not config.pull_at:
        return None
    zone = ZoneInfo(config.timezone or "UTC")
    local = now.astimezone(zone)
    hour, minute = (int(p) for p in config.pull_at.split(":"))
    slot = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if slot > local:
        slot -= timedelta(days=1)
    return slot.astimezone(UTC)


def due(config: SourceConfig, last: datetime | None, now: datetime) -> bool:
    """Whether a district last pulled at ``last`` (None: never) is to be pulled now."""
    if not config.scheduled:
        return False
    if last is None:
        return True
    slot = last_slot(config, now)
    if slot is not None and last < slot:
        return True
    every = config.pull_every_hours
    return bool(every) and now - last >= timedelta(hours=every)


class PullScheduler:
    """Looks at every district's schedule on each ``tick`` and starts the pulls due."""

    def __init__(self, settings: Settings, alerts: Alerts) -> None:
        self.settings = settings
        self.alerts = alerts
        self._pool = ThreadPoolExecutor(PARALLEL_PULLS, thread_name_prefix="pull")
        self._running: set[str] = set()
        self._last: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def tick(self, home: Home, now: datetime | None = None) -> list[str]:
        """Start the pulls that are due; returns the districts started."""
        now = now or datetime.now(UTC)
        if not system.effective(home.settings, home.store).system.system_enabled:
            return []
        started = []
        for record in home.store.districts():
            config = SourceConfig.of(record.settings)
            if not config.scheduled or record.paused or not record.enabled:
                continue
            with self._lock:
                if record.slug in self._running:
                    continue
                last = self._last.get(record.slug) or self._last_batch(home, record.slug)
                if not due(config, last, now):
                    continue
                self._running.add(record.slug)
                self._last[record.slug] = now
            self._pool.submit(self._pull, record.slug)
            started.append(record.slug)
        return started

    @staticmethod
    def _last_batch(home: Home, slug: str) -> datetime | None:
        """When the district's last pulled batch arrived (after a restart)."""
        name = batch_name(slug)
        found = [b.received_at for b in home.store.batches(slug, 50) if b.source == name]
        return max(found) if found else None

    def _pull(self, slug: str) -> None:
        try:
            with Home(self.settings) as home:
                home.settings = system.effective(self.settings, home.store)
                path = pulls.deliver(home, slug)
            log.info("pulled %s into %s", slug, path.name)
        except ConflictError as exc:  # `roster pull` or a rollback has the district: no alarm
            log.warning("pull of %s not started: %s", slug, exc)
        except RosterError as exc:
            log.error("pull of %s failed: %s", slug, exc)
            self.alerts.send({"event": "pull_failed", "district": slug, "message": str(exc),
                              "code": getattr(exc, "code", ""),
                              "at": datetime.now(UTC).isoformat()})  # fmt: skip
        except Exception:  # a bug of ours must not end the scheduler; it is logged in full
            log.exception("pull of %s failed unexpectedly", slug)
        finally:
            with self._lock:
                self._running.discard(slug)

    def close(self) -> None:
        """Wait for the pulls in hand; none is cut halfway (a cut one would form nothing)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
