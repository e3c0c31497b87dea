"""Hostile clients: each attack from the security audit, reproduced against a real receiver."""

from __future__ import annotations

import asyncio
import hashlib
import io

import asyncssh
import paramiko
import pytest

from sftp_server import Account
from tests.sftp.attack import (
    close_then_eof,
    pipelined_guesses,
    sha1_publickey_login,
    sockets_from,
    still_open,
)
from tests.sftp.conftest import PASSWORD, DictAccounts, StartFn, connect


def test_pipelined_password_guesses_are_counted_and_cut_off(start: StartFn) -> None:
    running = start(auth_failure_delay=0.5, ban_threshold=3)
    guesses = [f"wrong-{n}" for n in range(30)] + [PASSWORD]
    assert pipelined_guesses(running.port, guesses, gap=0.02)
    assert running.events("auth_ok") == []  # the right password never got in
    assert len(running.events("auth_fail")) <= 6
    (event,) = running.wait_for("disconnect")
    assert event["reason"] == "too many authentication failures"
    # The guesses also scored: the next ones from here are turned away at the door.
    for _ in range(2):
        assert pipelined_guesses(running.port, guesses[:5], gap=0.02)
    assert len(running.events("banned")) == 1
    with pytest.raises((paramiko.SSHException, EOFError, OSError)):
        connect(running.port, "alpha")
    assert "banned" in running.wait_for("connect_refused")[0]["reason"]
    assert running.events("auth_ok") == []


def test_explicit_close_then_eof_publishes_what_it_answered_ok(start: StartFn) -> None:
    running = start()
    alpha = connect(running.port, "alpha")
    answered_ok = close_then_eof(alpha, "users.csv", b"id\n1\n" * 1000)
    alpha.close()
    assert answered_ok
    (event,) = running.wait_for("upload_published")
    assert event["name"] == "users.csv"
    (published,) = running.inbox("alpha").iterdir()
    assert published.read_bytes() == b"id\n1\n" * 1000
    assert running.events("upload_partial") == []


def test_idle_unauthenticated_sockets_do_not_lock_districts_out(start: StartFn) -> None:
    running = start(
        max_connections=40, max_connections_per_address=20,
        max_startups=30, max_startups_begin=15, max_startups_per_address=5,
    )  # fmt: skip
    logged_in = connect(running.port, "beta")  # a district already uploading
    held = [sock for source in ("127.0.0.2", "127.0.0.3")
            for sock in sockets_from(source, running.port, 30)]  # fmt: skip
    try:
        assert still_open(held) == 10  # five per source; the rest were dropped at once
        connect(running.port, "alpha").close()  # another district still gets in
        logged_in.putfo(io.BytesIO(b"id\n"), "users.csv")  # and the session kept its slot
        logged_in.close()
    finally:
        for sock in held:
            sock.close()
    reasons = {e["reason"] for e in running.events("connect_refused")}
    assert reasons == {"too many unauthenticated connections from this address"}


def test_connection_rate_per_source_and_penalty_for_never_logging_in(start: StartFn) -> None:
    running = start(max_connects_per_minute=6, ban_threshold=2)
    for sock in sockets_from("127.0.0.2", running.port, 8):
        sock.close()  # connect and leave without trying to log in
    running.wait_for("connect_refused", 2)
    reasons = [e["reason"] for e in running.events("connect_refused")]
    assert "connecting too often from this address" in reasons
    assert [e["address"] for e in running.wait_for("banned")] == ["127.0.0.2"]
    assert running.events("banned")[0]["kind"] == "never_authenticated"
    connect(running.port, "alpha").close()  # 127.0.0.1 is another source


def test_exempt_addresses_are_never_refused_or_banned(start: StartFn) -> None:
    running = start(max_startups_per_address=2, ban_threshold=1, exempt_addresses=("127.0.0.2/32",))
    held = sockets_from("127.0.0.2", running.port, 6)
    try:
        assert still_open(held, wait=0.5) == 6
    finally:
        for sock in held:
            sock.close()
    assert pipelined_guesses(running.port, ["wrong-1", "wrong-2"], gap=0.02) is True
    assert running.events("connect_refused") == []
    assert [e["address"] for e in running.wait_for("banned")] == ["127.0.0.1"]


def _open_on_a_new_session(transport: paramiko.Transport, name: str) -> None:
    session = paramiko.SFTPClient.from_transport(transport)
    assert session is not None
    session.open(name, "wb")


def test_channels_per_connection_are_capped(start: StartFn) -> None:
    running = start(max_channels=2)
    transport = paramiko.Transport(("127.0.0.1", running.port))
    transport.connect(username="alpha", password=PASSWORD)
    sessions = [paramiko.SFTPClient.from_transport(transport) for _ in range(2)]
    held = [s.open(f"f{i}.csv", "wb") for i, s in enumerate(sessions) if s]
    with pytest.raises((paramiko.SSHException, EOFError, OSError)):
        _open_on_a_new_session(transport, "third.csv")
    transport.close()
    assert [e["reason"] for e in running.events("channel_refused")] == [
        "too many SFTP sessions on one connection"
    ]
    assert len(running.wait_for("upload_partial", len(held))) == 2  # nothing half-published
    assert list(running.inbox("alpha").iterdir()) == []


