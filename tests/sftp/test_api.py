"""The public API the pipeline wires to: complete, and ``run()`` stops cleanly on SIGTERM."""

from __future__ import annotations

import ast
import inspect
import json
import signal
from pathlib import Path

import sftp_server
from tests.sftp.conftest import ServeFn, free_port


def test_all_is_complete_and_importable() -> None:
    public = {
        name
        for name, value in vars(sftp_server).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and getattr(value, "__module__", "").startswith("sftp_server")
    }
    assert public <= set(sftp_server.__all__)
    assert all(hasattr(sftp_server, name) for name in sftp_server.__all__)


SERVE = """
import sys
from pathlib import Path
from sftp_server import ReceiverConfig, run

class NoAccounts:
    def lookup(self, username): return None
    def on_upload(self, record): pass

run(ReceiverConfig.under(Path(sys.argv[1]), port=int(sys.argv[2])), NoAccounts())
"""


def test_run_serves_until_sigterm_then_stops_gracefully(
    tmp_path: Path, serve_script: ServeFn
) -> None:
    process = serve_script(tmp_path, SERVE, str(free_port()))
    audit = tmp_path / "logs" / "audit.log"
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err.decode()
    events = [json.loads(line)["event"] for line in audit.read_text().splitlines()]
    assert events == ["listening", "stopped"]


def test_a_connection_does_not_import_the_receiver() -> None:
    """connection.py talks to the receiver through ``Host``: no cycle, not even for typing."""
    tree = ast.parse(Path(sftp_server.__file__).with_name("connection.py").read_text())
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert "sftp_server.server" not in imported
