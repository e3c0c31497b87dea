"""`roster system` (General Setup) and `roster events`, on both engines."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from roster_pipeline import system
from roster_pipeline.cli.exits import ExitCode
from roster_pipeline.config import load_settings
from roster_pipeline.home import Home
from roster_pipeline.store import EventRecord
from tests.helpers import Roster, as_json, process_json


def _shown(roster: Roster) -> dict[str, dict[str, object]]:
    result = roster("system", "show", "--json")
    assert result.exit_code == 0, result.output
    shown: dict[str, dict[str, object]] = as_json(result)
    return shown


def test_show_set_and_the_settings_model_validates(roster: Roster) -> None:
    shown = _shown(roster)
    assert shown["system_enabled"]["value"] is True
    assert shown["job_frequency"]["value"] == "standard"
    assert shown["purge_policy"]["value"] == "typical"
    assert shown["connections_per_district"]["value"] == 5
    assert shown["log_levels"]["source"] == "default"
    assert roster("system", "set", "job_frequency", "high").exit_code == 0
    assert roster("system", "set", "log_levels", "warnings,info").exit_code == 0
    shown = _shown(roster)
    assert shown["job_frequency"]["value"] == "high"
    assert shown["job_frequency"]["source"] == "database"
    assert shown["log_levels"]["value"] == "warning,info"
    unknown = roster("system", "set", "turbo", "1")
    assert unknown.exit_code == ExitCode.NOT_FOUND
    assert "not a system setting" in unknown.output
    bad = roster("system", "set", "purge_policy", "sometimes")
    assert bad.exit_code == ExitCode.USAGE
    assert "purge_policy must be 'aggressive', 'typical' or 'seldom'" in bad.output
    assert roster("system", "set", "connections_per_district", "0").exit_code == ExitCode.USAGE


def test_a_value_fixed_by_the_environment_wins_and_cannot_be_set(roster: Roster) -> None:
    env = {"ROSTER_PURGE_POLICY": "seldom"}
    refused = roster("system", "set", "purge_policy", "aggressive", env=env)
    assert refused.exit_code == ExitCode.USAGE
    assert "fixed by ROSTER_PURGE_POLICY" in refused.output
    shown = as_json(roster("system", "show", "--json", env=env))
    assert shown["purge_policy"] == {**shown["purge_policy"], "value": "seldom",
                                     "source": "ROSTER_PURGE_POLICY"}  # fmt: skip


def test_disabled_halts_processing_says_who_and_enable_resumes(
    roster: Roster, samples: Path
) -> None:
    roster("district", "add", "lincoln")
    off = roster("system", "disable", "--reason", "SIS migration")
    assert off.exit_code == 0
    status = roster("status")
    assert status.exit_code == ExitCode.DISABLED
    assert "DISABLED" in status.stdout
    assert "SIS migration" in status.stdout
    assert as_json(roster("status", "--json"))["system_enabled"] is False
    refused = roster("process", samples / "good.zip", "--district", "lincoln")
    assert refused.exit_code == ExitCode.DISABLED
    assert "uploads are kept" in refused.output
    assert as_json(roster("batches", "--json")) == []
    audit = as_json(roster("events", "--json"))
    disabled = next(e for e in audit if e["code"] == "system_disabled")
    assert disabled["details"]["reason"] == "SIS migration"
    assert system.operator() in disabled["message"]
    assert roster("system", "enable").exit_code == 0
    assert process_json(roster, samples / "good.zip")["status"] == "loaded"
    assert roster("status").exit_code == 0


def test_restore_defaults_asks_and_prints_what_was_set(roster: Roster) -> None:
    roster("system", "set", "job_frequency", "low")
    roster("system", "set", "public_host", "sftp.example.org")
    assert roster("system", "restore-defaults").exit_code == ExitCode.USAGE  # no terminal
    assert _shown(roster)["job_frequency"]["value"] == "low"
    done = roster("system", "restore-defaults", "--yes")
    assert done.exit_code == 0
    assert "roster system set job_frequency low" in done.stdout
    assert "roster system set public_host sftp.example.org" in done.stdout
    shown = _shown(roster)
    assert shown["job_frequency"]["value"] == "standard"
    assert shown["public_host"]["value"] == ""


def test_log_levels_decide_what_reaches_the_event_log(roster: Roster, samples: Path) -> None:
    roster("district", "add", "lincoln")
    roster("district", "add", "other")
    process_json(roster, samples / "good.zip")  # loaded: info, not recorded by default
    roster("process", samples / "bad" / "users.csv", "--district", "other")  # rejected: error
    recorded = as_json(roster("events", "--json"))
    assert [e["code"] for e in recorded] == ["batch_rejected"]
    assert recorded[0]["district"] == "other"
    roster("system", "set", "log_levels", "info")
    process_json(roster, samples / "next-night")
    lincoln = as_json(roster("events", "--district", "lincoln", "--json"))
    assert [e["code"] for e in lincoln] == ["batch_loaded"]
    errors = as_json(roster("events", "--level", "error", "--json"))
    assert {e["level"] for e in errors} == {"error"}
    assert as_json(roster("events", "--since", "1h", "--json"))
    assert as_json(roster("events", "--since", "2999-01-01", "--json")) == []
    assert roster("events", "--since", "yesterday").exit_code == ExitCode.USAGE


def test_frequency_sets_every_interval_together(tmp_path: Path, store_url: str) -> None:
    with Home(load_settings(env={}, home=tmp_path, database_url=store_url)) as home:
        home.create()
        seen = {}
        for level in ("low", "standard", "high"):
            system.set_value(home, "job_frequency", level, "test")
            seen[level] = system.intervals(system.effective(home.settings, home.store))
    assert seen["low"].rescan > seen["standard"].rescan > seen["high"].rescan
    assert seen["low"].claim_poll > seen["standard"].claim_poll > seen["high"].claim_poll
    assert seen["low"].stale_check > seen["standard"].stale_check > seen["high"].stale_check


def test_purge_policy_sets_retention_of_archives_and_events(
    roster: Roster, tmp_path: Path, store_url: str
) -> None:
    old = datetime.now(UTC) - timedelta(days=20)
    settings = load_settings(env={}, home=tmp_path / "home", database_url=store_url)
    with Home(settings) as home:
        home.require()
        home.store.add_event(EventRecord(old, "error", "batch_rejected", "an old one"))
        assert home.settings.service.retention_days == 30  # typical
    roster("system", "set", "purge_policy", "seldom")
    roster("purge")
    assert [e["message"] for e in as_json(roster("events", "--json"))][-1] == "an old one"
    roster("system", "set", "purge_policy", "aggressive")
    roster("purge")
    assert "an old one" not in roster("events").stdout
    with Home(settings) as home:
        home.require()
        assert home.settings.service.retention_days == 7


def test_init_stores_the_public_address_districts_are_told(bare_roster: Roster) -> None:
    done = bare_roster("init", "--public-host", "sftp.example.org", "--public-port", "22")
    assert done.exit_code == 0, done.output
    assert "districts connect to sftp.example.org:22" in done.stdout
    info = as_json(bare_roster("district", "add", "lincoln", "--json"))
    assert (info["host"], info["port"]) == ("sftp.example.org", 22)
    guide = bare_roster("district", "guide", "lincoln")
    assert "sftp.example.org" in guide.stdout
    assert "WARNING" not in guide.output


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[bytes]]]:
    """A real HTTP endpoint on loopback that records what is posted to it."""
    received: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_system_test_reports_each_check(
    roster: Roster, webhook: tuple[str, list[bytes]], tmp_path: Path
) -> None:
    url, received = webhook
    roster("system", "set", "webhook_url", url)
    env = {"ROSTER_LISTEN_PORT": str(_closed_port())}
    result = roster("system", "test", "--json", env=env)
    assert result.exit_code == 0, result.output
    checks = {c["name"]: c for c in as_json(result)}
    assert checks["database"]["result"] == "ok"
    assert checks["home writable"]["result"] == "ok"
    assert checks["host keys"]["result"] == "ok"
    assert checks["webhook"]["result"] == "ok"
    assert b'"event": "test"' in received[0]
    assert checks["listen port"]["result"] == "warn"  # no service runs here
    roster("system", "set", "webhook_url", f"http://127.0.0.1:{_closed_port()}/hook")
    key = tmp_path / "home" / "hostkeys" / "ssh_host_ed25519_key"
    key.unlink()
    lost = as_json(roster("system", "test", "--json", env=env))
    assert {c["name"]: c for c in lost}["host keys"]["result"] == "fail"  # the file is missing
    key.with_suffix(".pub").unlink()
    roster("init")  # the documented way out: a new key where districts pinned the old one
    failed = roster("system", "test", "--json", env=env)
    assert failed.exit_code == ExitCode.UNAVAILABLE
    checks = {c["name"]: c for c in as_json(failed)}
    assert checks["webhook"]["result"] == "fail"
    assert checks["host keys"]["result"] == "fail"
    assert "CHANGED" in checks["host keys"]["detail"]
