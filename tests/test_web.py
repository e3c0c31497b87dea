"""The ops console over HTTP (in-process ASGI), on both engines: logins, pages,
their JSON twins, actions, escaping, errors, metrics."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from roster_pipeline import events, operations, operators
from roster_pipeline.contracts import rejects as rejects_mod
from roster_pipeline.home import Home
from roster_pipeline.store import BatchRecord, BatchStatus
from roster_pipeline.web.app import CSP, create_app
from sftp_server import Algorithms, AuditLog, UploadRecord
from tests.web_helpers import (
    FORMULA,
    HOSTILE,
    PASSWORDS,
    Deployment,
    bearer,
    csrf_of,
    log_in,
)


def _audit(deployment: Deployment) -> list[dict[str, object]]:
    path = deployment.settings.home / "logs" / "audit.log"
    return [json.loads(line) for line in path.read_text().splitlines()]


def _post_login(c: TestClient, name: str, password: str = "", csrf: str = "") -> Response:
    form = c.get("/login")
    data = {
        "name": name,
        "password": password or PASSWORDS[name],
        "csrf": csrf or csrf_of(form.text),
    }
    response: Response = c.post("/login", data=data, follow_redirects=False)
    return response


def test_pages_need_a_login_and_the_api_abearer(client: TestClient) -> None:
    page = client.get("/batches/x", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fbatches%2Fx"
    api = client.get("/api/overview")
    assert api.status_code == 401
    assert api.headers["www-authenticate"] == "Bearer"
    bad = client.get("/api/overview", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


def test_session_cookie_is_httponly_strict_and_secure_over_https(deployment: Deployment) -> None:
    with TestClient(create_app(deployment.settings), base_url="https://console.test") as c:
        done = _post_login(c, "vera")
    cookie = next(v for v in done.headers.get_list("set-cookie") if v.startswith("roster_session"))
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Secure" in cookie
    with TestClient(create_app(deployment.settings)) as plain:
        done = _post_login(plain, "vera")
    assert "Secure" not in done.headers["set-cookie"].split("roster_login_csrf")[0]


def test_login_form_without_its_token_is_refused(client: TestClient) -> None:
    refused = _post_login(client, "vera", csrf="forged")
    assert refused.status_code == 403
    assert "roster_session" not in refused.headers.get("set-cookie", "")


def test_lockout_after_repeated_failures(client: TestClient, deployment: Deployment) -> None:
    for _ in range(operators.LOCK_AFTER):
        wrong = _post_login(client, "otto", password="guess")
        assert wrong.status_code == 401
        assert "wrong name or password" in wrong.text
    right = _post_login(client, "otto")
    assert right.status_code == 401
    assert "locked" in right.text
    failures = [a for a in _audit(deployment) if a.get("action") == "console_login_failed"]
    assert len(failures) == operators.LOCK_AFTER + 1
    assert {a["operator"] for a in failures} == {"otto"}


def test_overview_worst_first_escaped_with_a_strict_csp(client: TestClient) -> None:
    log_in(client, "vera")
    page = client.get("/")
    assert page.headers["content-security-policy"] == CSP
    assert "script-src" not in CSP  # default-src 'none': no script runs at all
    assert HOSTILE not in page.text
    assert "Evil &lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    order = [line.split('data-status="')[1].split('"')[0]
             for line in page.text.splitlines() if 'class="district"' in line]  # fmt: skip
    assert order == ["held", "never received", "ok"]
    data = client.get("/api/overview").json()
    assert [d["slug"] for d in data["districts"]] == ["lincoln", "quiet", "evil"]
    assert data["by_status"]["held"] == 1
    only = client.get("/api/overview", params={"status": "never received"}).json()
    assert [d["slug"] for d in only["districts"]] == ["quiet"]
    named = client.get("/", params={"q": "linc"}).text
    assert "/districts/lincoln" in named
    assert "/districts/quiet" not in named


def test_district_page_lists_categories_in_review_order(client: TestClient) -> None:
    log_in(client, "vera")
    view = client.get("/api/districts/lincoln").json()
    tables = [c["table"] for c in view["categories"]]
    assert tables[:3] == ["schools", "users", "classes"]
    assert tables[-1] == "enrollments"
    users = next(c for c in view["categories"] if c["table"] == "users")
    assert users["status"] == "held"
    assert users["loaded"] == 13
    assert [b["status"] for b in view["history"]] == ["held", "loaded"]
    assert view["account"]["username"] == "lincoln"
    assert view["thresholds"]["max_delete_pct"] == 10.0
    page = client.get("/districts/lincoln")
    assert (
        page.text.index(">schools<") < page.text.index(">users<") < page.text.index(">enrollments<")
    )
    assert "<svg" in page.text


def test_batch_page_groups_rejects_with_advice(client: TestClient, deployment: Deployment) -> None:
    log_in(client, "vera")
    view = client.get(f"/api/batches/{deployment.held.batch_id}").json()
    assert view["status"] == "held"
    assert view["actions"] == ["approve", "discard", "reprocess"]
    assert sum(g["count"] for g in view["groups"]) == deployment.held.rejects
    pattern = next(g for g in view["groups"] if g["code"] == "pattern")
    assert pattern["advice"] == "The value does not have the required format."
    page = client.get(f"/batches/{deployment.held.batch_id}").text
    assert "The value does not have the required format." in page
    assert "users.csv" in page


def test_rejects_page_by_key_without_overlap(client: TestClient, deployment: Deployment) -> None:
    log_in(client, "vera")
    batch = deployment.held.batch_id
    seen: list[int] = []
    after = 0
    while True:
        page = client.get(f"/api/batches/{batch}/rejects", params={"after": after, "limit": 3})
        body = page.json()
        seen += [r["reject_id"] for r in body["rows"]]
        if body["next_after"] is None:
            break
        after = body["next_after"]
    assert len(seen) == deployment.held.rejects
    assert seen == sorted(set(seen))
    coded = client.get(f"/api/batches/{batch}/rejects", params={"code": "pattern"}).json()
    assert coded["rows"]
    assert {r["code"] for r in coded["rows"]} == {"pattern"}
    html = client.get(f"/batches/{batch}/rejects", params={"code": "required"}).text
    assert "<code>required</code>" in html
    assert "<code>pattern</code>" not in html


def test_hostile_values_are_escaped_and_neutralised(
    client: TestClient, deployment: Deployment
) -> None:
    log_in(client, "vera")
    batch = deployment.hostile.batch_id
    page = client.get(f"/batches/{batch}/rejects")
    assert HOSTILE not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    download = client.get(f"/batches/{batch}/rejects.csv")
    assert download.headers["content-disposition"].startswith("attachment")
    rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    values = [r["value"] for r in rows if r["value"]]
    assert f"'{FORMULA}1" in values
    assert "'+1-23" in values
    assert not any(v[0] in "=+-@" for v in values)


def test_received_files_download_as_received(client: TestClient, deployment: Deployment) -> None:
    log_in(client, "vera")
    batch = deployment.held.batch_id
    got = client.get(f"/batches/{batch}/files/users.csv")
    assert got.status_code == 200
    sample = Path(__file__).resolve().parent.parent / "samples" / "bad" / "users.csv"
    assert got.content == sample.read_bytes()
    assert client.get(f"/batches/{batch}/files/..%2Froster.toml").status_code == 404


def test_missing_batch_and_district_are_404_pages(client: TestClient) -> None:
    log_in(client, "vera")
    for path in ("/batches/nope", "/districts/nope", "/batches/nope/rejects", "/no/such/page"):
        page = client.get(path)
        assert page.status_code == 404, path
        assert "Not found" in page.text
        assert "Traceback" not in page.text
    api = client.get("/api/batches/nope")
    assert api.status_code == 404
    assert api.json()["detail"].startswith("no batch 'nope'")


def test_approve_after_confirmation_changes_the_status(
    client: TestClient, deployment: Deployment
) -> None:
    csrf = log_in(client, "otto")
    batch = deployment.held.batch_id
    confirm = client.get(f"/batches/{batch}/actions/approve")
    assert "users: 0 added" in confirm.text or "users:" in confirm.text
    assert "deleted" in confirm.text
    done = client.post(f"/batches/{batch}/actions/approve", data={"csrf": csrf},
                       follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    assert client.get(f"/api/batches/{batch}").json()["status"] == "loaded_with_rejects"
    action = [a for a in _audit(deployment) if a.get("action") == "batch_approve"]
    assert action == [action[0]]
    assert action[0]["operator"] == "otto"
    assert action[0]["batch"] == batch


def test_api_actions_with_a_bearerbearer(client: TestClient, deployment: Deployment) -> None:
    otto = bearer(deployment, "otto")
    batch = deployment.held.batch_id
    done = client.post(f"/api/batches/{batch}/discard", headers=otto)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "discarded"
    again = client.post(f"/api/batches/{batch}/discard", headers=otto)
    assert again.status_code == 409
    paused = client.post("/api/districts/quiet/pause", headers=otto)
    assert paused.json()["status"] == "paused"
    overview = client.get("/api/overview", headers=otto).json()
    assert next(d for d in overview["districts"] if d["slug"] == "quiet")["status"] == "paused"
    forbidden = client.post("/api/districts/quiet/disable", headers=otto)
    assert forbidden.status_code == 403
    ada = bearer(deployment, "ada")
    assert client.post("/api/districts/quiet/disable", headers=ada).json()["status"] == "disabled"


#: Every mutating endpoint: (path template, form fields, role needed).
_PAGE_ACTIONS = [
    ("/batches/{held}/actions/approve", {}, "otto"),
    ("/batches/{held}/actions/discard", {}, "otto"),
    ("/batches/{held}/actions/reprocess", {}, "otto"),
    ("/districts/quiet/actions/pause", {}, "otto"),
    ("/districts/quiet/actions/disable", {}, "ada"),
    ("/system/operators", {"name": "newbie", "role": "viewer"}, "ada"),
    ("/system/operators/vera/remove", {}, "ada"),
]
_API_ACTIONS = [
    ("/api/batches/{held}/approve", "otto"),
    ("/api/batches/{held}/discard", "otto"),
    ("/api/batches/{held}/reprocess", "otto"),
    ("/api/districts/quiet/pause", "otto"),
    ("/api/districts/quiet/resume", "otto"),
    ("/api/districts/quiet/disable", "ada"),
    ("/api/districts/quiet/enable", "ada"),
]


@pytest.mark.parametrize(("template", "fields", "needed"), _PAGE_ACTIONS)
def test_every_form_refuses_strangers_viewers_and_forged_posts(
    deployment: Deployment, template: str, fields: dict[str, str], needed: str
) -> None:
    path = template.format(held=deployment.held.batch_id)
    with TestClient(create_app(deployment.settings)) as c:
        anonymous = c.post(path, data={**fields, "csrf": "x"}, follow_redirects=False)
        assert anonymous.status_code == 303
        assert anonymous.headers["location"].startswith("/login")
        csrf = log_in(c, "vera" if needed == "otto" else "otto")
        weaker = c.post(path, data={**fields, "csrf": csrf})
        assert weaker.status_code == 403
        assert "needs the" in weaker.text
    with TestClient(create_app(deployment.settings)) as c:
        log_in(c, needed)
        forged = c.post(path, data={**fields, "csrf": "forged"})
        assert forged.status_code == 403
        missing = c.post(path, data=fields)
        assert missing.status_code in {400, 403}
    with Home(deployment.settings) as home:
        assert home.store.batch(deployment.held.batch_id).status == "held"
        assert home.store.district("quiet").enabled
        assert {o.name for o in operators.operators(home)} == {"vera", "otto", "ada"}


@pytest.mark.parametrize(("template", "needed"), _API_ACTIONS)
def test_every_api_action_refuses_strangers_viewers_and_cookie_without_csrf(
    client: TestClient, deployment: Deployment, template: str, needed: str
) -> None:
    path = template.format(held=deployment.held.batch_id)
    assert client.post(path).status_code == 401
    weaker = bearer(deployment, "vera" if needed == "otto" else "otto")
    assert client.post(path, headers=weaker).status_code == 403
    log_in(client, needed)
    assert client.post(path).status_code == 403  # a cookie alone: no CSRF header
    with Home(deployment.settings) as home:
        assert home.store.batch(deployment.held.batch_id).status == "held"
        assert home.store.district("quiet").enabled


def test_search_across_districts(client: TestClient) -> None:
    log_in(client, "vera")
    by_id = client.get("/api/search", params={"q": "000421"}).json()
    assert [(h["district"], h["table"], h["key"]) for h in by_id["hits"]] == [
        ("evil", "users", "000421"),
        ("lincoln", "users", "000421"),
    ]
    assert by_id["hits"][1]["row"]["last_name"] == "Brown-Ellis"  # lincoln's next night
    by_name = client.get("/api/search", params={"q": "brown"}).json()
    assert {h["district"] for h in by_name["hits"]} == {"lincoln", "evil"}
    page = client.get("/search", params={"q": HOSTILE}).text
    assert HOSTILE not in page


def test_security_and_system_pages(client: TestClient, deployment: Deployment) -> None:
    with Home(deployment.settings) as home:
        events.record(home, "error", "batch_held", f"held {HOSTILE}", district="lincoln",
                      batch_id=deployment.held.batch_id, always=True)  # fmt: skip
    log_in(client, "ada")
    security = client.get("/api/security").json()
    assert any(e["action"] == "console_login" and e["username"] == "ada"
               for e in security["logins"])  # fmt: skip
    system = client.get("/api/system").json()
    assert {o["name"]: o["role"] for o in system["operators"]} == {
        "ada": "admin", "otto": "operator", "vera": "viewer",
    }  # fmt: skip
    assert system["schema_version"] >= 1
    held = next(e for e in system["events"] if e["batch_id"] == deployment.held.batch_id)
    assert held["district"] == "lincoln"
    page = client.get("/system").text
    assert f'href="/batches/{deployment.held.batch_id}"' in page
    assert HOSTILE not in page
    page = client.get("/system")
    added = client.post("/system/operators", data={"name": "newbie", "role": "viewer",
                                                   "csrf": csrf_of(page.text)})  # fmt: skip
    assert "shown once" in added.text
    assert "newbie" in {o["name"] for o in client.get("/api/system").json()["operators"]}


def test_metrics_health_and_readiness(client: TestClient, deployment: Deployment) -> None:
    assert client.get("/metrics").status_code == 401
    text = client.get("/metrics", headers=bearer(deployment, "vera")).text
    assert 'roster_batches{status="held"} 1.0' in text
    assert 'roster_rejects_total{code="pattern"}' in text
    assert "roster_batch_processing_seconds_bucket" in text
    assert "roster_queue_depth 0.0" in text
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


def test_not_ready_while_a_batch_waits_for_a_worker(
    client: TestClient, deployment: Deployment
) -> None:
    waiting = BatchRecord(
        batch_id="b-waiting", district="quiet", status=BatchStatus.RECEIVED,
        received_at=datetime.now(UTC) - timedelta(hours=1),
    )  # fmt: skip
    with Home(deployment.settings) as home:
        home.store.save_batch(waiting, rejects_mod.empty())
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "waits for a worker" in ready.json()["problems"][0]
    assert client.get("/healthz").status_code == 200


def test_overdue_district_is_stale_until_paused(client: TestClient, deployment: Deployment) -> None:
    with Home(deployment.settings) as home:
        operations.configure(home, "lincoln", {"expect_every_hours": 0.0})
    csrf = log_in(client, "otto")
    states = {d["slug"]: d["status"] for d in client.get("/api/overview").json()["districts"]}
    assert states["lincoln"] == "held"  # a held batch outranks lateness
    with Home(deployment.settings) as home:
        operations.discard(home, deployment.held.batch_id)
    states = {d["slug"]: d["status"] for d in client.get("/api/overview").json()["districts"]}
    assert states["lincoln"] == "stale"
    client.post("/districts/lincoln/actions/pause", data={"csrf": csrf})
    summary = client.get("/api/districts/lincoln").json()["summary"]
    assert summary["status"] == "paused"
    assert summary["next_expected"] is None


def test_district_page_shows_the_sftp_account_from_the_audit_log(
    client: TestClient, deployment: Deployment
) -> None:
    log = AuditLog(deployment.settings.home / "logs" / "audit.log")
    log.write("auth_fail", address="203.0.113.9", username="lincoln", method="password",
              reason="wrong password")  # fmt: skip
    log.write("banned", address="203.0.113.9")
    log.write("banned", address="198.51.100.1")  # someone else's failures
    log.write("auth_ok", address="192.0.2.7", username="lincoln", district="lincoln",
              method="password")  # fmt: skip
    log.close()
    now = datetime.now(UTC)
    upload = UploadRecord(
        "lincoln", "lincoln", f"users{HOSTILE}.csv", Path("/x"), 1234, "0" * 64, "192.0.2.7",
        "SSH-2.0-PowerSchool", Algorithms("", "aes128-ctr", "hmac-sha2-256", "ssh-ed25519"),
        now, now,
    )  # fmt: skip
    with Home(deployment.settings) as home:
        home.store.record_upload(upload)
    log_in(client, "vera")
    view = client.get("/api/districts/lincoln").json()
    account = view["account"]
    assert account["recent_failures"] == 1
    assert account["recent_bans"] == 1
    assert account["last_login"] is not None
    assert [u["file"] for u in view["uploads"]] == [f"users{HOSTILE}.csv"]
    page = client.get("/districts/lincoln").text
    assert HOSTILE not in page
    security = client.get("/api/security").json()
    assert [b["address"] for b in security["bans"]] == ["198.51.100.1", "203.0.113.9"]


def test_logout_needs_the_token_and_ends_the_session(client: TestClient) -> None:
    csrf = log_in(client, "vera")
    assert client.post("/logout", data={"csrf": "forged"}).status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 200
    token = client.cookies["roster_session"]
    out = client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303
    client.cookies.set("roster_session", token)  # a copy kept by someone: dead too
    assert client.get("/", follow_redirects=False).status_code == 303
