"""The console's HTML pages and forms; each page's data comes from the same function
as its ``/api/`` twin. Forms post back here with the session's CSRF token and
end in a redirect (post/redirect/get), so reloading never repeats an action."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from roster_pipeline import operators
from roster_pipeline.config import SYSTEM_KEYS
from roster_pipeline.contracts.specs import available_specs
from roster_pipeline.errors import AccessError, NotFoundError
from roster_pipeline.store import RejectFilter
from roster_pipeline.web import actions, admin, batch_view, overview, security
from roster_pipeline.web.auth import (
    COOKIE,
    LOGIN_CSRF_COOKIE,
    HomeDep,
    PageLogin,
    check_csrf,
    new_login_csrf,
    set_session_cookie,
)
from roster_pipeline.web.rendering import templates

router = APIRouter(include_in_schema=False)
Csrf = Annotated[str, Form()]


def _page(request: Request, name: str, login: operators.Login | None, **data: object) -> Response:
    page: Response = templates.TemplateResponse(request, name, {"login": login, **data})
    return page


def _back(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


# logging in and out
@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    token = new_login_csrf()
    response = _page(request, "login.html", None, csrf=token, next=next, error="")
    set_session_cookie(request, response, LOGIN_CSRF_COOKIE, token)
    return response


def _safe_next(target: str) -> str:
    return target if target.startswith("/") and not target.startswith("//") else "/"


@router.post("/login")
def login(
    request: Request,
    *,
    home: HomeDep,
    name: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf: Csrf,
    next: Annotated[str, Form()] = "/",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not csrf or expected != csrf:
        raise AccessError("the login form expired; load it again", authenticated=True)
    try:
        session = operators.log_in(home, name, password)
    except AccessError as exc:
        operators.audit(home, name[:64], "console_login_failed", address=_address(request))
        token = new_login_csrf()
        response = _page(request, "login.html", None, csrf=token, next=next, error=str(exc))
        response.status_code = 401
        set_session_cookie(request, response, LOGIN_CSRF_COOKIE, token)
        return response
    operators.audit(home, session.operator, "console_login", address=_address(request))
    response = _back(_safe_next(next))
    set_session_cookie(request, response, COOKIE, session.token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


@router.post("/logout")
def logout(home: HomeDep, login: PageLogin, csrf: Csrf) -> Response:
    check_csrf(login, csrf)
    operators.log_out(home, login.token)
    operators.audit(home, login.operator, "console_logout")
    response = _back("/login")
    response.delete_cookie(COOKIE, path="/")
    return response


# reading
@router.get("/")
def overview_page(
    request: Request,
    *,
    home: HomeDep,
    login: PageLogin,
    status: str = "",
    q: str = "",
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    found = overview.overview(home, status, q, page=(offset, overview.PAGE))
    return _page(request, "overview.html", login, view=found, status=status, q=q)


@router.get("/districts/{slug}")
def district_page(request: Request, home: HomeDep, login: PageLogin, slug: str) -> Response:
    view = overview.district_view(home, slug)
    doable = actions.district_actions(view.summary.paused, view.summary.enabled)
    return _page(request, "district.html", login, view=view, actions=doable)


@router.get("/batches/{batch_id}")
def batch_page(request: Request, home: HomeDep, login: PageLogin, batch_id: str) -> Response:
    view = batch_view.batch_view(home, batch_id)
    return _page(request, "batch.html", login, view=view)


@router.get("/batches/{batch_id}/rejects")
def rejects_page(
    request: Request,
    *,
    home: HomeDep,
    login: PageLogin,
    batch_id: str,
    file: str = "",
    code: str = "",
    column: str = "",
    after: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    where = RejectFilter(file or None, code or None, column or None)
    page = batch_view.reject_page(home, batch_id, where, after)
    chosen = {k: v for k, v in (("file", file), ("code", code), ("column", column)) if v}
    groups = batch_view.reject_groups(home, home.store.batch(batch_id))
    return _page(request, "rejects.html", login, page=page, groups=groups,
                 query=urlencode(chosen))  # fmt: skip


@router.get("/batches/{batch_id}/rejects.csv")
def rejects_csv(
    *,
    home: HomeDep,
    login: PageLogin,
    batch_id: str,
    file: str = "",
    code: str = "",
    column: str = "",
) -> Response:
    where = RejectFilter(file or None, code or None, column or None)
    text = batch_view.rejects_csv(home, batch_id, where)
    return Response(
        ("\ufeff" + text).encode(),  # a byte-order mark: Excel opens it as UTF-8
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{batch_id}-rejects.csv"'},
    )


@router.get("/batches/{batch_id}/files/{name}")
def received_file(home: HomeDep, login: PageLogin, batch_id: str, name: str) -> Response:
    home.store.batch(batch_id)
    found = batch_view.archived_files(home, batch_id)
    if name not in found:  # names come from the archive listing, never joined into a path
        raise NotFoundError(f"batch {batch_id} has no archived file {name!r}")
    return FileResponse(found[name], filename=name, media_type="application/octet-stream")


@router.get("/search")
def search_page(request: Request, home: HomeDep, login: PageLogin, q: str = "") -> Response:
    return _page(request, "search.html", login, result=batch_view.search(home, q))


@router.get("/districts/{slug}/history/{table}/{key}")
def history_page(
    request: Request, *, home: HomeDep, login: PageLogin, slug: str, table: str, key: str
) -> Response:
    """A person's or class's timeline: every batch that touched it (roster history)."""
    from roster_pipeline import history
    from roster_pipeline.render import timeline

    found = history.timeline(home, slug, key, table)
    return _page(request, "history.html", login, timeline=timeline.to_json(found))


@router.get("/security")
def security_page(request: Request, home: HomeDep, login: PageLogin) -> Response:
    return _page(request, "security.html", login, view=security.security(home))


@router.get("/system")
def system_page(request: Request, home: HomeDep, login: PageLogin) -> Response:
    return _system(request, home, login)


def _system(request: Request, home: HomeDep, login: operators.Login, **shown: object) -> Response:
    """The System page, with what an action just produced (shown once, never stored)."""
    parts: dict[str, object] = {"added": None, "checks": None, "new_district": None, **shown}
    view = security.system(home)
    return _page(request, "system.html", login, view=view, specs=available_specs(),
                 settable=SYSTEM_KEYS, **parts)  # fmt: skip


# acting
@router.get("/batches/{batch_id}/actions/{action}")
def confirm_page(
    request: Request, home: HomeDep, login: PageLogin, batch_id: str, action: str
) -> Response:
    batch = home.store.batch(batch_id)
    if action not in actions.batch_actions(batch):
        raise NotFoundError(f"batch {batch_id} ({batch.status}) offers no action {action!r}")
    text = actions.confirmation(batch, action)
    return _page(request, "confirm.html", login, batch=batch, action=action, text=text)


@router.post("/batches/{batch_id}/actions/{action}")
def batch_action(
    home: HomeDep, login: PageLogin, batch_id: str, action: str, csrf: Csrf
) -> Response:
    check_csrf(login, csrf)
    actions.run_batch_action(home, login, action, batch_id)
    return _back(f"/batches/{batch_id}")


@router.post("/districts/{slug}/actions/{action}")
def district_action(
    home: HomeDep, login: PageLogin, slug: str, action: str, csrf: Csrf
) -> Response:
    check_csrf(login, csrf)
    actions.run_district_action(home, login, action, slug)
    return _back(f"/districts/{slug}")


@router.post("/system/operators")
def add_operator(
    request: Request,
    *,
    home: HomeDep,
    login: PageLogin,
    csrf: Csrf,
    name: Annotated[str, Form()],
    role: Annotated[str, Form()],
) -> Response:
    check_csrf(login, csrf)
    return _system(request, home, login, added=admin.add_operator(home, login, name, role))


@router.post("/system/operators/{name}/remove")
def remove_operator(home: HomeDep, login: PageLogin, name: str, csrf: Csrf) -> Response:
    check_csrf(login, csrf)
    admin.remove_operator(home, login, name)
    return _back("/system")


@router.post("/system/test")
def test_connection(request: Request, home: HomeDep, login: PageLogin, csrf: Csrf) -> Response:
    check_csrf(login, csrf)
    return _system(request, home, login, checks=admin.test_connection(home, login))


@router.post("/system/districts")
def add_district(
    request: Request,
    *,
    home: HomeDep,
    login: PageLogin,
    csrf: Csrf,
    slug: Annotated[str, Form()],
    name: Annotated[str, Form()] = "",
    spec: Annotated[str, Form()] = "roster-csv",
) -> Response:
    check_csrf(login, csrf)
    added = admin.add_district(home, login, slug, name, spec)
    return _system(request, home, login, new_district=added)


@router.post("/system/districts/remove")
def remove_district(
    *,
    home: HomeDep,
    login: PageLogin,
    csrf: Csrf,
    slug: Annotated[str, Form()],
    confirm: Annotated[str, Form()],
) -> Response:
    check_csrf(login, csrf)
    admin.remove_district(home, login, slug, confirm)
    return _back("/")


@router.post("/system/settings")
def set_system_value(
    *,
    home: HomeDep,
    login: PageLogin,
    csrf: Csrf,
    key: Annotated[str, Form()],
    value: Annotated[str, Form()],
) -> Response:
    check_csrf(login, csrf)
    admin.set_system_value(home, login, key, value)
    return _back("/system")
