"""Everything the receiver creates is private to the service's user, whatever the umask."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sftp.conftest import StartFn, connect


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("permissive_umask")
def test_folders_files_and_the_audit_log_are_private(start: StartFn) -> None:
    running = start()
    alpha = connect(running.port, "alpha")
    alpha.putfo(io.BytesIO(b"id\n1\n"), "users.csv")
    alpha.close()
    (published,) = running.inbox("alpha").iterdir()
    config = running.config
    folders = [config.inbox_root, running.inbox("alpha"), config.staging_root,
               config.staging_root / "alpha", config.audit_log.parent]  # fmt: skip
    assert {str(f): _mode(f) for f in folders} == {str(f): 0o700 for f in folders}
    assert _mode(config.audit_log) == 0o600
    assert _mode(published) == 0o600
