"""ssh-audit (PyPI) against the receiver: only what JSch 0.1.55 needs fails; strict: nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.sftp.conftest import StartFn

#: What PowerSchool's JSch 0.1.55 cannot connect without; README "Algorithms" says why.
JSCH_NEEDS = {("kex", "ecdh-sha2-nistp256"), ("key", "ecdsa-sha2-nistp256")}


def _failures(port: int) -> set[tuple[str, str]]:
    tool = shutil.which("ssh-audit", path=str(Path(sys.executable).parent))
    assert tool is not None, "ssh-audit is missing: pip install -e '.[dev]'"
    done = subprocess.run(
        [tool, "--json", "--skip-rate-test", "-p", str(port), "127.0.0.1"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    report = json.loads(done.stdout)
    return {
        (kind, entry["algorithm"])
        for kind in ("kex", "key", "enc", "mac")
        for entry in report[kind]
        if entry.get("notes", {}).get("fail")
    }


@pytest.mark.parametrize(("strict", "expected"), [(False, JSCH_NEEDS), (True, set())])
def test_ssh_audit_fails_only_what_jsch_needs(
    start: StartFn, strict: bool, expected: set[tuple[str, str]]
) -> None:
    running = start(strict=strict)
    assert _failures(running.port) == expected
