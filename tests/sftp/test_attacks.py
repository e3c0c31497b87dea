"""Hostile clients: each attack from the security audit, reproduced against a real receiver."""

from __future__ import annotations

import paramiko
import pytest

from tests.sftp.attack import close_then_eof, pipelined_guesses
from tests.sftp.conftest import PASSWORD, StartFn, connect


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
