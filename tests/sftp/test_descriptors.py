"""Running out of file descriptors: a real receiver process under a low RLIMIT_NOFILE.

Before the reserve, a limit of 64 and forty clients gave 6.6 million lines of
"socket.accept() out of system resource" on stderr in two minutes, and the
receiver never recovered. Now it refuses at the door and at open, quietly, and
serves again as soon as the clients leave.
"""

from __future__ import annotations

import io
import json
import os
import signal
import time
from pathlib import Path

import paramiko
import pytest

from tests.sftp.conftest import PASSWORD, ServeFn, connect, free_port

SERVE = """
import resource, sys
from pathlib import Path
from sftp_server import Account, Limits, ReceiverConfig, hash_password, run

resource.setrlimit(resource.RLIMIT_NOFILE, (96, 96))  # soft = hard: cannot be raised

class One:
    account = Account(username="alpha", district="alpha", password_hash=hash_password(sys.argv[3]))
    def lookup(self, username): return self.account if username == "alpha" else None
    def on_upload(self, record): pass

many = dict(max_sessions_per_account=100, max_connections_per_address=100,
            max_startups_per_address=100, max_startups_begin=100, max_startups=100,
            max_connects_per_minute=1000, max_open_handles=1000)
limits = Limits(fd_reserve=40, **many)
run(ReceiverConfig.under(Path(sys.argv[1]), port=int(sys.argv[2]), limits=limits), One())
"""


def _events(audit: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in audit.read_text().splitlines()]


def _grab(port: int, clients: list[paramiko.SFTPClient], files: list[object]) -> list[str]:
    """Ten clients, uploads opened on them until the server says busy, then more
    clients; what the server said."""
    refusals = []
    clients += [connect(port, "alpha") for _ in range(10)]
    for i in range(60):
        try:
            files.append(clients[i % 10].open(f"f{i}.csv", "w"))
        except OSError as exc:
            refusals.append(f"open: {exc}")
    for _ in range(5):
        try:
            clients.append(connect(port, "alpha"))
        except (paramiko.SSHException, EOFError, OSError) as exc:
            refusals.append(f"connect: {type(exc).__name__}")
    return refusals


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="counts descriptors in /proc")
def test_out_of_descriptors_refuses_quietly_and_recovers(
    tmp_path: Path, serve_script: ServeFn
) -> None:
    port = free_port()
    server = serve_script(tmp_path, SERVE, str(port), PASSWORD)
    audit = tmp_path / "logs" / "audit.log"
    clients: list[paramiko.SFTPClient] = []
    files: list[object] = []
    try:
        refusals = _grab(port, clients, files)
        assert any(r.startswith("connect") for r in refusals), refusals
        assert "open: the server is busy; try again later" in refusals
        baseline = len(os.listdir(f"/proc/{server.pid}/fd"))
        assert baseline <= 96 - 40 + 8  # never near the limit, where accepts fail
    finally:
        for client in clients:
            client.close()
    time.sleep(1)
    after = connect(port, "alpha")  # the receiver serves again at once
    after.putfo(io.BytesIO(b"user_id\nu1\n"), "after.csv")
    after.close()
    server.send_signal(signal.SIGTERM)
    _, err = server.communicate(timeout=60)
    assert server.returncode == 0
    assert len(err.decode().splitlines()) < 20, err.decode()[:2000]  # no log storm
    events = _events(audit)
    refused = [e for e in events if e["event"] in ("connect_refused", "upload_refused")]
    assert {e["reason"] for e in refused} >= {
        "server busy; try again later", "too few file descriptors free",
    }  # fmt: skip
    assert "after.csv" in {Path(str(e.get("name", ""))).name for e in events
                           if e["event"] == "upload_published"}  # fmt: skip
    assert not list((tmp_path / "staging" / "alpha").iterdir())  # nothing left half-written
