"""`roster district contract SLUG CONTRACT`: a district moves to another contract from
its next batch on; refused for an unknown contract and while a batch is held."""

from __future__ import annotations

from pathlib import Path

from roster_pipeline.cli.exits import ExitCode
from tests.helpers import Roster, as_json, pulled_from


def _spec(roster: Roster) -> str:
    return str(as_json(roster("district", "show", "lincoln", "--json"))["spec"])


def test_an_unknown_contract_is_refused_listing_the_known_ones(roster: Roster) -> None:
    roster("district", "add", "lincoln", "--spec", "oneroster-1.1")
    result = roster("district", "contract", "lincoln", "oneroster-9")
    assert result.exit_code == ExitCode.USAGE
    assert (
        "district lincoln: there is no contract 'oneroster-9' (known: clever, oneroster-1.1,"
        " oneroster-1.2, powerschool, roster-csv); the district stays on oneroster-1.1"
    ) in result.output
    assert "Traceback" not in result.output
    assert _spec(roster) == "oneroster-1.1"
    assert roster("district", "contract", "nowhere", "roster-csv").exit_code == ExitCode.NOT_FOUND


def test_a_held_batch_blocks_the_change_until_it_is_discarded(
    roster: Roster, samples: Path
) -> None:
    roster("district", "add", "lincoln", "--spec", "oneroster-1.1")
    roster("process", samples / "oneroster" / "good", "--district", "lincoln")
    night = as_json(
        roster("process", samples / "oneroster" / "delta", "--district", "lincoln", "--json")
    )
    assert night["status"] == "held"
    held = str(night["batch_id"])
    refused = roster("district", "contract", "lincoln", "oneroster-1.2")
    assert refused.exit_code == ExitCode.USAGE
    assert (
        f"district lincoln has a held batch ({held}), read with oneroster-1.1: approve or"
        " discard it first (roster batch approve|discard ID); the district stays on"
        " oneroster-1.1"
    ) in refused.output
    assert _spec(roster) == "oneroster-1.1"
    assert roster("batch", "discard", held).exit_code == 0
    done = roster("district", "contract", "lincoln", "oneroster-1.2")
    assert done.exit_code == 0, done.output
    assert done.output.startswith(
        "district lincoln: contract oneroster-1.1 -> oneroster-1.2. The next batch is read"
        " with oneroster-1.2"
    )
    assert "send the district the new one (roster district guide lincoln)" in done.output
    assert _spec(roster) == "oneroster-1.2"


def test_the_next_batch_and_the_guide_follow_the_new_contract(
    roster: Roster, samples: Path
) -> None:
    roster("district", "add", "lincoln", "--spec", "oneroster-1.1")
    first = as_json(roster("process", samples / "oneroster" / "good", "--district", "lincoln",
                           "--json"))  # fmt: skip
    assert first["status"] == "loaded"
    assert "roles.csv" not in roster("district", "guide", "lincoln").output
    assert roster("district", "contract", "lincoln", "oneroster-1.2").exit_code == 0
    # The same roster sent as 1.2 is read with 1.2 and changes nothing loaded.
    twin = as_json(roster("process", samples / "oneroster" / "v1.2.zip", "--district",
                          "lincoln", "--json"))  # fmt: skip
    assert twin["status"] == "loaded", twin
    assert all(c["added"] == c["deleted"] == c["updated"] == 0 for c in twin["counts"].values())
    assert "roles.csv" in roster("district", "guide", "lincoln").output
    events = as_json(roster("events", "--district", "lincoln", "--json"))
    changed = [e for e in events if e["code"] == "district_contract_changed"]
    assert [e["message"] for e in changed] == [
        "district lincoln: contract oneroster-1.1 -> oneroster-1.2"
    ]
    again = roster("district", "contract", "lincoln", "oneroster-1.2")
    assert again.exit_code == 0
    assert again.output.strip() == "district lincoln already uses oneroster-1.2; nothing changed"


def test_a_pulled_district_or_unfitting_file_settings_are_refused(roster: Roster) -> None:
    roster("district", "add", "lincoln")
    alias = roster("district", "set", "lincoln", "--alias", "users.district_user_id=Student_ID")
    assert alias.exit_code == 0, alias.output
    refused = roster("district", "contract", "lincoln", "oneroster-1.1")
    assert refused.exit_code == ExitCode.USAGE
    assert "district lincoln: its file settings do not fit oneroster-1.1 (" in refused.output
    assert "the district stays on roster-csv" in refused.output
    roster("district", "set", "lincoln", "--clear-aliases")
    # No SIS is contacted to store a source: the pull writes roster-csv files.
    source = pulled_from(roster, "lincoln", "https://sis.lincoln.example", "id", "secret")
    assert source.exit_code == 0, source.output
    pulled = roster("district", "contract", "lincoln", "oneroster-1.1")
    assert pulled.exit_code == ExitCode.USAGE
    assert (
        "district lincoln pulls from its SIS, which writes roster-csv files: set its source"
        " to sftp first; the district stays on roster-csv"
    ) in pulled.output
    assert _spec(roster) == "roster-csv"
