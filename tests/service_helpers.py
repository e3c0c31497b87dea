"""Helpers for the service tests: a real `roster serve` subprocess, uploads, polling."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, TypeVar

from roster_pipeline.config import load_settings
from roster_pipeline.home import Home
from roster_pipeline.store import BatchRecord

T = TypeVar("T")

ROSTER = [sys.executable, "-c", "from roster_pipeline.cli import main; main()"]


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 60.0) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def open_home(root: Path, **env: str) -> Home:
    settings = load_settings(env={**os.environ, **env}, home=root)
    home = Home(settings)
    home.create()
    return home


def publish(root: Path, district: str, name: str, data: bytes) -> Path:
    """Put a complete file into the inbox as the receiver does: staged, then renamed."""
    staging = root / "staging" / district
    staging.mkdir(parents=True, exist_ok=True)
    temp = staging / f".{name}.upload"
    temp.write_bytes(data)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = root / "inbox" / district / f"{stamp}-{time.monotonic_ns()}-{name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temp, target)
    return target


def batches(root: Path, district: str | None = None) -> list[BatchRecord]:
    with Home(load_settings(env={}, home=root)) as home:
        return home.store.batches(district, 1000)


class ServiceProcess:
    """`roster serve` in a subprocess; stdout lines are collected as they come."""

    def __init__(self, root: Path, args: Sequence[str] = (), env: dict[str, str] | None = None):
        self.root = root
        self.log = root.parent / f"serve-{time.monotonic_ns()}.log"
        self.lines: list[str] = []
        self._stderr: IO[bytes] = self.log.open("wb")
        self.process = subprocess.Popen(
            [*ROSTER, "--home", str(root), "serve", *args],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            # Any free port unless a test names one: two suites on one machine never collide.
            env={**os.environ, "ROSTER_LISTEN_PORT": "0", **(env or {})},
            text=True,
            start_new_session=True,  # its own process group, as under systemd
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_ready(self, timeout: float = 60.0) -> str:
        def ready() -> str | None:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited early:\n{self.log.read_text()}")
            return next((line for line in self.lines if " ready" in line), None)

        return wait_for(ready, "the service to be ready", timeout)

    def stop(self, timeout: float = 60.0, group: bool = False) -> int:
        """SIGTERM (to the whole process group with ``group``), then wait; the exit code."""
        if self.process.poll() is None:
            if group:
                os.killpg(self.process.pid, signal.SIGTERM)
            else:
                self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        finally:
            self._stderr.close()

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(30)
        self._stderr.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


class WebhookRecorder:
    """An HTTP server on loopback keeping every JSON body POSTed to it."""

    def __init__(self) -> None:
        events: list[dict[str, object]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                events.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.events = events
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def kinds(self) -> list[object]:
        return [e["event"] for e in self.events]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
