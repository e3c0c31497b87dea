"""Limits: each exceeded limit gives a clean SFTP/SSH error and an audit line."""

from __future__ import annotations

import asyncio
import io
import socket
import time

import asyncssh
import paramiko
import pytest

from tests.sftp.conftest import PASSWORD, Running, StartFn, connect


def _refusals(running: Running) -> list[str]:
    return [e["reason"] for e in running.events("upload_refused")]


def _write(client: paramiko.SFTPClient, name: str, size: int) -> None:
    """Unpipelined writes, so each refusal surfaces at once (putfo's come back as a stat miss)."""
    with client.open(name, "w") as out:
        for _ in range(0, size, 32_768):
            out.write(b"x" * min(32_768, size))


def _nothing_left(running: Running, district: str = "alpha") -> bool:
    staging = running.config.staging_root / district
    return not any(staging.iterdir())


def test_file_larger_than_the_limit_is_refused(start: StartFn) -> None:
    running = start(max_file_size=100_000)
    alpha = connect(running.port, "alpha")
    with pytest.raises(OSError, match="larger than the limit"):
        _write(alpha, "big.csv", 200_000)
    alpha.putfo(io.BytesIO(b"x" * 100_000), "fits.csv")
    alpha.close()
    assert [p.name.endswith("fits.csv") for p in running.inbox("alpha").iterdir()] == [True]
    assert _refusals(running) == ["file larger than the limit of 100000 bytes"]
    assert _nothing_left(running)


def test_district_quota(start: StartFn) -> None:
    running = start(district_quota=150_000)
    alpha = connect(running.port, "alpha")
    alpha.putfo(io.BytesIO(b"x" * 100_000), "one.csv")
    with pytest.raises(OSError, match="quota"):
        _write(alpha, "two.csv", 100_000)
    alpha.close()
    beta = connect(running.port, "beta")  # the quota is per district
    beta.putfo(io.BytesIO(b"x" * 100_000), "one.csv")
    beta.close()
    assert len(list(running.inbox("alpha").iterdir())) == 1
    assert _refusals(running) == ["the district's upload quota is used up"]
    assert _nothing_left(running)


def test_free_disk_floor(start: StartFn) -> None:
    running = start(min_free_disk=2**62)
    alpha = connect(running.port, "alpha")
    with pytest.raises(OSError, match="short of disk space"):
        alpha.open("users.csv", "w")
    alpha.close()
    assert _refusals(running) == ["the server is short of disk space; try again later"]


def test_open_handles_per_session(start: StartFn) -> None:
    running = start(max_open_handles=2)
    alpha = connect(running.port, "alpha")
    first, second = alpha.open("a.csv", "w"), alpha.open("b.csv", "w")
    with pytest.raises(OSError, match="too many open files"):
        alpha.open("c.csv", "w")
    first.close()
    alpha.open("c.csv", "w").close()  # a slot is free again
    second.close()
    alpha.close()
    assert len(list(running.inbox("alpha").iterdir())) == 3
    assert _refusals(running) == ["too many open files (at most 2)"]


@pytest.mark.parametrize(
    ("limits", "reason"),
    [
        ({"max_connections": 2}, "too many connections"),
        ({"max_connections_per_address": 2}, "too many connections from this address"),
    ],
)
def test_connection_caps(start: StartFn, limits: dict[str, int], reason: str) -> None:
    running = start(**limits)
    clients = [connect(running.port, "alpha"), connect(running.port, "beta")]
    with pytest.raises((paramiko.SSHException, EOFError)):
        connect(running.port, "alpha")
    assert running.events("connect_refused")[0]["reason"] == reason
    clients.pop().close()
    running.wait_for("disconnect")
    clients.append(connect(running.port, "beta"))  # the slot was released
    for client in clients:
        client.close()


def test_one_account_holds_at_most_its_sessions(start: StartFn) -> None:
    running = start(max_sessions_per_account=2)
    clients = [connect(running.port, "alpha"), connect(running.port, "alpha")]
    with pytest.raises((paramiko.SSHException, EOFError)):
        connect(running.port, "alpha").listdir(".")  # logged in, then cut off
    (refused,) = running.wait_for("login_refused")
    assert refused["reason"] == "too many connections for this account (at most 2)"
    assert refused["district"] == "alpha"
    other = connect(running.port, "beta")  # another district keeps its own sessions
    assert other.listdir(".") == []
    clients.pop().close()
    running.wait_for("disconnect", count=2)
    clients.append(connect(running.port, "alpha"))  # the session was given back
    assert clients[-1].listdir(".") == []
    for client in [*clients, other]:
        client.close()


def test_login_timeout(start: StartFn) -> None:
    running = start(login_timeout=0.3)
    with socket.create_connection(("127.0.0.1", running.port)) as sock:
        sock.settimeout(10)
        received = b""
        while chunk := sock.recv(4096):  # we say nothing; the server hangs up
            received += chunk
    assert received.startswith(b"SSH-2.0-")
    (event,) = running.wait_for("disconnect")
    assert "timeout" in event["reason"].lower()


def test_idle_timeout(start: StartFn) -> None:
    running = start(idle_timeout=0.3)
    alpha = connect(running.port, "alpha")
    (event,) = running.wait_for("idle_timeout")
    assert event["username"] == "alpha"
    assert running.wait_for("disconnect")[0]["reason"] == "idle timeout"
    channel = alpha.get_channel()
    assert channel is not None
    transport = channel.get_transport()
    deadline = time.monotonic() + 10
    while transport.is_active() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not transport.is_active()  # we hung up on it
    with pytest.raises((OSError, EOFError, paramiko.SSHException)):
        alpha.listdir("/")


async def _upload_during_shutdown(running: Running, grace: float, finish: bool) -> None:
    conn = await asyncssh.connect(
        "127.0.0.1", running.port, username="alpha", password=PASSWORD, known_hosts=None,
        client_keys=None,
    )  # fmt: skip
    sftp = await conn.start_sftp_client()
    remote = await sftp.open("users.csv", "wb")
    await remote.write(b"a" * 1000)
    closing = asyncio.wrap_future(
        asyncio.run_coroutine_threadsafe(running.receiver.close(grace), running.loop)
    )
    await asyncio.sleep(0.2)
    with pytest.raises(ConnectionRefusedError):  # the listener is gone
        await asyncssh.connect("127.0.0.1", running.port, known_hosts=None)
    if finish:
        await remote.write(b"b" * 1000, 1000)
        await remote.close()
    await closing
    conn.close()


def test_shutdown_lets_in_flight_uploads_finish(start: StartFn) -> None:
    running = start()
    asyncio.run(_upload_during_shutdown(running, grace=10, finish=True))
    (published,) = running.inbox("alpha").iterdir()
    assert published.read_bytes() == b"a" * 1000 + b"b" * 1000


def test_shutdown_discards_what_is_still_open_after_the_grace(start: StartFn) -> None:
    running = start()
    asyncio.run(_upload_during_shutdown(running, grace=0.3, finish=False))
    assert list(running.inbox("alpha").iterdir()) == []
    assert running.events("upload_partial")[0]["bytes"] == 1000
    assert _nothing_left(running)
