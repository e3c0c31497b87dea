"""Real third-party clients: OpenSSH sftp (password via sshpass, and key), curl (libssh2).

Under CI these must run: a missing client fails (``require``), it never skips.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sftp_server import Account, add_host_key, fingerprints
from sftp_server.inbox import original_name
from tests.sftp.conftest import PASSWORD, DictAccounts, Running, StartFn, require


def _known_hosts(running: Running, tmp_path: Path) -> Path:
    """A known_hosts file pinning every host key we serve."""
    lines = [
        f"[127.0.0.1]:{running.port} {pub.read_text().split()[0]} {pub.read_text().split()[1]}"
        for pub in sorted(running.config.hostkeys_dir.glob("*.pub"))
    ]
    path = tmp_path / "known_hosts"
    path.write_text("\n".join(lines) + "\n")
    return path


def _sftp_command(running: Running, tmp_path: Path, batch: str, *auth: str) -> list[str]:
    script = tmp_path / "batch"
    script.write_text(batch)
    return [
        require("sftp"), *auth, "-b", str(script), "-P", str(running.port),
        "-o", "StrictHostKeyChecking=yes",
        "-o", f"UserKnownHostsFile={_known_hosts(running, tmp_path)}",
        "-o", "GlobalKnownHostsFile=/dev/null",
        "-F", "/dev/null",
    ]  # fmt: skip


def _password_auth() -> tuple[str, ...]:
    return (
        "-o", "BatchMode=no", "-o", "PreferredAuthentications=password",
        "-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1",
    )  # fmt: skip


def _with_sshpass(command: list[str]) -> tuple[list[str], dict[str, str]]:
    return [require("sshpass"), "-e", *command], {**os.environ, "SSHPASS": PASSWORD}


def _key_account(running: Running, public: str) -> None:
    running.accounts.add(Account("keyed", "keyed", "", authorized_keys=(public,)))


def test_openssh_sftp_with_password(start: StartFn, tmp_path: Path) -> None:
    running = start()
    local = tmp_path / "users.csv"
    local.write_bytes(os.urandom(1_000_000))
    batch = f"put {local} users.csv\nput {local} users.csv\nls -l\nchmod 600 users.csv\n"
    command = _sftp_command(running, tmp_path, batch, *_password_auth())
    command.append("alpha@127.0.0.1")
    args, env = _with_sshpass(command)
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1, done.stderr  # the batch stops at the refused chmod
    assert "Permission denied" in done.stderr
    published = list(running.inbox("alpha").iterdir())
    assert len(published) == 2
    assert all(p.read_bytes() == local.read_bytes() for p in published)
    assert all(original_name(p.name) == "users.csv" for p in published)
    assert running.accounts.uploads[0].client_version.startswith("SSH-2.0-OpenSSH")


def test_openssh_sftp_wrong_password_is_refused(start: StartFn, tmp_path: Path) -> None:
    running = start()
    command = _sftp_command(running, tmp_path, "ls\n", *_password_auth())
    command.append("alpha@127.0.0.1")
    args, env = _with_sshpass(command)
    env["SSHPASS"] = "not-the-password"
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert running.events("auth_fail")[0]["reason"] == "wrong password"


def test_openssh_sftp_with_key(
    start: StartFn, tmp_path: Path, client_key: tuple[Path, str]
) -> None:
    running = start()
    path, public = client_key
    _key_account(running, public)
    local = tmp_path / "classes.csv"
    local.write_bytes(b"class_id\nC1\n")
    batch = f"put {local}\nls\n-get classes.csv {tmp_path / 'back.csv'}\n-mkdir sub\n"
    auth = ("-i", str(path), "-o", "IdentitiesOnly=yes", "-o", "PasswordAuthentication=no")
    command = [*_sftp_command(running, tmp_path, batch, "-v", *auth), "keyed@127.0.0.1"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "kex: algorithm: curve25519-sha256" in done.stderr  # OpenSSH 9.2 has no mlkem
    assert "resetting send seqnr" in done.stderr  # strict kex (Terrapin) is in force
    assert not (tmp_path / "back.csv").exists() or (tmp_path / "back.csv").stat().st_size == 0
    (published,) = running.inbox("keyed").iterdir()
    assert published.read_bytes() == b"class_id\nC1\n"
    assert running.events("auth_ok")[0]["method"] == "publickey"


def test_curl_with_pinned_host_key(start: StartFn, tmp_path: Path) -> None:
    running = start()
    local = tmp_path / "enrollments.csv"
    local.write_bytes(os.urandom(200_000))
    served = ""
    for algorithm, fingerprint in fingerprints(running.config.hostkeys_dir):
        pinned = fingerprint.removeprefix("SHA256:")
        done = subprocess.run(
            [
                require("curl"), "-sS", "--hostpubsha256", pinned, "-u", f"alpha:{PASSWORD}",
                "-T", str(local), f"sftp://127.0.0.1:{running.port}/enrollments.csv",
            ],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if done.returncode == 0:
            served = algorithm
            break
    assert done.returncode == 0, done.stderr
    (published,) = running.inbox("alpha").iterdir()
    assert published.read_bytes() == local.read_bytes()
    assert running.accounts.uploads[0].client_version.startswith("SSH-2.0-libssh2")
    signed_with = running.accounts.uploads[0].algorithms.host_key
    assert signed_with in ({"rsa-sha2-256", "rsa-sha2-512"} if served == "ssh-rsa" else {served})


def test_curl_refuses_a_wrong_pinned_key(start: StartFn, tmp_path: Path) -> None:
    running = start()
    local = tmp_path / "x.csv"
    local.write_bytes(b"x\n")
    wrong = base64.b64encode(hashlib.sha256(b"not our key").digest()).decode().rstrip("=")
    done = subprocess.run(
        [
            require("curl"), "-sS", "--hostpubsha256", wrong, "-u", f"alpha:{PASSWORD}",
            "-T", str(local), f"sftp://127.0.0.1:{running.port}/x.csv",
        ],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert not running.inbox("alpha").exists() or not any(running.inbox("alpha").iterdir())


def test_killed_openssh_client_publishes_nothing(
    start: StartFn, tmp_path: Path, client_key: tuple[Path, str]
) -> None:
    running = start()
    path, public = client_key
    _key_account(running, public)
    local = tmp_path / "big.csv"
    local.write_bytes(os.urandom(30_000_000))
    auth = ("-i", str(path), "-o", "IdentitiesOnly=yes", "-l", "8000")  # ~1 MB/s
    command = [*_sftp_command(running, tmp_path, f"put {local}\n", *auth), "keyed@127.0.0.1"]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    staging = running.config.staging_root / "keyed"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        # Blocks written, not st_size: the staging file is extended ahead to hold quota.
        sizes = [p.stat().st_blocks * 512 for p in staging.glob(".*")] if staging.exists() else []
        if sizes and max(sizes) > 500_000:
            break
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # sftp and its ssh child die mid-transfer
    process.wait(10)
    (event,) = running.wait_for("upload_partial")
    assert 500_000 < event["bytes"] < 30_000_000
    assert not any(running.inbox("keyed").iterdir())
    assert not any(staging.iterdir())
    assert running.accounts.uploads == []


_HANDSHAKE = """
import asyncio, json, sys
import asyncssh
async def main():
    conn = await asyncssh.connect(
        "127.0.0.1", int(sys.argv[1]), username="alpha", password=sys.argv[2],
        known_hosts=None, client_keys=None, **json.loads(sys.argv[3]))
    print(conn.get_extra_info("send_compression"))
    conn.close()
    await conn.wait_closed()
