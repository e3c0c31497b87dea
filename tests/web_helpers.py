"""A console over a real home: districts, a held batch with rejects, three operators."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

from roster_pipeline import districts, operations, operators, pipeline
from roster_pipeline.config import Settings
from roster_pipeline.home import Home
from roster_pipeline.store import BatchRecord

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
PASSWORDS = {"vera": "viewer-pass-1", "otto": "operator-pass-1", "ada": "admin-pass-1"}
ROLES = {"vera": operators.Role.VIEWER, "otto": operators.Role.OPERATOR,
         "ada": operators.Role.ADMIN}  # fmt: skip
HOSTILE = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://x","y")'


@dataclass
class Deployment:
    settings: Settings
    held: BatchRecord  # lincoln's held batch, with rejects
    hostile: BatchRecord  # a batch whose rejects carry markup and formulas
    loaded: BatchRecord  # lincoln's first load, applied (it can be rolled back)


def hostile_csvs(folder: Path) -> Path:
    """The good sample with users whose values are markup and spreadsheet formulas."""
    shutil.copytree(SAMPLES / "good", folder)
    users = folder / "users.csv"
    lines = users.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    bad = []
    for i, value in enumerate((HOSTILE, FORMULA, f"{HOSTILE}@x", "+1-2")):
        row = [""] * len(header)
        row[0] = value if i % 2 == 0 else f"{value}{i}"
        row[1] = HOSTILE
        bad.append(",".join(f'"{v}"' if "," in v or '"' in v else v for v in
                            (c.replace('"', '""') for c in row)))  # fmt: skip
    users.write_text("\n".join([*lines, *bad]) + "\n", encoding="utf-8")
    return folder


def build(settings: Settings, work: Path) -> Deployment:
    """lincoln: loaded, then a mass delete with rejects (held); evil: markup in rejects."""
    with Home(settings) as home:
        home.create()
        districts.add_district(home, "lincoln", "Lincoln High")
        districts.add_district(home, "evil", f"Evil {HOSTILE}")
        districts.add_district(home, "quiet", "Quiet District")
        # evil's batch is a load with hostile rejects, not a hold: lift the rejected share.
        operations.configure(home, "evil", {"max_reject_pct": 100})
        loaded = pipeline.process(home, "lincoln", [SAMPLES / "next-night"]).batch
        held = pipeline.process(home, "lincoln", [SAMPLES / "bad"]).batch
        hostile = pipeline.process(home, "evil", [hostile_csvs(work / "hostile")]).batch
        for name, role in ROLES.items():
            operators.add_operator(home, name, role, PASSWORDS[name])
    return Deployment(settings, held, hostile, loaded)


def bearer(deployment: Deployment, name: str) -> dict[str, str]:
    """An Authorization header with a fresh API token of operator ``name``."""
    with Home(deployment.settings) as home:
        return {"Authorization": f"Bearer {operators.issue_token(home, name)}"}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def log_in(client: TestClient, name: str) -> str:
    """Log ``name`` in; returns the session's CSRF token."""
    form = client.get("/login")
    response = client.post(
        "/login",
        data={"name": name, "password": PASSWORDS[name], "csrf": csrf_of(form.text), "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/").text)


@contextmanager
def console_as_viewer(settings: Settings, name: str = "vera") -> Iterator[TestClient]:
    """The console in process over ``settings``' home, ``name`` added as a viewer and
    logged in."""
    from roster_pipeline.web.app import create_app

    with Home(settings) as home:
        operators.add_operator(home, name, operators.Role.VIEWER, PASSWORDS[name])
    with TestClient(create_app(settings)) as client:
        log_in(client, name)
        yield client
