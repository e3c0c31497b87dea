"""Provisioning districts: accounts, secrets shown once, host keys, and the receiver
authenticating against the database with what `district add` printed."""

from __future__ import annotations

import asyncio
import io
import stat
from pathlib import Path

import asyncssh
import paramiko
import pytest

from roster_pipeline.cli.exits import ExitCode
from roster_pipeline.config import load_settings
from roster_pipeline.districts import DistrictAccounts
from roster_pipeline.service.receiver import receiver_config
from roster_pipeline.store import open_store
from sftp_server import start_receiver
from tests.helpers import Roster, as_json


def test_add_prints_connection_and_stores_only_a_hash(roster: Roster, store_url: str) -> None:
    info = as_json(roster("district", "add", "lincoln", "--json"))
    password = info["password"]
    assert len(password) >= 20
    assert info["username"] == "lincoln"
    assert info["authentication"] == ["password"]
    algorithms = {h["algorithm"] for h in info["host_key_fingerprints"]}
    assert algorithms == {"ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"}
    shown = as_json(roster("hostkey", "fingerprints", "--json"))
    assert [h["fingerprint"] for h in shown] == [
        h["fingerprint"] for h in info["host_key_fingerprints"]
    ]
    store = open_store(store_url)
    stored = store.district("lincoln").password_hash
    store.close()
    assert stored.startswith("$argon2id$")
    assert password not in stored
    for listing in (
        roster("district", "show", "lincoln", "--json"),
        roster("district", "list", "--json"),
    ):
        assert password not in listing.stdout
        assert "argon2" not in listing.stdout


def test_password_stdin_key_only_and_allow_list(roster: Roster, tmp_path: Path) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    (tmp_path / "id.pub").write_text(key)
    assert (
        "12 characters"
        in roster("district", "add", "a", "--password-stdin", input="short\n").output
    )
    info = as_json(
        roster("district", "add", "b", "--password-stdin", "--json", input="a long secret phrase\n")
    )
    assert info["password"] == "a long secret phrase"
    refused = roster("district", "add", "c", "--no-password")
    assert refused.exit_code == ExitCode.USAGE
    assert "needs at least one --public-key" in refused.output
    args = ("--no-password", "--public-key", tmp_path / "id.pub", "--allow-ip", "10.1.2.3/16")
    keyed = as_json(roster("district", "add", "d", *args, "--json"))
    assert keyed["authentication"] == ["publickey"]
    assert "password" not in keyed
    assert keyed["allow_ips"] == ["10.1.0.0/16"]
    fingerprint = keyed["public_keys"][0]["fingerprint"]
    assert "lock it out" in roster("district", "remove-key", "d", fingerprint).output
    assert "not a public key" in roster("district", "add", "e", "--public-key", tmp_path / "id.pub",
                                        "--public-key", _garbage(tmp_path)).output  # fmt: skip


def _garbage(tmp_path: Path) -> Path:
    path = tmp_path / "garbage.pub"
    path.write_text("ssh-ed25519 AAAAnotbase64!!\n")
    return path


def test_init_keeps_host_keys_and_their_mode(roster: Roster, tmp_path: Path) -> None:
    roster("init")
    first = as_json(roster("hostkey", "fingerprints", "--json"))
    roster("init")
    assert as_json(roster("hostkey", "fingerprints", "--json")) == first
    private = [k for k in (tmp_path / "home" / "hostkeys").iterdir() if k.suffix != ".pub"]
    assert len(private) == 3
    for key in private:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_rotate_disable_enable_remove(roster: Roster, samples: Path) -> None:
    old = as_json(roster("district", "add", "lincoln", "--json"))["password"]
    new = as_json(roster("district", "rotate-password", "lincoln", "--json", "--yes"))["password"]
    assert new != old
    assert as_json(roster("district", "disable", "lincoln", "--json"))["enabled"] is False
    assert as_json(roster("district", "enable", "lincoln", "--json"))["enabled"] is True
    roster("process", samples / "good.zip", "--district", "lincoln")
    assert "data is kept" in roster("district", "remove", "lincoln").output
    assert len(as_json(roster("batches", "--json"))) == 1  # records stay without --purge
    assert roster("district", "show", "lincoln").exit_code == ExitCode.NOT_FOUND


def test_receiver_logs_in_with_the_printed_password(
    roster: Roster, tmp_path: Path, store_url: str, event_loop_thread: asyncio.AbstractEventLoop
) -> None:
    loop = event_loop_thread
    info = as_json(roster("district", "add", "lincoln", "--json"))
    roster("district", "add", "other", "--json")
    settings = load_settings(
        home=tmp_path / "home", database_url=store_url, auth_failure_delay=0.01
    )
    accounts = DistrictAccounts(settings.db_url)
    receiver = asyncio.run_coroutine_threadsafe(
        start_receiver(receiver_config(settings, port=0), accounts), loop
    ).result(30)
    try:
        transport = paramiko.Transport(("127.0.0.1", receiver.port))
        transport.connect(username="lincoln", password=info["password"])
        sftp = paramiko.SFTPClient.from_transport(transport)
        assert sftp is not None
        sftp.putfo(io.BytesIO(b"class_id,student_id\n"), "enrollments.csv")
        transport.close()
        wrong = paramiko.Transport(("127.0.0.1", receiver.port))
        with pytest.raises(paramiko.AuthenticationException):
            wrong.connect(username="other", password=info["password"])
        wrong.close()
    finally:
        asyncio.run_coroutine_threadsafe(receiver.close(), loop).result(30)
        accounts.close()
    published = list((tmp_path / "home" / "inbox" / "lincoln").iterdir())
    assert [p.name.endswith("-enrollments.csv") for p in published] == [True]
    assert list((tmp_path / "home" / "inbox" / "other").iterdir()) == []
    store = open_store(store_url)
    assert store.last_upload("lincoln") is not None
    assert store.last_upload("other") is None
    store.close()
