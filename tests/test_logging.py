"""`roster serve --log-level`: our lines at the chosen level, asyncssh's only at DEBUG."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from roster_pipeline.cli.service import configure_logging
from tests.helpers import Roster


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root, ssh = logging.getLogger(), logging.getLogger("asyncssh")
    levels = root.level, ssh.level
    yield
    root.setLevel(levels[0])
    ssh.setLevel(levels[1])


@pytest.mark.usefixtures("restored_logging")
@pytest.mark.parametrize(
    ("level", "ours", "asyncssh_info"),
    [("INFO", True, False), ("WARNING", False, False), ("DEBUG", True, True)],
)
def test_log_level_and_no_asyncssh_chatter(level: str, ours: bool, asyncssh_info: bool) -> None:
    configure_logging(level)
    assert logging.getLogger("roster_pipeline.service").isEnabledFor(logging.INFO) is ours
    assert logging.getLogger("asyncssh").isEnabledFor(logging.INFO) is asyncssh_info


def test_serve_offers_log_level(roster: Roster) -> None:
    result = roster("serve", "--help")
    assert "--log-level" in result.output
    assert "[debug|info|warning|error]" in result.output.replace("\n", "").replace(" ", "")
