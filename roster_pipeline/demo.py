"""`roster demo`: the service end to end, as a district would use it.

In a temporary home: provision a demo district with a password, start
`roster serve` on a free port (a real subprocess), upload the samples over real
SFTP with asyncssh (a runtime dependency: the demo works on a plain install),
host key pinned - a good zip, the next night's loose CSVs, then an export with
mistakes - wait for each batch, print the batch table, the
change counts and where the reject report is, and stop the service.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from roster_pipeline import districts, hostkeys
from roster_pipeline.config import load_settings
from roster_pipeline.errors import InputError, RosterError
from roster_pipeline.home import Home
from roster_pipeline.store import BatchRecord

DISTRICT = "lincoln"
_PORT = re.compile(r"sftp on [^:\s]+:(\d+)")


def samples_dir() -> Path:
    """The demo's input: the source checkout's ``samples/``, or the wheel's copy of it."""
    package = Path(__file__).resolve().parent
    for folder in (package.parent / "samples", package / "_samples"):
        if (folder / "good.zip").is_file():
            return folder
    raise InputError(f"the demo needs the samples; neither {package.parent / 'samples'} nor"
                     f" {package / '_samples'} has them")  # fmt: skip


def run_demo(keep: bool = True) -> Path:
    """Provision, serve, upload three nights over SFTP, print what happened."""
    samples = samples_dir()
    root = Path(tempfile.mkdtemp(prefix="roster-demo-"))
    console = Console()
    password = _provision(root)
    service = _Service(root)
    try:
        port = service.wait_port()
        console.print(f"service up: sftp on 127.0.0.1:{port}, home {root}", highlight=False)
        nights = [
            ("night 1: the first full export (zip)", [samples / "good.zip"]),
            ("night 2: the next night's snapshot (loose CSVs)", _csvs(samples / "next-night")),
            ("night 3: a users file with two bad rows", _csvs(samples / "bad-night")),
        ]
        for n, (title, files) in enumerate(nights, start=1):
            _upload(root, port, password, files)
            batch = _wait_batches(root, n)[0]
            console.rule(title)
            console.print(f"batch {batch.batch_id}: {batch.status}", highlight=False)
            console.print(batch.message, highlight=False)
    finally:
        service.stop()
    _print_batches(console, root)
    if keep:
        console.print(f"\ndemo home kept at {root} (its reports are there)", highlight=False)
    else:
        shutil.rmtree(root, ignore_errors=True)
    return root


def _csvs(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.csv"))


def _provision(root: Path) -> str:
    """A fresh home with one district that logs in with a password; returns it."""
    with Home(load_settings(env={}, home=root)) as home:
        home.create()
        provisioned = districts.add_district(home, DISTRICT, "Lincoln Unified (demo)")
    hostkeys.ensure(root / "hostkeys")
    assert provisioned.password is not None  # generated, shown once
    return provisioned.password


class _Service:
    """`roster serve` in a subprocess on a free port; its first stdout line says which."""

    def __init__(self, root: Path) -> None:
        # Shortened quiet periods: a night of the demo takes seconds, not minutes.
        env = {**os.environ, "ROSTER_SETTLE_QUICK_SECONDS": "1", "ROSTER_SETTLE_SECONDS": "3",
               "ROSTER_HOME": str(root)}  # fmt: skip
        command = [sys.executable, "-c", "from roster_pipeline.cli import main; main()"]
        self.log = root / "logs" / "serve.log"
        self._log = self.log.open("wb")
        self.process = subprocess.Popen(
            [*command, "serve", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        self.lines.extend(line.strip() for line in self.process.stdout)

    def wait_port(self, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if found := _PORT.search(line):
                    return int(found.group(1))
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise RosterError(f"the service did not start; see {self.log}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(60)
        self._log.close()


def _upload(root: Path, port: int, password: str, files: Sequence[Path]) -> None:
    """Upload as a district does: password login, our host key pinned, one put per file."""
    asyncio.run(_put(root, port, password, files))


async def _put(root: Path, port: int, password: str, files: Sequence[Path]) -> None:
    import asyncssh  # here: only the demo is an SFTP client

    # known_hosts lines for 127.0.0.1 pin the keys provisioned in this home, and only them.
    pinned = b"".join(b"[127.0.0.1]:%d " % port + p.read_bytes()
                      for p in sorted((root / "hostkeys").glob("*.pub")))  # fmt: skip
    try:
        async with (
            asyncssh.connect(
                "127.0.0.1",
                port,
                username=DISTRICT,
                password=password,
                known_hosts=asyncssh.import_known_hosts(pinned.decode()),
                client_keys=None,
                agent_path=None,
            ) as conn,  # fmt: skip
            conn.start_sftp_client() as sftp,
        ):
            for path in files:
                await sftp.put(str(path), path.name)
    except (OSError, asyncssh.Error) as exc:
        raise RosterError(f"the demo upload to 127.0.0.1:{port} failed: {exc}") from exc


def _wait_batches(root: Path, n: int, timeout: float = 60.0) -> list[BatchRecord]:
    """The district's batches, newest first, once ``n`` of them are finished."""
    deadline = time.monotonic() + timeout
    with Home(load_settings(env={}, home=root)) as home:
        while time.monotonic() < deadline:
            found = home.store.batches(DISTRICT)
            if len([b for b in found if b.status.finished]) >= n:
                return found
            time.sleep(0.1)
    raise RosterError(f"batch {n} was not processed within {timeout:.0f} s; see the service log")


def _print_batches(console: Console, root: Path) -> None:
    table = Table("night", "status", "table", "added", "updated", "deleted", "rejected")
    with Home(load_settings(env={}, home=root)) as home:
        found = home.store.batches(DISTRICT)
    for night, batch in enumerate(reversed(found), start=1):
        for name, c in batch.counts.items():
            table.add_row(str(night), str(batch.status), name, str(c.added), str(c.updated),
                          str(c.deleted), str(c.rejected))  # fmt: skip
    console.print(table)
    console.print(f"reject report of the last batch: {found[0].report_path}", highlight=False)
