"""The JSON twins of the pages under ``/api/``, described by ``/api/openapi.json``.

Clients authenticate with their operator's bearer token (``roster operator
token NAME``); a logged-in browser may read with its cookie, and may act only
with the session's CSRF token in ``X-CSRF-Token``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from roster_pipeline.store import RejectFilter
from roster_pipeline.web import actions, admin, batch_view, overview, security
from roster_pipeline.web.auth import ApiLogin, HomeDep
from roster_pipeline.web.models import (
    ActionResult,
    BatchView,
    CheckView,
    DistrictForm,
    DistrictView,
    NewDistrict,
    Overview,
    RejectPage,
    SearchResult,
    Security,
    SettingForm,
    System,
)

router = APIRouter(prefix="/api")
BatchAction = Literal["approve", "discard", "reprocess", "rollback"]
DistrictAction = Literal["pause", "resume", "disable", "enable"]
Text = Annotated[str, Query(max_length=200)]


@router.get("/overview")
def get_overview(
    *,
    home: HomeDep,
    login: ApiLogin,
    status: Text = "",
    q: Text = "",
    offset: Annotated[int, Query(ge=0, le=10**6)] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = overview.PAGE,
) -> Overview:
    """The districts with their status, worst first (filter by status and name)."""
    return overview.overview(home, status, q, page=(offset, limit))


@router.get("/districts/{slug}")
def get_district(home: HomeDep, login: ApiLogin, slug: str) -> DistrictView:
    return overview.district_view(home, slug)


@router.get("/batches/{batch_id}")
def get_batch(home: HomeDep, login: ApiLogin, batch_id: str) -> BatchView:
    return batch_view.batch_view(home, batch_id)


@router.get("/batches/{batch_id}/rejects")
def get_rejects(
    *,
    home: HomeDep,
    login: ApiLogin,
    batch_id: str,
    file: Text = "",
    code: Text = "",
    column: Text = "",
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = batch_view.PAGE_SIZE,
) -> RejectPage:
    """A page of rejects after the reject id ``after``; ``next_after`` fetches the next."""
    where = RejectFilter(file or None, code or None, column or None)
    return batch_view.reject_page(home, batch_id, where, after, limit)


@router.get("/search")
def get_search(home: HomeDep, login: ApiLogin, q: Text = "") -> SearchResult:
    """Users, classes and schools in every district by ID or name fragment."""
    return batch_view.search(home, q)


@router.get("/security")
def get_security(home: HomeDep, login: ApiLogin) -> Security:
    return security.security(home)


@router.get("/system")
def get_system(home: HomeDep, login: ApiLogin) -> System:
    return security.system(home)


@router.post("/batches/{batch_id}/{action}")
def post_batch_action(
    home: HomeDep, login: ApiLogin, batch_id: str, action: BatchAction
) -> ActionResult:
    """Approve, discard, reprocess or roll back a batch (operator role)."""
    return actions.run_batch_action(home, login, action, batch_id)


@router.post("/districts/{slug}/{action}")
def post_district_action(
    home: HomeDep, login: ApiLogin, slug: str, action: DistrictAction
) -> ActionResult:
    """Pause or resume (operator role), disable or enable (admin role) a district."""
    return actions.run_district_action(home, login, action, slug)


@router.post("/system/test")
def post_system_test(home: HomeDep, login: ApiLogin) -> list[CheckView]:
    """Test Connection (operator role): database, home, disk, host keys, port, webhook."""
    return admin.test_connection(home, login)


@router.post("/districts")
def post_district(home: HomeDep, login: ApiLogin, form: DistrictForm) -> NewDistrict:
    """Add a district and its SFTP account (admin role); the password is in this answer only."""
    return admin.add_district(home, login, form.slug, form.name, form.spec)


@router.delete("/districts/{slug}")
def delete_district(home: HomeDep, login: ApiLogin, slug: str) -> ActionResult:
    """Remove a district's account (admin role); its files, batches and rows are kept."""
    return admin.remove_district(home, login, slug, confirm=slug)


@router.put("/system/settings/{key}")
def put_system_value(home: HomeDep, login: ApiLogin, key: str, form: SettingForm) -> ActionResult:
    """Set a system setting for every machine (admin role), as `roster system set` does."""
    return admin.set_system_value(home, login, key, form.value)
