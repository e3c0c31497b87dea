"""A real receiver on 127.0.0.1:0 in a background event loop, and a dict-backed Accounts."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncssh
import paramiko
import pytest

from sftp_server import (
    Account,
    Limits,
    Receiver,
    ReceiverConfig,
    UploadRecord,
    ensure_host_keys,
    hash_password,
    start_receiver,
)

PASSWORD = "correct horse battery staple"
FAST = Limits(auth_failure_delay=0.01, shutdown_grace=2.0, login_timeout=60, idle_timeout=60)


class DictAccounts:
    """The Accounts protocol over a dict: the seam the pipeline fills with its database."""

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.uploads: list[UploadRecord] = []
        self._lock = threading.Lock()

    def add(self, account: Account) -> None:
        self.accounts[account.username] = account

    def lookup(self, username: str) -> Account | None:
        return self.accounts.get(username)

    def on_upload(self, record: UploadRecord) -> None:
        with self._lock:
            self.uploads.append(record)


@dataclasses.dataclass
class Running:
    """A started receiver and what tests need to reach it."""

    receiver: Receiver
    config: ReceiverConfig
    accounts: DictAccounts
    loop: asyncio.AbstractEventLoop
    home: Path

    @property
    def port(self) -> int:
        return self.receiver.port

    def inbox(self, district: str) -> Path:
        return self.config.inbox_root / district

    def audit(self) -> list[dict[str, Any]]:
        lines = self.config.audit_log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines]

    def events(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.audit() if e["event"] == name]

    def wait_for(self, name: str, count: int = 1, timeout: float = 15.0) -> list[dict[str, Any]]:
        """The ``name`` events once at least ``count`` were logged (the server is async)."""
        deadline = time.monotonic() + timeout
        while len(found := self.events(name)) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return found

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.receiver.close(), self.loop).result(30)


@pytest.fixture(scope="session")
def host_keys_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("hostkeys")
    ensure_host_keys(directory)  # RSA 3072 takes a moment: once per run
    return directory


@pytest.fixture(scope="session")
def password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def client_key(tmp_path: Path) -> tuple[Path, str]:
    """An Ed25519 client key written for OpenSSH and paramiko; (private path, public line)."""
    key = asyncssh.generate_private_key("ssh-ed25519")
    path = tmp_path / "client_ed25519"
    key.write_private_key(path)
    path.chmod(0o600)
    public = key.export_public_key().decode().strip()
    return path, public


StartFn = Callable[..., Running]


@pytest.fixture
def start(
    tmp_path: Path,
    host_keys_template: Path,
    password_hash: str,
    event_loop_thread: asyncio.AbstractEventLoop,
) -> Iterator[StartFn]:
    """Start a receiver with districts ``alpha`` and ``beta``; keyword args override limits."""
    started: list[Running] = []

    def _start(
        accounts: DictAccounts | None = None,
        legacy: bool = False,
        strict: bool = False,
        **limits: Any,
    ) -> Running:
        home = tmp_path / "home"
        if not (home / "hostkeys").exists():
            shutil.copytree(host_keys_template, home / "hostkeys")
        if accounts is None:
            accounts = DictAccounts()
            for name in ("alpha", "beta"):
                accounts.add(Account(username=name, district=name, password_hash=password_hash))
        config = ReceiverConfig.under(
            home,
            host="127.0.0.1",
            port=0,
            limits=dataclasses.replace(FAST, **limits),
            legacy_algorithms=legacy,
            strict_algorithms=strict,
        )
        future = asyncio.run_coroutine_threadsafe(
            start_receiver(config, accounts), event_loop_thread
        )
        running = Running(future.result(30), config, accounts, event_loop_thread, home)
        started.append(running)
        return running

    yield _start
    for running in started:
        if running.receiver.port and not running.receiver.closing:
            running.stop()


class Client(paramiko.SFTPClient):
    """paramiko's SFTP client whose close also hangs up the connection."""

    def close(self) -> None:
        channel = self.get_channel()
        assert channel is not None
        transport = channel.get_transport()
        super().close()
        transport.close()


def connect(port: int, username: str, password: str | None = PASSWORD, **kwargs: Any) -> Client:
    """A paramiko SFTP client logged in with a password (or ``pkey=`` in kwargs)."""
    transport = paramiko.Transport(("127.0.0.1", port))
    try:
        transport.connect(username=username, password=password, **kwargs)
    except BaseException:
        transport.close()
        raise
    sftp = Client.from_transport(transport)
    assert sftp is not None
    return sftp


def require(tool: str) -> str:
    """The path of a system client; missing means `scripts/system-deps` was not run: fail."""
    path = shutil.which(tool)
    if path is None:
        subprocess.run(["scripts/system-deps"], check=False)
        path = shutil.which(tool)
    assert path is not None, f"{tool} is missing: run scripts/system-deps"
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


ServeFn = Callable[..., "subprocess.Popen[bytes]"]


@pytest.fixture
def serve_script() -> Iterator[ServeFn]:
    """Start receiver processes (``_serve_script``); any still running when the test
    ends, passed or failed, is killed."""
    started: list[subprocess.Popen[bytes]] = []

    def start(home: Path, script: str, *args: str) -> subprocess.Popen[bytes]:
        started.append(_serve_script(home, script, *args))
        return started[-1]

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


def _serve_script(home: Path, script: str, *args: str) -> subprocess.Popen[bytes]:
    """``script`` (``sftp_server.run`` in a process of its own, ``home`` its first
    argument), once its audit log says it listens; stderr is piped for the test."""
    ensure_host_keys(home / "hostkeys")
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), str(home), *args], stderr=subprocess.PIPE
    )
    audit = home / "logs" / "audit.log"
    deadline = time.monotonic() + 30
    while not (audit.exists() and "listening" in audit.read_text()):
        assert time.monotonic() < deadline
        assert process.poll() is None, process.communicate()[1].decode()
        time.sleep(0.05)
    return process
