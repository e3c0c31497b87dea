"""Batch workers: claim a batch, run the pipeline on its files, archive it.

A worker is a process of its own (``roster serve`` starts ``--workers N``), so
parsing and loading never stall the receiver's event loop. Each worker has its
own database connection; a second one, on a thread, renews the claim while the
batch runs (``claims.renewing``). A worker dies with the service that started it: a half-done apply
is rolled back by the database and the batch runs again after the restart.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
from dataclasses import replace
from datetime import UTC, datetime
from multiprocessing.connection import Connection

from roster_pipeline import claims, pipeline, system
from roster_pipeline.config import Settings
from roster_pipeline.contracts import rejects
from roster_pipeline.errors import TerminalError, TransientError
from roster_pipeline.home import Home
from roster_pipeline.service import batches
from roster_pipeline.service.alerts import Alerts
from roster_pipeline.store import (
    BatchQueue,
    BatchRecord,
    BatchStatus,
    Claim,
    Store,
    worker_name,
)

log = logging.getLogger(__name__)

#: A batch whose worker died this many times is moved to failed/ instead of run again.
MAX_ATTEMPTS = 3


def queue_for(store: Store, holder: str, claim_seconds: float) -> BatchQueue:
    """The claim queue over the store's own connection."""
    return store.queue(holder, claim_seconds)


def run_claim(home: Home, queue: BatchQueue, claim: Claim, alerts: Alerts) -> BatchRecord:
    """Process one claimed batch to its end state; returns the recorded batch."""
    record = home.store.batch(claim.batch_id)
    if claim.attempts > MAX_ATTEMPTS:
        return _give_up(home, record, f"its worker died {claim.attempts - 1} times on it")
    files = home.batch_files(claim.batch_id)
    if not files:
        return _give_up(home, record, "its folder has no files (assembly was interrupted)")
    try:
        with claims.renewing(
            home.settings,
            queue.holder,
            queue.claim_seconds,
            lambda q: q.renew(claim.batch_id),
            f"renew-{claim.batch_id}",
        ):
            result = pipeline.process(
                home,
                claim.district,
                files,
                batch_id=claim.batch_id,
                received_at=record.received_at,
                archive_raw=False,
                notes=batches.notes(home, claim.batch_id),
            )
    except TransientError:
        queue.requeue(claim.batch_id)
        raise
    except TerminalError as exc:
        return _give_up(home, record, str(exc))
    except Exception as exc:  # a bug of ours outside the stages: keep the files, tell ops
        log.exception("batch %s: internal error", claim.batch_id)
        return _give_up(home, record, f"internal error ({type(exc).__name__}: {exc})")
    batches.archive(home, claim.batch_id)
    alerts.batch_finished(result.batch)
    return result.batch


def _give_up(home: Home, record: BatchRecord, why: str) -> BatchRecord:
    folder = batches.fail(home, record.batch_id, why)
    final = replace(
        record,
        status=BatchStatus.REJECTED,
        finished_at=datetime.now(UTC),
        message=f"could not be processed: {why}. Its files are kept in {folder}.",
    )
    home.store.save_batch(final, rejects.empty())
    return final


def run_next(home: Home, queue: BatchQueue, alerts: Alerts) -> BatchRecord | None:
    """Claim and run one batch; None when nothing is claimable or the system is disabled."""
    if not system.effective(home.settings, home.store).system.system_enabled:
        return None
    claim = queue.claim()
    if claim is None:
        return None
    log.info("worker %s took batch %s (%s)", queue.holder, claim.batch_id, claim.district)
    return run_claim(home, queue, claim, alerts)


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when the service that started it dies."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def worker_main(settings: Settings, stop: Connection, poll_seconds: float, parent: int) -> None:
    """Entry point of a worker process: run batches until ``stop`` becomes readable (the
    service closed its end, or died)."""
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before prctl took effect
        return
    # The service decides when we stop (it closes ``stop``), whoever got the signal: a
    # Ctrl-C or a systemd stop reaches the whole group. Setting the shared Event from
    # a handler could deadlock on the Event's own lock, held by the wait it interrupts.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    alerts = Alerts(settings.webhook_url)
    with Home(settings) as home:
        queue = queue_for(home.store, worker_name("worker"), settings.service.claim_seconds)
        while not stop.poll(0):
            try:
                ran = run_next(home, queue, alerts)
            except TransientError as exc:
                log.warning("worker: %s; retrying", exc)
                ran = None
                stop.poll(min(5.0, poll_seconds * 10))
            if ran is None:
                stop.poll(poll_seconds)
    alerts.close()