def test_open_files_are_capped_per_account_across_connections(start: StartFn) -> None:
    running = start(max_open_handles=4)
    first, second = connect(running.port, "alpha"), connect(running.port, "alpha")
    files = [client.open(f"{n}-{i}.csv", "wb") for n, client in enumerate((first, second))
             for i in range(2)]  # fmt: skip
    third = connect(running.port, "alpha")
    with pytest.raises(OSError, match="too many open files"):
        third.open("fifth.csv", "wb")
    connect(running.port, "beta").open("other.csv", "wb").close()  # other accounts unaffected
    files.pop().close()
    third.open("fifth.csv", "wb").close()  # a freed slot is usable again
    for handle in files:
        handle.close()
    for client in (first, second, third):
        client.close()
    assert len(running.wait_for("upload_published", 6)) == 6


def test_a_password_flood_is_counted_and_logged_within_bounds(start: StartFn) -> None:
    running = start(ban_threshold=1000)
    for _ in range(22):  # each connection: one guess cut off by the next, then hung up on
        assert pipelined_guesses(running.port, ["a", "b", "c"], gap=0.0)
    running.stop()
    failures = running.events("auth_fail")
    assert len(failures) == 20  # a burst per source and minute, then held back ...
    limited = {e["of"] for e in running.events("log_rate_limited")}
    assert limited == {"auth_fail", "connect", "disconnect"}
    held = {e["of"]: e["lines"] for e in running.events("log_suppressed")}
    assert len(failures) + held["auth_fail"] >= 22  # ... and counted, every one


async def _keys_then_password(port: int, keys: list[asyncssh.SSHKey]) -> None:
    """OpenSSH's habit: offer every key it has, then fall back to the password."""
    async with asyncssh.connect(
        "127.0.0.1", port, username="alpha", password=PASSWORD, client_keys=keys,
        known_hosts=None, preferred_auth="publickey,password",
    ) as conn:  # fmt: skip
        sftp = await conn.start_sftp_client()
        await sftp.listdir()
        sftp.exit()


def test_key_probes_before_the_password_never_earn_a_ban(start: StartFn) -> None:
    running = start(ban_threshold=4)
    keys = [asyncssh.generate_private_key("ssh-ed25519") for _ in range(4)]
    for _ in range(3):  # three nights: twelve refused keys, three good logins
        asyncio.run(_keys_then_password(running.port, keys))
    assert len(running.events("auth_fail")) == 12
    assert {e["method"] for e in running.events("auth_fail")} == {"publickey"}
    assert len(running.events("auth_ok")) == 3
    assert running.events("banned") == []


def test_exclusive_create_of_an_existing_name_is_refused(start: StartFn) -> None:
    running = start()
    alpha = connect(running.port, "alpha")
    alpha.putfo(io.BytesIO(b"id\n"), "users.csv")
    with pytest.raises(OSError, match="exists"):
        alpha.open("users.csv", "wx")  # O_EXCL: SSH_FXF_EXCL
    alpha.close()
    assert len(running.events("upload_published")) == 1


def test_statvfs_shows_the_district_quota_not_the_disk(start: StartFn) -> None:
    running = start(district_quota=8 * 4096 * 1000, max_files=50)
    alpha = connect(running.port, "alpha")
    alpha.putfo(io.BytesIO(b"x" * 4096 * 1000), "users.csv")
    alpha.close()
    shown = asyncio.run(_statvfs(running.port))
    assert (shown.bsize, shown.blocks, shown.files) == (4096, 8000, 50)
    assert shown.bfree == 7000
    assert shown.ffree == 49


async def _statvfs(port: int) -> asyncssh.SFTPVFSAttrs:
    async with asyncssh.connect(
        "127.0.0.1", port, username="alpha", password=PASSWORD, known_hosts=None,
        client_keys=None,
    ) as conn:  # fmt: skip
        sftp = await conn.start_sftp_client()
        return await sftp.statvfs("/")


def test_truncate_is_done_or_refused_never_a_silent_ok(start: StartFn) -> None:
    running = start()
    alpha = connect(running.port, "alpha")
    with alpha.open("users.csv", "wb") as out:
        out.write(b"id\n1\n2\n")
        out.flush()
        out.truncate(5)  # fsetstat size on the open upload: done
    with pytest.raises(PermissionError):
        alpha.truncate("users.csv", 0)  # a published file: refused
    alpha.close()
    (published,) = running.inbox("alpha").iterdir()
    assert published.read_bytes() == b"id\n1\n"
    (event,) = running.events("upload_published")
    assert event["sha256"] == hashlib.sha256(b"id\n1\n").hexdigest()


async def _ranges_on_an_upload(port: int) -> str:
    async with asyncssh.connect(
        "127.0.0.1", port, username="alpha", password=PASSWORD, known_hosts=None,
        client_keys=None,
    ) as conn:  # fmt: skip
        sftp = await conn.start_sftp_client()
        remote = await sftp.open("users.csv", "wb")
        await remote.write(b"id\n")
        try:
            async for _ in remote.request_ranges(0, 3):
                pass
        except asyncssh.SFTPError as exc:
            return f"{type(exc).__name__}: {exc.reason}"
        finally:
            await remote.close()
        return "answered"


def test_ranges_extension_on_an_upload_is_a_clean_unsupported(start: StartFn) -> None:
    running = start()
    assert asyncio.run(_ranges_on_an_upload(running.port)) == (
        "SFTPOpUnsupported: not supported on uploads"
    )
    assert len(running.wait_for("upload_published")) == 1  # the session went on


def test_sha1_client_signatures_are_refused_unless_legacy(start: StartFn) -> None:
    key = asyncssh.generate_private_key("ssh-rsa", key_size=2048)
    accounts = DictAccounts()
    public = key.export_public_key().decode().strip()
    accounts.add(Account("keyed", "keyed", "", authorized_keys=(public,)))
    assert not sha1_publickey_login(start(accounts).port, "keyed", key)
    assert sha1_publickey_login(start(accounts, legacy=True).port, "keyed", key)
