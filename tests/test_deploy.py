"""The files shipped for running roster as a service: the systemd unit and logrotate."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
UNIT = DEPLOY / "roster.service"
LOGROTATE = DEPLOY / "roster.logrotate"
ROSTER = Path(sys.executable).parent / "roster"


def _directives(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line and line[0] != "#")
    return {key.strip(): value.strip() for key, value in pairs}


def test_the_unit_restarts_on_failure_as_a_dedicated_user_with_hardening() -> None:
    unit = _directives(UNIT.read_text(encoding="utf-8"))
    assert unit["Restart"] == "on-failure"
    assert unit["User"] == "roster"
    assert int(unit["LimitNOFILE"]) >= 4096
    assert unit["ExecStart"].split()[1] == "serve"
    for hardening in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices"):
        assert unit[hardening] == "yes", hardening
    assert unit["ProtectSystem"] == "strict"
    assert unit["ReadWritePaths"] == unit["Environment"].removeprefix("ROSTER_HOME=")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze absent")
def test_systemd_analyze_verifies_the_unit_without_a_warning(tmp_path: Path) -> None:
    # As installed, ExecStart names /usr/local/bin/roster; here, this checkout's.
    text = UNIT.read_text(encoding="utf-8").replace("/usr/local/bin/roster", str(ROSTER))
    (tmp_path / "roster.service").write_text(text, encoding="utf-8")
    done = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "roster.service")],
        check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == ""  # unknown keys and bad values are only warned about


@pytest.mark.skipif(shutil.which("logrotate") is None, reason="logrotate absent")
def test_logrotate_reads_the_file_without_an_error(tmp_path: Path) -> None:
    # The roster user exists where the unit is installed; here, the current user.
    user, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    text = LOGROTATE.read_text(encoding="utf-8").replace("su roster roster", f"su {user} {group}")
    text = text.replace("/var/lib/roster/logs", str(tmp_path / "logs"))
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "audit.log").write_text('{"event": "login"}\n', encoding="utf-8")
    config = tmp_path / "roster.logrotate"
    config.write_text(text, encoding="utf-8")
    done = subprocess.run(
        ["logrotate", "--debug", "--state", str(tmp_path / "state"), str(config)],
        check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "error" not in done.stderr.lower(), done.stderr
    assert "audit.log" in done.stderr  # the log was considered
