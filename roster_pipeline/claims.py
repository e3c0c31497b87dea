"""Claims this process holds in the database, kept alive while it works.

A claim names its holder (``host:pid:role``) and expires (``store/queue``). The
holder renews it on a thread with a connection of its own (the work's connection
is busy with the work), every quarter of ``claim_seconds``: a live holder keeps
its claim however long the work takes, while one frozen or killed loses it after
``claim_seconds`` (a dead process on this host at once), so the next one can go
on. Batch workers renew their batch's claim (``service/worker``); a pull holds
its district for its whole fetch and apply (``pulls``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from roster_pipeline.config import Settings
from roster_pipeline.errors import TransientError
from roster_pipeline.home import Home
from roster_pipeline.store import BatchQueue, open_store, worker_name

log = logging.getLogger(__name__)


@contextlib.contextmanager
def renewing(
    settings: Settings,
    holder: str,
    claim_seconds: float,
    renew: Callable[[BatchQueue], bool | None],
    name: str,
) -> Iterator[threading.Event]:
    """Call ``renew`` every quarter of ``claim_seconds`` while the body runs. The event
    yielded is set once ``renew`` answered False: the claim was no longer ours."""
    done, lost = threading.Event(), threading.Event()

    def loop() -> None:
        store = open_store(settings.db_url, settings.database_connect_timeout)
        try:
            queue = store.queue(holder, claim_seconds)
            while not done.wait(claim_seconds / 4):
                try:
                    if renew(queue) is False:
                        lost.set()
                except TransientError as exc:  # SQLite busy under a long apply: next time
                    log.debug("renewal of %s deferred: %s", name, exc)
        finally:
            store.close()

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    try:
        yield lost
    finally:
        done.set()
        thread.join(5.0)


@dataclass(frozen=True)
class Hold:
    """A district held by this process (``district``)."""

    queue: BatchQueue
    slug: str
    lost: threading.Event

    def confirmed(self) -> bool:
        """Renewed now; False when the claim lapsed (the process stalled past
        ``claim_seconds``) and someone else may have taken the district since."""
        return not self.lost.is_set() and self.queue.renew_district(self.slug)


@contextlib.contextmanager
def district(home: Home, slug: str, role: str, purpose: str) -> Iterator[Hold]:
    """Hold district ``slug`` while the body runs: no batch of it is applied by the
    service and no other holder (a pull, a rollback) takes it meanwhile. Refused at
    once (ConflictError naming who holds it and what for), holding nothing, when
    another holder has it or one of its batches is being processed."""
    seconds = home.settings.service.claim_seconds
    queue = home.store.queue(worker_name(role), seconds)
    queue.claim_district(slug, purpose)
    try:
        with renewing(home.settings, queue.holder, seconds,
                      lambda q: q.renew_district(slug), f"claim-{slug}") as lost:  # fmt: skip
            yield Hold(queue, slug, lost)
    finally:
        queue.release_district(slug)
