"""The System page's admin work over HTTP, on both engines: Test Connection, and
adding and removing districts, each by role, with CSRF and an audit line."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from roster_pipeline.home import Home
from roster_pipeline.service import retention
from tests.web_helpers import HOSTILE, Deployment, bearer, csrf_of, log_in


def _actions(deployment: Deployment) -> list[dict[str, object]]:
    path = deployment.settings.home / "logs" / "audit.log"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return [e for e in lines if e["event"] == "console_action"]


def test_test_connection_lists_each_check_for_an_operator(
    client: TestClient, deployment: Deployment
) -> None:
    csrf = log_in(client, "otto")
    page = client.post("/system/test", data={"csrf": csrf})
    assert page.status_code == 200
    assert '<table id="checks">' in page.text
    for name in ("database", "home writable", "free disk", "host keys", "listen port"):
        assert f"<td>{name}</td>" in page.text
    found = client.post("/api/system/test", headers=bearer(deployment, "otto")).json()
    assert {c["name"]: c["result"] for c in found}["database"] == "ok"
    # Nothing listens on the configured SFTP port in this test: a warning, not a failure.
    assert {c["name"]: c["result"] for c in found}["listen port"] == "warn"
    assert [e["operator"] for e in _actions(deployment) if e["action"] == "system_test"] == [
        "otto", "otto",
    ]  # fmt: skip


def test_a_viewer_may_not_test_and_a_form_needs_its_csrf(
    client: TestClient, deployment: Deployment
) -> None:
    log_in(client, "vera")
    assert (
        client.post("/system/test", data={"csrf": csrf_of(client.get("/").text)}).status_code == 403
    )
    assert client.post("/api/system/test", headers=bearer(deployment, "vera")).status_code == 403
    log_in(client, "otto")
    assert client.post("/system/test", data={"csrf": "forged"}).status_code == 403


def test_an_admin_adds_a_district_and_sees_its_password_once(
    client: TestClient, deployment: Deployment
) -> None:
    csrf = log_in(client, "ada")
    added = client.post("/system/districts",
                        data={"csrf": csrf, "slug": "maple", "name": "Maple USD",
                              "spec": "powerschool"})  # fmt: skip
    assert added.status_code == 200, added.text
    assert 'id="new-district"' in added.text
    password = added.text.split("<dt>Password</dt><dd><code>")[1].split("</code>")[0]
    assert len(password) >= 16
    assert "Districts are told to connect to 127.0.0.1" in added.text  # loopback: warned
    with Home(deployment.settings) as home:
        record = home.store.district("maple")
        assert (record.name, record.spec) == ("Maple USD", "powerschool")
    assert password not in client.get("/system").text  # shown once
    assert password not in (deployment.settings.home / "logs" / "audit.log").read_text()
    api = client.post("/api/districts", headers=bearer(deployment, "ada"),
                      json={"slug": "birch", "spec": "roster-csv"})  # fmt: skip
    assert api.status_code == 200
    assert api.json()["username"] == "birch"
    assert api.json()["password"]


@pytest.mark.parametrize(
    ("form", "status", "says"),
    [
        ({"slug": "Bad Slug!"}, 400, "district slug &#39;Bad Slug!&#39; is not valid"),
        ({"slug": "lincoln"}, 409, "lincoln"),
        ({"slug": "maple", "spec": "no-such-contract"}, 400, "no-such-contract"),
        ({"slug": "maple", "name": HOSTILE}, 200, "&lt;script&gt;"),
    ],
)
def test_a_bad_district_form_is_refused_with_a_reason(
    client: TestClient, form: dict[str, str], status: int, says: str
) -> None:
    csrf = log_in(client, "ada")
    answer = client.post("/system/districts", data={"csrf": csrf, **form})
    assert answer.status_code == status
    assert says in answer.text
    assert HOSTILE not in answer.text


def test_only_an_admin_adds_or_removes_districts(
    client: TestClient, deployment: Deployment
) -> None:
    csrf = log_in(client, "otto")
    assert client.post("/system/districts", data={"csrf": csrf, "slug": "maple"}).status_code == 403
    removing = {"csrf": csrf, "slug": "quiet", "confirm": "quiet"}
    assert client.post("/system/districts/remove", data=removing).status_code == 403
    assert 'action="/system/districts"' not in client.get("/system").text
    gone = client.delete("/api/districts/quiet", headers=bearer(deployment, "otto"))
    assert gone.status_code == 403
    with Home(deployment.settings) as home:
        assert home.store.district("quiet").slug == "quiet"


def test_removing_a_district_needs_its_slug_typed_and_keeps_its_data(
    client: TestClient, deployment: Deployment
) -> None:
    csrf = log_in(client, "ada")
    wrong = client.post("/system/districts/remove",
                        data={"csrf": csrf, "slug": "lincoln", "confirm": "lincon"})  # fmt: skip
    assert wrong.status_code == 409
    assert "type the district&#39;s slug (lincoln)" in wrong.text
    missing = client.post("/system/districts/remove",
                          data={"csrf": csrf, "slug": "nowhere", "confirm": "nowhere"})  # fmt: skip
    assert missing.status_code == 404
    done = client.post("/system/districts/remove",
                       data={"csrf": csrf, "slug": "lincoln", "confirm": "lincoln"},
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    with Home(deployment.settings) as home:
        assert "lincoln" not in {d.slug for d in home.store.districts()}
        assert home.store.batch(deployment.held.batch_id).district == "lincoln"  # kept
    assert {"action": "district_remove", "district": "lincoln", "operator": "ada"}.items() <= (
        _actions(deployment)[-1].items()
    )
    api = client.delete("/api/districts/quiet", headers=bearer(deployment, "ada"))
    assert api.json()["status"] == "removed"


def test_an_admin_sets_a_system_setting_for_every_machine(
    client: TestClient, deployment: Deployment
) -> None:
    csrf = log_in(client, "ada")
    form = {"csrf": csrf, "key": "purge_policy", "value": "aggressive"}
    done = client.post("/system/settings", data=form, follow_redirects=False)
    assert done.status_code == 303
    with Home(deployment.settings) as home:
        stored = home.store.system_settings()["purge_policy"]
        assert (stored.value, stored.updated_by) == ("aggressive", "ada")
    assert "<dt>purge_policy</dt><dd><code>aggressive</code>" in client.get("/system").text
    api = client.put("/api/system/settings/webhook_url", headers=bearer(deployment, "ada"),
                     json={"value": "https://hooks.example/T0KEN"})  # fmt: skip
    assert api.json()["message"] == "webhook_url = (set)"  # never the URL, which holds a token
    assert "T0KEN" not in client.get("/system").text
    assert "T0KEN" not in (deployment.settings.home / "logs" / "audit.log").read_text()


@pytest.mark.parametrize(
    ("key", "value", "answer"),
    [
        ("purge_policy", "sometimes", (400, "purge_policy")),
        ("connections_per_district", "0", (400, "connections_per_district")),
        ("no_such_setting", "1", (404, "not a system setting")),
        ("database_url", "sqlite:///x.db", (404, "not a system setting")),
    ],
)
def test_a_bad_setting_is_refused_and_nothing_is_stored(
    client: TestClient, deployment: Deployment, key: str, value: str, answer: tuple[int, str]
) -> None:
    status, says = answer
    csrf = log_in(client, "ada")
    refused = client.post("/system/settings", data={"csrf": csrf, "key": key, "value": value})
    assert refused.status_code == status
    assert says in refused.text
    with Home(deployment.settings) as home:
        assert key not in home.store.system_settings()


def test_only_an_admin_changes_system_settings(client: TestClient, deployment: Deployment) -> None:
    csrf = log_in(client, "otto")
    refused = client.post("/system/settings", data={"csrf": csrf, "key": "job_frequency",
                                                    "value": "high"})  # fmt: skip
    assert refused.status_code == 403
    assert 'action="/system/settings"' not in client.get("/system").text
    api = client.put("/api/system/settings/job_frequency", headers=bearer(deployment, "otto"),
                     json={"value": "high"})  # fmt: skip
    assert api.status_code == 403
    with Home(deployment.settings) as home:
        assert "job_frequency" not in home.store.system_settings()


def _rejects_total(client: TestClient, deployment: Deployment) -> str:
    text: str = client.get("/metrics", headers=bearer(deployment, "vera")).text
    return next(line for line in text.splitlines() if line.startswith("roster_rejects_total{"))


def test_reject_rows_go_with_the_retention_and_their_counts_stay(
    client: TestClient, deployment: Deployment
) -> None:
    hostile, held = deployment.hostile.batch_id, deployment.held.batch_id
    log_in(client, "vera")
    groups = client.get(f"/api/batches/{hostile}").json()["groups"]
    total = _rejects_total(client, deployment)
    with Home(deployment.settings) as home:  # the purge, a day after 30 days of retention
        retention.purge(home, datetime.now(UTC) + timedelta(days=31))
        assert home.store.rejects(hostile).is_empty()
        assert not home.store.rejects(held).is_empty()  # a held batch waits for ops
    assert client.get(f"/api/batches/{hostile}").json()["groups"] == groups
    page = client.get(f"/batches/{hostile}/rejects").text
    assert "purged with the batch's archive" in page
    assert client.get(f"/api/batches/{hostile}/rejects").json()["purged"] is True
    assert _rejects_total(client, deployment) == total  # a counter never goes down
