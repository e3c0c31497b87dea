"""The district quota and file limit hold across parallel sessions and receivers; opens are O(1)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.sftp.conftest import StartFn, connect

CHUNK = 32_768


def test_quota_holds_across_parallel_uploads_on_two_receivers(start: StartFn) -> None:
    quota = 1_000_000
    receivers = [start(district_quota=quota), start(district_quota=quota)]  # one home
    clients = [connect(receivers[n % 2].port, "alpha") for n in range(8)]
    files = [client.open(f"part{n}.csv", "wb") for n, client in enumerate(clients)]
    refused: set[int] = set()
    for _ in range(300_000 // CHUNK + 1):  # round robin: every upload is in flight at once
        for n, remote in enumerate(files):
            if n not in refused:
                try:
                    remote.write(b"x" * CHUNK)
                except OSError:
                    refused.add(n)
    for n, remote in enumerate(files):
        try:
            remote.close()
        except OSError:
            assert n in refused
    for client in clients:
        client.close()
    stored = sum(p.stat().st_size for p in receivers[0].inbox("alpha").iterdir())
    assert refused
    assert len(files) - len(refused) >= 2  # the quota is shared, not taken by one upload
    assert stored <= quota
    reasons = {e["reason"] for r in receivers for e in r.events("upload_refused")}
    assert reasons == {"the district's upload quota is used up"}


def test_file_count_limit(start: StartFn) -> None:
    running = start(max_files=3)
    alpha = connect(running.port, "alpha")
    for name in ("one.csv", "two.csv"):
        alpha.open(name, "wb").close()
    third = alpha.open("three.csv", "wb")  # the third slot, held while it uploads
    with pytest.raises(OSError, match="3 files waiting"):
        alpha.open("four.csv", "wb")
    third.close()
    connect(running.port, "beta").open("other.csv", "wb").close()  # per district
    alpha.close()
    assert len(list(running.inbox("alpha").iterdir())) == 3


def test_opens_do_not_scan_the_inbox_each_time(
    start: StartFn, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = start()
    alpha = connect(running.port, "alpha")
    alpha.open("first.csv", "wb").close()  # the inbox folder exists from here on
    inbox = running.inbox("alpha")
    scans: list[Path] = []
    real_scandir = os.scandir

    def counting_scandir(path: Any = ".") -> Any:
        if Path(path) == inbox:
            scans.append(Path(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", counting_scandir)
    for n in range(30):
        alpha.open(f"file{n}.csv", "wb").close()
    alpha.close()
    assert len(scans) <= 2  # one recount per couple of seconds at most, not one per open
    assert len(list(inbox.iterdir())) == 31