asyncio.run(main())
"""


def _handshake(port: int, algs: dict[str, list[str]]) -> subprocess.CompletedProcess[str]:
    """An asyncssh client in its own process, restricted to ``algs``."""
    return subprocess.run(
        [sys.executable, "-c", _HANDSHAKE, str(port), PASSWORD, json.dumps(algs)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


LEGACY = [
    {"kex_algs": ["diffie-hellman-group14-sha1"]},
]
NEVER = [
    # A host key signing with SHA-1 would also switch JSch away from the ECDSA key
    # it pinned: never offered, legacy or not.
    {"server_host_key_algs": ["ssh-rsa"]},
    {"encryption_algs": ["aes128-cbc"]},
    {"encryption_algs": ["aes128-ctr"], "mac_algs": ["hmac-sha1"]},
    {"kex_algs": ["diffie-hellman-group1-sha1"]},
    {"compression_algs": ["zlib@openssh.com"]},
]


def _refused_handshake(running: Running, algs: dict[str, list[str]]) -> None:
    logins = len(running.events("auth_ok"))
    done = _handshake(running.port, algs)
    assert done.returncode != 0
    assert "KeyExchangeFailed" in done.stderr or "ConnectionLost" in done.stderr
    running.wait_for("disconnect")
    assert len(running.events("auth_ok")) == logins  # it never got as far as logging in


@pytest.mark.parametrize("algs", LEGACY + NEVER)
def test_sha1_and_cbc_are_off_by_default(start: StartFn, algs: dict[str, list[str]]) -> None:
    _refused_handshake(start(), algs)


def test_legacy_flag_adds_group14_sha1_but_never_ssh_rsa_host_signatures(
    start: StartFn, tmp_path: Path, password_hash: str
) -> None:
    accounts = DictAccounts()
    accounts.add(Account("alpha", "alpha", password_hash))
    running = start(accounts)
    running.stop()
    legacy = start(accounts, legacy=True)
    for algs in LEGACY:
        done = _handshake(legacy.port, algs)
        assert done.returncode == 0, done.stderr
    for algs in NEVER:
        _refused_handshake(legacy, algs)


def test_openssh_learns_a_rotation_key_through_update_host_keys(
    start: StartFn, tmp_path: Path, client_key: tuple[Path, str]
) -> None:
    first = start()
    first.stop()
    pinned = _known_hosts(first, tmp_path).read_text()  # the keys districts know today
    fresh = add_host_key(first.config.hostkeys_dir, "ed25519")  # a planned rotation
    running = start()
    path, public = client_key
    _key_account(running, public)
    auth = ("-i", str(path), "-o", "IdentitiesOnly=yes", "-o", "UpdateHostKeys=yes",
            "-o", "HostKeyAlgorithms=ssh-ed25519")  # fmt: skip
    command = [*_sftp_command(running, tmp_path, "ls\n", *auth), "keyed@127.0.0.1"]
    known = tmp_path / "known_hosts"  # written by _sftp_command; back to what was pinned
    known.write_text(pinned.replace(f"]:{first.port} ", f"]:{running.port} "))
    new_key = fresh.export_public_key().decode().split()[1]
    assert new_key not in known.read_text()
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert new_key in known.read_text()
