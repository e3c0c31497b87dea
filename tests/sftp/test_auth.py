"""Authentication: who gets in, who does not, and what the audit log says about it."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import asyncssh
import paramiko
import pytest

from sftp_server import Account
from tests.sftp.conftest import PASSWORD, DictAccounts, StartFn, connect


def _refused(port: int, username: str, password: str = PASSWORD) -> None:
    transport = paramiko.Transport(("127.0.0.1", port))
    try:
        with pytest.raises(paramiko.AuthenticationException):
            transport.connect(username=username, password=password)
    finally:
        transport.close()


class _Guesser(asyncssh.SSHClient):
    """An asyncssh client that keeps offering wrong passwords on one connection."""

    def __init__(self) -> None:
        self.guesses = 0

    def password_auth_requested(self) -> str:
        self.guesses += 1
        return f"wrong-{self.guesses}"


async def _guess_until_disconnected(port: int) -> int:
    guesser = _Guesser()
    with pytest.raises(asyncssh.PermissionDenied):
        await asyncssh.connect(
            "127.0.0.1", port, username="alpha", known_hosts=None,
            client_factory=lambda: guesser, client_keys=None, preferred_auth="password",
        )  # fmt: skip
    return guesser.guesses


def test_password_login_is_audited_without_the_password(start: StartFn) -> None:
    running = start()
    connect(running.port, "alpha").close()
    _refused(running.port, "alpha", "wrong-password-xyz")
    ok = running.events("auth_ok")
    assert [(e["username"], e["method"]) for e in ok] == [("alpha", "password")]
    fail = running.events("auth_fail")
    assert [(e["username"], e["method"], e["reason"]) for e in fail] == [
        ("alpha", "password", "wrong password")
    ]
    text = running.config.audit_log.read_text()
    assert PASSWORD not in text
    assert "wrong-password-xyz" not in text
    assert len(running.wait_for("disconnect", 2)) == 2
    assert len(running.events("connect")) == 2


def test_unknown_user_is_refused(start: StartFn) -> None:
    running = start()
    _refused(running.port, "nobody")
    assert running.events("auth_fail")[0]["reason"] == "unknown user"


def test_disabled_account_is_refused_even_with_the_right_password(
    start: StartFn, password_hash: str
) -> None:
    accounts = DictAccounts()
    accounts.add(Account("gamma", "gamma", password_hash, enabled=False))
    running = start(accounts)
    _refused(running.port, "gamma")
    assert running.events("auth_fail")[0]["reason"] == "account disabled"


def test_address_outside_allow_list_is_refused(start: StartFn, password_hash: str) -> None:
    accounts = DictAccounts()
    accounts.add(Account("gamma", "gamma", password_hash, allowed_cidrs=("10.0.0.0/8",)))
    accounts.add(Account("delta", "delta", password_hash, allowed_cidrs=("127.0.0.0/8",)))
    running = start(accounts)
    _refused(running.port, "gamma")
    assert running.events("auth_fail")[0]["reason"] == "address not allowed for this account"
    connect(running.port, "delta").close()


def test_public_key_login(start: StartFn, password_hash: str, client_key: tuple[Path, str]) -> None:
    path, public = client_key
    accounts = DictAccounts()
    accounts.add(Account("keyed", "keyed", "", authorized_keys=(public,)))
    running = start(accounts)
    pkey = paramiko.Ed25519Key.from_private_key_file(str(path))
    connect(running.port, "keyed", password=None, pkey=pkey).close()
    assert running.events("auth_ok")[0]["method"] == "publickey"
    _refused(running.port, "keyed", "")  # key-only: no password works
    other = paramiko.Ed25519Key.from_private_key_file(str(path))
    accounts.add(dataclasses.replace(accounts.accounts["keyed"], authorized_keys=()))
    with pytest.raises(paramiko.AuthenticationException):
        connect(running.port, "keyed", password=None, pkey=other)


def test_only_password_and_publickey_are_offered(start: StartFn) -> None:
    running = start()
    transport = paramiko.Transport(("127.0.0.1", running.port))
    transport.start_client()
    with pytest.raises(paramiko.BadAuthenticationType) as info:
        transport.auth_none("alpha")  # refused: no login without authentication
    transport.close()
    assert sorted(info.value.allowed_types) == ["password", "publickey"]


def test_six_tries_per_connection_then_disconnect(start: StartFn) -> None:
    running = start()
    guesses = asyncio.run(_guess_until_disconnected(running.port))
    assert guesses == 6  # the client would go on forever; we hang up after six
    assert len(running.events("auth_fail")) == 6
    (event,) = running.wait_for("disconnect")
    assert event["reason"] == "too many authentication failures"


def test_brute_force_gets_the_address_banned(start: StartFn) -> None:
    running = start(ban_threshold=4)
    for attempt in range(4):
        _refused(running.port, "alpha", f"guess-{attempt}")
    assert len(running.events("banned")) == 1
    # Even the right password is now refused: the connection itself is turned away.
    with pytest.raises((paramiko.SSHException, EOFError, OSError)):
        connect(running.port, "alpha")
    refused = running.events("connect_refused")
    assert refused
    assert "banned" in refused[-1]["reason"]


def test_shell_exec_and_forwarding_are_refused(start: StartFn) -> None:
    running = start()
    transport = paramiko.Transport(("127.0.0.1", running.port))
    transport.connect(username="alpha", password=PASSWORD)
    for attempt in ("invoke_shell", "exec_command", "get_pty", "request_x11"):
        channel = transport.open_session()
        call = getattr(channel, attempt)
        args = ("id",) if attempt == "exec_command" else ()
        with pytest.raises(paramiko.SSHException):
            call(*args)
        channel.close()
    with pytest.raises(paramiko.ChannelException):
        transport.open_channel("direct-tcpip", ("127.0.0.1", 22), ("127.0.0.1", 5555))
    with pytest.raises(paramiko.SSHException):
        transport.request_port_forward("127.0.0.1", 0)
    transport.close()
