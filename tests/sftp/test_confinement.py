"""Confinement: a district sees its own folder as /, can upload and look, and nothing else."""

from __future__ import annotations

import os
import re

import paramiko
import pytest

from tests.sftp.conftest import Running, StartFn, connect


def _denied(call: object, *args: object) -> None:
    with pytest.raises(PermissionError):
        call(*args)  # type: ignore[operator]


@pytest.fixture
def running(start: StartFn) -> Running:
    running = start()
    beta = connect(running.port, "beta")
    with beta.open("secret.csv", "w") as out:
        out.write(b"beta only\n")
    beta.close()
    return running


def test_each_district_sees_only_its_own_folder_as_root(running: Running) -> None:
    alpha = connect(running.port, "alpha")
    assert alpha.listdir("/") == []
    assert alpha.normalize(".") == "/"
    assert alpha.normalize("../../..") == "/"
    with alpha.open("users.csv", "w") as out:
        out.write(b"x\n")
    (name,) = alpha.listdir("/")
    assert re.fullmatch(r"\d{8}T\d{6}Z-users\.csv", name)
    assert alpha.listdir("/../..") == alpha.listdir("/")  # .. stops at the root
    alpha.close()
    assert [p.name for p in running.inbox("alpha").iterdir()] == [name]


def test_district_cannot_reach_another_districts_files(running: Running) -> None:
    (beta_name,) = os.listdir(running.inbox("beta"))
    alpha = connect(running.port, "alpha")
    for path in (f"../beta/{beta_name}", f"/../beta/{beta_name}", f"/{beta_name}"):
        with pytest.raises(FileNotFoundError):
            alpha.stat(path)
        with pytest.raises((PermissionError, FileNotFoundError)):
            alpha.open(path, "r")
    for folder in ("../beta", "/../../beta", "beta"):
        with pytest.raises(FileNotFoundError):
            alpha.listdir(folder)
    with pytest.raises(FileNotFoundError):  # no sub-folders: writes cannot leave /
        alpha.open("../beta/planted.csv", "w").close()
    with alpha.open("/../../../beta.csv", "w") as out:  # normalised to /beta.csv of alpha
        out.write(b"mine\n")
    alpha.close()
    assert os.listdir(running.inbox("beta")) == [beta_name]
    assert [n.endswith("-beta.csv") for n in os.listdir(running.inbox("alpha"))] == [True]


def test_reading_is_refused_listing_and_stat_are_allowed(running: Running) -> None:
    beta = connect(running.port, "beta")
    (name,) = beta.listdir("/")
    assert beta.stat(name).st_size == len(b"beta only\n")
    with pytest.raises(FileNotFoundError):  # published under its new name only ...
        beta.stat("secret.csv")
    with beta.open("again.csv", "w") as out:
        out.write(b"12345")
    assert beta.stat("again.csv").st_size == 5  # ... but stat-after-upload works in-session
    _denied(beta.open, name, "r")
    _denied(beta.open, name, "r+")
    _denied(beta.open, name, "a")  # appending modifies a published file
    beta.close()


def test_every_changing_operation_is_refused(running: Running) -> None:
    beta = connect(running.port, "beta")
    (name,) = beta.listdir("/")
    _denied(beta.mkdir, "sub")
    _denied(beta.rmdir, "sub")
    _denied(beta.remove, name)
    _denied(beta.symlink, "/etc/passwd", "link.csv")
    _denied(beta.rename, name, "other.csv")
    _denied(beta.posix_rename, name, "other.csv")
    _denied(beta.chmod, name, 0o777)
    _denied(beta.chown, name, 0, 0)
    _denied(beta.readlink, name)
    beta.utime(name, (1_000_000, 1_000_000))  # setstat of times: accepted, ignored
    assert beta.stat(name).st_mtime != 1_000_000
    # paramiko has no hard-link call; send the OpenSSH extension (a private method).
    hardlink = beta._request  # type: ignore[attr-defined]
    with pytest.raises(PermissionError):
        hardlink(paramiko.sftp.CMD_EXTENDED, "hardlink@openssh.com", name, "hard.csv")
    beta.close()
    assert len(os.listdir(running.inbox("beta"))) == 1


def test_symlink_planted_in_the_inbox_is_never_followed(running: Running) -> None:
    outside = running.home / "outside.txt"
    outside.write_text("private\n")
    running.inbox("alpha").mkdir(parents=True)
    os.symlink(outside, running.inbox("alpha") / "escape.csv")
    os.symlink("/", running.inbox("alpha") / "rootdir")
    alpha = connect(running.port, "alpha")
    assert alpha.listdir("/") == []  # links are not shown
    with pytest.raises(FileNotFoundError):
        alpha.stat("escape.csv")
    with pytest.raises(FileNotFoundError):
        alpha.listdir("rootdir")
    _denied(alpha.open, "escape.csv", "r")
    with alpha.open("escape.csv", "w") as out:  # a new upload, not a write through the link
        out.write(b"new\n")
    alpha.close()
    assert outside.read_text() == "private\n"


def test_setstat_with_permissions_is_chmod_and_refused_fsetstat_is_ignored(
    running: Running,
) -> None:
    alpha = connect(running.port, "alpha")
    with alpha.open("users.csv", "w") as out:
        out.write(b"1\n")
        out.chmod(0o600)  # fsetstat on an open upload (`put -p`): accepted and ignored
        out.utime((1, 1))
    with pytest.raises(PermissionError, match="permissions or owner"):
        alpha.chmod("users.csv", 0o600)
    alpha.close()


@pytest.mark.parametrize("name", [".hidden.csv", "tab\there.csv", "x" * 201, "sub/dir.csv"])
def test_unacceptable_names_get_a_clean_error(running: Running, name: str) -> None:
    alpha = connect(running.port, "alpha")
    with pytest.raises(OSError, match=r"acceptable file name|no such folder"):
        alpha.open(name, "w")
    alpha.listdir("/")  # the session is still fine
    alpha.close()
    assert not any(running.inbox("alpha").iterdir())
