"""The home is private: the database holds password hashes, the folders districts' files."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Roster


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.usefixtures("permissive_umask")
def test_init_creates_a_private_home_and_tightens_an_old_one(
    bare_roster: Roster, tmp_path: Path, store_url: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "inbox").mkdir(mode=0o755)  # as an older version left it
    assert bare_roster("init").exit_code == 0
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in home.iterdir()}
    folders = {name: mode for name, mode in modes.items() if (home / name).is_dir()}
    assert set(folders.values()) == {0o700}
    assert len(folders) == 8
    if store_url.startswith("sqlite:///"):
        database = Path(store_url.removeprefix("sqlite:///"))
        assert stat.S_IMODE(database.stat().st_mode) == 0o600
