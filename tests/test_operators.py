"""`roster operator ...`: accounts for the console, passwords shown once, clean errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from roster_pipeline import operators
from roster_pipeline.config import load_settings
from roster_pipeline.errors import AccessError
from roster_pipeline.home import Home
from tests.helpers import Roster


def test_add_list_token_remove(roster: Roster, tmp_path: Path, store_url: str) -> None:
    added = roster("operator", "add", "otto", "--role", "operator")
    assert added.exit_code == 0, added.output
    password = re.search(r"shown once, only a hash is kept\): (\S+)", added.stdout)
    assert password
    listing = roster("operator", "list").stdout
    assert "otto" in listing
    assert "operator" in listing
    assert password.group(1) not in listing
    token = roster("operator", "token", "otto").stdout.strip()
    settings = load_settings(home=tmp_path / "home", database_url=store_url)
    with Home(settings) as home:
        row = operators.by_token(home, token)
        assert row is not None
        assert row.role == "operator"
        login = operators.log_in(home, "otto", password.group(1))
        assert operators.by_session(home, login.token) == login
    assert roster("operator", "remove", "otto").exit_code == 0
    with Home(settings) as home:
        assert operators.by_token(home, token) is None
        assert operators.by_session(home, login.token) is None
    audit = (tmp_path / "home" / "logs" / "audit.log").read_text().splitlines()
    actions = [json.loads(line)["action"] for line in audit]
    assert actions == ["operator_add", "operator_token", "operator_remove"]


def test_bad_names_duplicates_and_unknowns_are_clean_errors(roster: Roster) -> None:
    assert roster("operator", "add", "otto").exit_code == 0
    again = roster("operator", "add", "otto")
    assert again.exit_code == 2  # a request the current state refuses
    assert "operator 'otto' already exists" in again.output
    bad = roster("operator", "add", "Bad Name!")
    assert bad.exit_code == 2
    assert "is not valid" in bad.output
    unknown = roster("operator", "remove", "nobody")
    assert unknown.exit_code == 4
    assert "no operator 'nobody'" in unknown.output
    assert "Traceback" not in unknown.output


def test_reset_password_unlocks_and_ends_sessions(tmp_path: Path, store_url: str) -> None:
    settings = load_settings(home=tmp_path / "home", database_url=store_url)
    with Home(settings) as home:
        home.create()
        _, password = operators.add_operator(home, "otto", operators.Role.OPERATOR)
        session = operators.log_in(home, "otto", password)
        for _ in range(operators.LOCK_AFTER):
            with pytest.raises(AccessError, match="wrong name or password"):
                operators.log_in(home, "otto", "wrong")
        with pytest.raises(AccessError, match="locked"):
            operators.log_in(home, "otto", password)
        fresh = operators.reset_password(home, "otto")
        assert operators.by_session(home, session.token) is None
        assert operators.log_in(home, "otto", fresh).operator == "otto"
