"""Receiver bans in the database: shared by receivers, kept across restarts, listed and lifted."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import paramiko
import pytest

from roster_pipeline.cli.exits import code_for
from roster_pipeline.districts import DistrictAccounts
from roster_pipeline.errors import InputError, NotFoundError, RosterError
from roster_pipeline.store import open_store
from sftp_server import Limits, Receiver, ReceiverConfig, add_host_key, start_receiver
from tests.helpers import Roster, as_json

LIMITS = Limits(auth_failure_delay=0.01, ban_threshold=2, login_timeout=10)


def _start(loop: asyncio.AbstractEventLoop, home: Path, url: str) -> Receiver:
    accounts = DistrictAccounts(url)  # no districts: every login fails as unknown user
    config = ReceiverConfig.under(home, port=0, limits=LIMITS)
    return asyncio.run_coroutine_threadsafe(
        start_receiver(config, accounts, bans=accounts), loop
    ).result(30)


def _stop(loop: asyncio.AbstractEventLoop, receiver: Receiver) -> None:
    asyncio.run_coroutine_threadsafe(receiver.close(), loop).result(30)
    assert isinstance(receiver.accounts, DistrictAccounts)
    receiver.accounts.close()


def _login_refused_at_the_door(port: int) -> bool:
    """True when the connection is turned away before any login (a ban)."""
    transport = paramiko.Transport(("127.0.0.1", port))
    try:
        transport.connect(username="nobody", password="wrong")
    except paramiko.AuthenticationException:
        return False  # it got as far as a password check
    except (paramiko.SSHException, EOFError, OSError):
        return True
    finally:
        transport.close()
    raise AssertionError("a login that cannot succeed succeeded")


def _eventually(probe: bool, check: object, seconds: float = 6.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check() is probe:  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"still not {probe} after {seconds} s")


def test_a_ban_is_shared_kept_across_restarts_listed_and_lifted(
    roster: Roster, tmp_path: Path, store_url: str, event_loop_thread: asyncio.AbstractEventLoop
) -> None:
    home = tmp_path / "home"
    store = open_store(store_url)
    store.migrate()
    store.close()
    add_host_key(home / "hostkeys", "ed25519")  # one quick key is enough here
    first = _start(event_loop_thread, home, store_url)
    second = _start(event_loop_thread, home, store_url)
    for _ in range(2):
        assert not _login_refused_at_the_door(first.port)
    _eventually(True, lambda: _login_refused_at_the_door(second.port))  # the other receiver
    _stop(event_loop_thread, first)
    restarted = _start(event_loop_thread, home, store_url)
    assert _login_refused_at_the_door(restarted.port)  # a restart lifts nothing
    (listed,) = as_json(roster("ban", "list", "--json"))
    assert (listed["address"], listed["reason"]) == ("127.0.0.1", "password")
    assert roster("ban", "lift", "127.0.0.1").exit_code == 0
    _eventually(False, lambda: _login_refused_at_the_door(second.port))
    assert as_json(roster("ban", "list", "--json")) == []
    for receiver in (second, restarted):
        _stop(event_loop_thread, receiver)


@pytest.mark.parametrize(
    ("address", "message", "error"),
    [
        ("127.0.0.9", "127.0.0.9 is not banned", NotFoundError),
        ("not-an-ip", "'not-an-ip' is not an IP address", InputError),
    ],
)
def test_lifting_what_is_not_banned_says_so(
    roster: Roster, address: str, message: str, error: type[RosterError]
) -> None:
    result = roster("ban", "lift", address)
    assert result.exit_code == code_for(error(""))
    assert message in result.output
    assert "Traceback" not in result.output
