"""The hand-off: only explicitly closed files are published, each under its own name."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from concurrent.futures import ThreadPoolExecutor

import asyncssh
import pytest

from sftp_server import original_name
from tests.sftp.conftest import PASSWORD, Running, StartFn, connect

STAMPED = re.compile(r"^\d{8}T\d{6}Z(-\d+)?-(.+)$")


def _published(running: Running, district: str) -> dict[str, bytes]:
    folder = running.inbox(district)
    return {p.name: p.read_bytes() for p in folder.iterdir()} if folder.exists() else {}


def _staging_is_empty(running: Running, district: str) -> bool:
    folder = running.config.staging_root / district
    return not folder.exists() or not any(folder.iterdir())


def test_upload_is_published_with_a_complete_record(start: StartFn) -> None:
    running = start()
    data = os.urandom(300_000)
    alpha = connect(running.port, "alpha")
    alpha.putfo(__import__("io").BytesIO(data), "users.csv")
    alpha.close()
    ((name, content),) = _published(running, "alpha").items()
    assert content == data
    assert original_name(name) == "users.csv"
    (record,) = running.accounts.uploads
    assert record.district == "alpha"
    assert record.original_name == "users.csv"
    assert record.published_path == running.inbox("alpha") / name
    assert record.size == len(data)
    assert record.sha256 == hashlib.sha256(data).hexdigest()
    assert record.client_address == "127.0.0.1"
    assert record.client_version.startswith("SSH-2.0-paramiko")
    assert record.algorithms.cipher
    assert record.algorithms.mac
    assert record.algorithms.host_key == "ssh-ed25519"
    assert record.started <= record.finished
    (event,) = running.events("upload_published")
    assert event["sha256"] == record.sha256
    assert event["published"] == name
    assert _staging_is_empty(running, "alpha")


def test_same_name_twice_gives_two_files(start: StartFn) -> None:
    running = start()
    alpha = connect(running.port, "alpha")
    for body in (b"first\n", b"second\n", b"third\n"):
        with alpha.open("users.csv", "w") as out:
            out.write(body)
    alpha.close()
    published = _published(running, "alpha")
    assert sorted(published.values()) == [b"first\n", b"second\n", b"third\n"]
    assert {original_name(n) for n in published} == {"users.csv"}
    assert all(STAMPED.match(n) for n in published)


@pytest.mark.parametrize(
    "temp",
    [
        "users.csv.filepart",  # WinSCP
        "users.csv.part",
        "users.csv.TMP",
        ".in.users.csv",  # lftp (xfer:use-temp-file)
        "users.csv.partial",  # rclone
        "users.csv.inprogress",
    ],
)
def test_temp_name_upload_publishes_on_rename(start: StartFn, temp: str) -> None:
    running = start()
    alpha = connect(running.port, "alpha")
    with alpha.open(temp, "w") as out:
        out.write(b"complete\n")
    assert _published(running, "alpha") == {}  # not yet: it still has its temporary name
    assert alpha.stat(temp).st_size == 9  # WinSCP checks before renaming
    alpha.rename(temp, "users.csv")
    alpha.close()
    ((name, content),) = _published(running, "alpha").items()
    assert content == b"complete\n"
    assert original_name(name) == "users.csv"
    assert running.accounts.uploads[0].original_name == "users.csv"


def test_temp_name_never_renamed_is_a_partial(start: StartFn) -> None:
    running = start()
    alpha = connect(running.port, "alpha")
    with alpha.open("users.csv.filepart", "w") as out:
        out.write(b"abandoned\n")
    alpha.close()
    (event,) = running.wait_for("upload_partial")
    assert event["reason"] == "uploaded under a temporary name and never renamed"
    assert _published(running, "alpha") == {}
    assert _staging_is_empty(running, "alpha")


def test_rename_over_an_existing_file_is_refused(start: StartFn) -> None:
    running = start()
    running.inbox("alpha").mkdir(parents=True)
    (running.inbox("alpha") / "users.csv").write_bytes(b"old\n")
    alpha = connect(running.port, "alpha")
    with alpha.open("users.csv.part", "w") as out:
        out.write(b"new\n")
    with pytest.raises(PermissionError):
        alpha.rename("users.csv.part", "users.csv")
    alpha.close()
    assert (running.inbox("alpha") / "users.csv").read_bytes() == b"old\n"


async def _drop_mid_upload(port: int, how: str) -> None:
    conn = await asyncssh.connect(
        "127.0.0.1", port, username="alpha", password=PASSWORD, known_hosts=None,
        client_keys=None,
    )  # fmt: skip
    sftp = await conn.start_sftp_client()
    remote = await sftp.open("users.csv", "wb")
    await remote.write(b"x" * 500_000)
    if how == "socket":
        conn.abort()  # the TCP connection just goes away
    else:
        sftp.exit()  # the SFTP channel closes with the handle still open
        await sftp.wait_closed()
        conn.close()
    await conn.wait_closed()


@pytest.mark.parametrize("how", ["socket", "channel"])
def test_dropped_connection_publishes_nothing(start: StartFn, how: str) -> None:
    """Pins asyncssh's behaviour: its cleanup calls our close hook for open handles.

    If asyncssh stopped doing so, no partial would be logged and the staging
    file would stay behind: both are asserted.
    """
    running = start()
    asyncio.run(_drop_mid_upload(running.port, how))
    (event,) = running.wait_for("upload_partial")
    assert event["reason"] == "connection closed before the file was closed"
    assert event["bytes"] == 500_000
    assert _published(running, "alpha") == {}
    assert running.accounts.uploads == []
    assert _staging_is_empty(running, "alpha")


def test_fifty_parallel_connections_all_arrive_intact(start: StartFn) -> None:
    running = start(  # fifty logins at once from one address: a burst the gates would thin
        max_connections_per_address=60, max_startups_per_address=60, max_startups_begin=60,
        max_sessions_per_account=60,
    )  # fmt: skip
    bodies = {f"file{i:02d}.csv": os.urandom(50_000 + i * 997) for i in range(50)}

    def upload(item: tuple[str, bytes]) -> None:
        name, body = item
        client = connect(running.port, "alpha")
        client.putfo(__import__("io").BytesIO(body), name)
        client.close()

    with ThreadPoolExecutor(max_workers=50) as pool:
        list(pool.map(upload, bodies.items()))
    published = _published(running, "alpha")
    assert len(published) == 50
    got = {original_name(n): hashlib.sha256(b).hexdigest() for n, b in published.items()}
    assert got == {n: hashlib.sha256(b).hexdigest() for n, b in bodies.items()}
    assert {r.sha256 for r in running.accounts.uploads} == set(got.values())


def test_temp_name_conventions_are_a_setting(start: StartFn) -> None:
    running = start(temp_names=("*.upload-in-progress",))
    alpha = connect(running.port, "alpha")
    with alpha.open("users.csv.upload-in-progress", "w") as out:
        out.write(b"complete\n")
    alpha.rename("users.csv.upload-in-progress", "users.csv")
    with alpha.open("roles.csv.part", "w") as out:  # not a temp name here: published at once
        out.write(b"x\n")
    alpha.close()
    assert {original_name(n) for n in _published(running, "alpha")} == {
        "users.csv",
        "roles.csv.part",
    }


def test_staging_left_by_a_crash_is_swept_at_start_live_uploads_are_not(
    start: StartFn,
) -> None:
    first = start()
    alpha = connect(first.port, "alpha")
    live = alpha.open("live.csv", "wb")
    live.write(b"still coming\n")
    live.flush()
    orphan = first.config.staging_root / "beta" / ".0123abcd.upload"
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"x" * 10_000)  # a receiver died mid-upload
    second = start()  # another receiver on the same home starts
    assert not orphan.exists()
    (event,) = second.events("staging_swept")
    assert event["files"] == 1
    live.close()  # the first receiver's upload was left alone
    alpha.close()
    assert _published(first, "alpha")
