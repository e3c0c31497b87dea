"""`roster hostkey add|retire`: a rotation adds a key, retiring removes one, both audited."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from roster_pipeline.cli.exits import code_for
from roster_pipeline.config import load_settings
from roster_pipeline.errors import HostKeyFileError, NotFoundError
from roster_pipeline.service import receiver
from tests.helpers import Roster, as_json


def _keys(roster: Roster) -> list[tuple[str, str]]:
    shown = as_json(roster("hostkey", "fingerprints", "--json"))
    return [(k["algorithm"], k["fingerprint"]) for k in shown]


def test_rotate_an_ed25519_key_then_retire_the_old_one(roster: Roster, tmp_path: Path) -> None:
    assert roster("init").exit_code == 0
    before = _keys(roster)
    old = dict(before)["ssh-ed25519"]
    assert roster("hostkey", "add", "ed25519").exit_code == 0
    after = _keys(roster)
    assert len(after) == len(before) + 1
    (new,) = {fp for alg, fp in after if alg == "ssh-ed25519"} - {old}
    result = roster("hostkey", "retire", old)
    assert result.exit_code == 0, result.output
    assert dict(_keys(roster))["ssh-ed25519"] == new
    assert len(_keys(roster)) == len(before)
    audit = tmp_path / "home" / "logs" / "audit.log"
    events = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(e["event"], e["fingerprint"]) for e in events] == [
        ("hostkey_added", new),
        ("hostkey_retired", old),
    ]


def test_retiring_an_unknown_fingerprint_says_so(roster: Roster) -> None:
    assert roster("init").exit_code == 0
    result = roster("hostkey", "retire", "SHA256:nope")
    assert result.exit_code == code_for(NotFoundError(""))
    assert "no host key has the fingerprint SHA256:nope" in result.output


def test_the_receiver_will_not_start_without_a_key_it_had(
    roster: Roster, tmp_path: Path, store_url: str
) -> None:
    assert roster("init").exit_code == 0
    home = tmp_path / "home"
    (home / "hostkeys" / "ssh_host_ecdsa_key").unlink()
    settings = load_settings(env={}, home=home, database_url=store_url, listen_port=0)
    with pytest.raises(HostKeyFileError, match=r"ssh_host_ecdsa_key .*restore the file"):
        asyncio.run(receiver.start(settings))
    assert not (home / "hostkeys" / "ssh_host_ecdsa_key").exists()
