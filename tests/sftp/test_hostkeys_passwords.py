"""Host keys are made once, kept 0600 and never replaced; passwords are argon2id."""

from __future__ import annotations

import asyncio
import stat
import subprocess
from pathlib import Path

import asyncssh
import paramiko
import pytest

from sftp_server import (
    HostKeyError,
    add_host_key,
    ensure_host_keys,
    fingerprints,
    generate_password,
    hash_password,
    retire_host_key,
    verify,
)
from tests.sftp.conftest import PASSWORD, StartFn, require


def test_keys_are_created_once_with_mode_0600(host_keys_template: Path) -> None:
    files = sorted(p.name for p in host_keys_template.iterdir() if not p.name.endswith(".pub"))
    assert files == ["ssh_host_ecdsa_key", "ssh_host_ed25519_key", "ssh_host_rsa_key"]
    for name in files:
        assert stat.S_IMODE((host_keys_template / name).stat().st_mode) == 0o600
    before = {p.name: p.read_bytes() for p in host_keys_template.iterdir()}
    keys = ensure_host_keys(host_keys_template)
    assert [k.get_algorithm() for k in keys] == ["ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"]
    assert {p.name: p.read_bytes() for p in host_keys_template.iterdir()} == before


def test_rsa_key_is_3072_bits(host_keys_template: Path) -> None:
    out = subprocess.run(
        [require("ssh-keygen"), "-lf", str(host_keys_template / "ssh_host_rsa_key.pub")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stdout.startswith("3072 SHA256:")


def test_fingerprints_match_ssh_keygen(host_keys_template: Path) -> None:
    ours = dict(fingerprints(host_keys_template))
    for pub in host_keys_template.glob("*.pub"):
        out = subprocess.run(
            [require("ssh-keygen"), "-lf", str(pub)], capture_output=True, text=True, check=True
        )
        fingerprint = out.stdout.split()[1]
        assert fingerprint in ours.values()
    assert all(fp.startswith("SHA256:") and len(fp) == 50 for fp in ours.values())


def test_add_host_key_of_an_existing_type_adds_a_rotation_key(tmp_path: Path) -> None:
    first = add_host_key(tmp_path, "ed25519")
    second = add_host_key(tmp_path, "ed25519")
    assert first.get_fingerprint() != second.get_fingerprint()
    assert fingerprints(tmp_path) == [
        ("ssh-ed25519", first.get_fingerprint()),
        ("ssh-ed25519", second.get_fingerprint()),
    ]
    assert (tmp_path / "ssh_host_ed25519_key-2").exists()
    with pytest.raises(HostKeyError, match="unknown host key type"):
        add_host_key(tmp_path, "dsa")


def test_retiring_the_first_key_promotes_the_rotation_key(tmp_path: Path) -> None:
    first = add_host_key(tmp_path, "ed25519").get_fingerprint()
    second = add_host_key(tmp_path, "ed25519").get_fingerprint()
    kept = retire_host_key(tmp_path, first)
    assert kept.parent.name == "retired"
    assert fingerprints(tmp_path) == [("ssh-ed25519", second)]
    assert (tmp_path / "ssh_host_ed25519_key").exists()
    with pytest.raises(HostKeyError, match="last host key"):
        retire_host_key(tmp_path, second)


def test_a_lost_key_file_stops_the_receiver_and_is_never_recreated(
    start: StartFn, tmp_path: Path
) -> None:
    running = start()
    running.stop()
    lost = running.config.hostkeys_dir / "ssh_host_ecdsa_key"
    lost.unlink()
    with pytest.raises(HostKeyError, match=r"ecdsa_key .*restore the file from your backup"):
        start()
    with pytest.raises(HostKeyError, match="host key file missing"):
        ensure_host_keys(running.config.hostkeys_dir)  # not even init makes a new one silently
    assert not lost.exists()


async def _host_key_seen(port: int, preferred: list[str]) -> str:
    async with asyncssh.connect(
        "127.0.0.1", port, known_hosts=None, server_host_key_algs=preferred,
        username="alpha", password=PASSWORD, client_keys=None,
    ) as conn:  # fmt: skip
        key = conn.get_server_host_key()
        assert key is not None
        return key.get_fingerprint()


def test_legacy_algorithms_never_change_the_key_a_client_sees(start: StartFn) -> None:
    jsch_like = ["ssh-rsa", "ecdsa-sha2-nistp256"]  # JSch 0.1.55 asks for ssh-rsa first
    before = asyncio.run(_host_key_seen(start().port, jsch_like))
    after = asyncio.run(_host_key_seen(start(legacy=True).port, jsch_like))
    assert after == before
    ecdsa = dict(fingerprints(start().config.hostkeys_dir))["ecdsa-sha2-nistp256"]
    assert after == ecdsa


def _served_fingerprint(port: int) -> str:
    transport = paramiko.Transport(("127.0.0.1", port))
    transport.start_client()
    key = transport.get_remote_server_key()
    transport.close()
    return key.fingerprint  # "SHA256:..." in paramiko 3+


def test_fingerprint_unchanged_across_restarts(start: StartFn) -> None:
    running = start()
    expected = dict(fingerprints(running.config.hostkeys_dir))["ssh-ed25519"]
    assert _served_fingerprint(running.port) == expected
    running.stop()
    again = start()
    assert _served_fingerprint(again.port) == expected
    assert dict(fingerprints(again.config.hostkeys_dir))["ssh-ed25519"] == expected


def test_password_hash_is_argon2id_and_verifies() -> None:
    hashed = hash_password("s3cret-Pass")
    assert hashed.startswith("$argon2id$")
    assert verify(hashed, "s3cret-Pass")
    assert not verify(hashed, "s3cret-pass")
    assert not verify("", "anything")
    assert not verify("not a hash", "anything")


def test_generated_passwords_are_long_and_distinct() -> None:
    passwords = {generate_password() for _ in range(50)}
    assert len(passwords) == 50
    assert all(len(p) == 24 and p.isalnum() for p in passwords)
