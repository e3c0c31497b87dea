"""`roster serve`: the receiver, the inbox watcher and the batch workers in one service.

The main process runs an asyncio loop for the SFTP receiver (its own I/O only),
a thread that watches the inbox and assembles batches, and a housekeeping
thread (stale alerts, the daily retention purge). Batches are parsed and
loaded by ``--workers N`` worker *processes*, so a large batch never stalls a
login. SIGTERM / SIGINT stop it gracefully: the receiver closes, the watcher
stops, workers finish the batch in hand (or are stopped after a grace period:
their transaction rolls back and the batch runs again at the next start).

Roles: ``all`` (default), ``sftp`` (receiver and assembly only) and ``worker``
(workers only), for several machines sharing the home folder and PostgreSQL.
Housekeeping follows the role: stale alerts come from the receiving role (one
alert per district, however many workers run), the purge from working roles.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Protocol

from roster_pipeline import system
from roster_pipeline.config import Settings
from roster_pipeline.errors import ConfigError, RosterError
from roster_pipeline.home import Home
from roster_pipeline.service import batches, retention, status
from roster_pipeline.service.alerts import Alerts
from roster_pipeline.service.pulls import PullScheduler
from roster_pipeline.service.watch import InboxWatcher
from roster_pipeline.service.worker import queue_for, worker_main
from roster_pipeline.store import worker_name

log = logging.getLogger(__name__)

ROLES = ("all", "sftp", "worker")
#: Seconds between looks at a disabled system's switch, so `enable` acts within them.
_DISABLED_RECHECK = 5.0


class Receiver(Protocol):
    """A running receiver (the SFTP server) the service closes on shutdown."""

    async def close(self) -> None: ...


#: Starts the receiver for a home inside the running loop; returns it and its address.
ReceiverFactory = Callable[[Settings], Awaitable[tuple[Receiver, str]]]


@dataclass(frozen=True)
class ServiceOptions:
    workers: int = 1
    role: str = "all"
    rescan_seconds: float = 30.0
    poll_seconds: float = 0.5
    housekeeping_seconds: float = 60.0
    purge_every: timedelta = timedelta(days=1)
    grace_seconds: float = 60.0  # how long workers may take to finish on shutdown

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ConfigError(f"--role must be one of {', '.join(ROLES)}, not {self.role!r}")
        if self.workers < 1 and self.role != "sftp":
            raise ConfigError("--workers must be at least 1")

    @property
    def receives(self) -> bool:
        return self.role in {"all", "sftp"}

    @property
    def works(self) -> bool:
        return self.role in {"all", "worker"}


class Service:
    """One running ``roster serve``."""

    def __init__(
        self,
        settings: Settings,
        options: ServiceOptions,
        receiver: ReceiverFactory | None = None,
    ) -> None:
        self.settings = settings
        self.options = options
        self.receiver_factory = receiver
        self._spawn = multiprocessing.get_context("spawn")
        self._stopping = threading.Event()
        # Each worker's stop line: closing our end tells it to stop (EOF). A pipe, not a
        # shared Event: a worker killed inside Event.wait would leave its lock held.
        self._workers: list[tuple[BaseProcess, Connection]] = []
        self._watcher: InboxWatcher | None = None
        self._assembly_home: Home | None = None
        self._alerts = Alerts(settings.webhook_url)
        self._wake: Callable[[], object] | None = None  # wakes run() from any thread

    # lifecycle
    async def run(self, ready: Callable[[str], None] | None = None) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        self._wake = lambda: loop.call_soon_threadsafe(stop.set)
        with Home(self.settings) as home:
            home.create()
            again = batches.recover(home, queue_for(home.store, worker_name("service"), 60.0))
        log.info("start-up recovery: %d batch(es) to run again", len(again))
        receiver, address = await self._start_receiver()
        self._start_workers()
        self._start_watcher()
        housekeeping = threading.Thread(target=self._housekeep, name="housekeeping", daemon=True)
        housekeeping.start()
        pulling = threading.Thread(target=self._pull_scheduled, name="pulls", daemon=True)
        if self.options.receives:
            pulling.start()
        if ready:
            ready(self._describe(address))
        try:
            while not self._stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
                self._supervise()
        finally:
            await self._shutdown(receiver, housekeeping, pulling)

    def request_stop(self) -> None:
        """Ask the running service to stop (thread-safe, signal-safe)."""
        self._stopping.set()
        if self._wake is not None:
            self._wake()

    async def _start_receiver(self) -> tuple[Receiver | None, str]:
        if not self.options.receives or self.receiver_factory is None:
            return None, ""
        return await self.receiver_factory(self.settings)

    def _describe(self, address: str) -> str:
        parts = [f"roster serve ({self.options.role}) ready"]
        if address:
            parts.append(f"sftp on {address}")
        if self.options.works:
            parts.append(f"{len(self._workers)} worker(s)")
        return "; ".join(parts)

    async def _shutdown(
        self, receiver: Receiver | None, housekeeping: threading.Thread, pulling: threading.Thread
    ) -> None:
        log.info("stopping: receiver, watcher, then workers")
        self._stopping.set()
        if receiver is not None:
            await receiver.close()
        if self._watcher is not None:
            await asyncio.to_thread(self._watcher.stop)
        for _, stop_line in self._workers:
            stop_line.close()
        await asyncio.to_thread(self._join_workers)
        await asyncio.to_thread(housekeeping.join, 10.0)
        if pulling.is_alive():
            await asyncio.to_thread(pulling.join)  # a pull in hand finishes: nothing half-done
        if self._assembly_home is not None:
            self._assembly_home.close()
        self._alerts.close()

    # workers
    def _start_workers(self) -> None:
        if not self.options.works:
            return
        for _ in range(self.options.workers):
            self._workers.append(self._new_worker())

    def _new_worker(self) -> tuple[BaseProcess, Connection]:
        listen, stop_line = self._spawn.Pipe(duplex=False)
        process = self._spawn.Process(
            target=worker_main,
            args=(self.settings, listen, self.options.poll_seconds, os.getpid()),
            name="roster-worker",
        )
        process.start()
        listen.close()  # the worker has its own copy
        return process, stop_line

    def _supervise(self) -> None:
        """Replace a worker that died (out of memory, killed): its batch runs again."""
        if self._stopping.is_set():
            return
        for i, (process, stop_line) in enumerate(self._workers):
            if not process.is_alive():
                log.error(
                    "worker %s exited with %s; starting another", process.pid, process.exitcode
                )
                stop_line.close()
                self._release_dead()
                self._workers[i] = self._new_worker()

    def _release_dead(self) -> None:
        with Home(self.settings) as home:
            queue_for(home.store, worker_name("service"), 60.0).release_dead()

    def _join_workers(self) -> None:
        for process, _ in self._workers:
            process.join(self.options.grace_seconds)
        for process, _ in self._workers:
            if process.is_alive():
                log.warning("worker %s did not finish in time; stopping it", process.pid)
                process.kill()
                process.join(5.0)

    # assembly and housekeeping
    def _start_watcher(self) -> None:
        if not self.options.receives:
            return
        self._watcher = InboxWatcher(
            self.settings.home / "inbox", self._assemble, rescan_seconds=self.options.rescan_seconds
        )
        self._watcher.start()

    def _assemble(self) -> float | None:
        """One watcher tick, on the watcher's thread with its own connection."""
        if self._assembly_home is None:
            self._assembly_home = Home(self.settings)
        home = self._assembly_home
        if not system.effective(self.settings, home.store).system.system_enabled:
            return _DISABLED_RECHECK  # uploads wait in the inbox until processing is enabled
        queue = queue_for(home.store, worker_name("assembler"), 60.0)
        wait = batches.assemble_ready(home, queue)
        batches.recover_committed(home)
        return wait

    def _housekeep(self) -> None:
        stale: set[str] = set()
        last_purge: datetime | None = None
        wait = 0.0  # the first round at once
        with Home(self.settings) as home:
            while not self._stopping.wait(wait):
                wait = self.options.housekeeping_seconds
                try:
                    home.settings = system.effective(self.settings, home.store)
                    if not home.settings.system.system_enabled:
                        continue  # no stale alarms, no purge while an operator holds it off
                    self._alert_stale(home, stale)
                    now = datetime.now(UTC)
                    if self.options.works and (
                        last_purge is None or now - last_purge >= self.options.purge_every
                    ):
                        retention.purge(home, now)
                        last_purge = now
                except RosterError as exc:
                    log.warning("housekeeping: %s; trying again later", exc)

    def _pull_scheduled(self) -> None:
        """The districts we pull from, on their schedules (service/pulls.py)."""
        scheduler = PullScheduler(self.settings, self._alerts)
        with Home(self.settings) as home:
            wait = 0.0  # the first look at once: a missed night is caught up at start
            while not self._stopping.wait(wait):
                wait = min(self.options.rescan_seconds, 30.0)
                try:
                    home.settings = system.effective(self.settings, home.store)
                    scheduler.tick(home)
                except RosterError as exc:
                    log.warning("pull schedule: %s; looking again later", exc)
        scheduler.close()

    def _alert_stale(self, home: Home, alerted: set[str]) -> None:
        """Alert once per district that went stale; again only after it sent something.

        The receiving role's work alone: workers on other machines would repeat
        every alert, once per process."""
        if not self.options.receives:
            return
        found = status.stale(home)
        for district, last_upload in found.items():
            if district not in alerted:
                alerted.add(district)
                self._alerts.send({"event": "district_stale", "district": district,
                                   "last_upload": last_upload.isoformat() if last_upload else None,
                                   "at": datetime.now(UTC).isoformat()})  # fmt: skip
        alerted.intersection_update(found)


def serve(
    settings: Settings,
    options: ServiceOptions,
    receiver: ReceiverFactory | None = None,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Run the service until SIGTERM or SIGINT."""
    service = Service(settings, options, receiver)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, service.request_stop)
        await service.run(ready)

    asyncio.run(main())


def default_receiver() -> ReceiverFactory:
    """The SFTP receiver over the district registry."""
    from roster_pipeline.service import receiver as receiving

    return receiving.start
