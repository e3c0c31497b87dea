"""The ops console's ASGI application: routes, templates, headers and error pages.

Every response carries a strict Content-Security-Policy (no script at all, styles
from our own stylesheet only), so a value a district sent can neither run nor
load anything even if it escaped the templates' autoescaping. Errors are
answered as pages (or JSON under ``/api/``) saying what happened; a traceback
is logged for ops and never shown.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from roster_pipeline.config import Settings
from roster_pipeline.errors import (
    AccessError,
    ConflictError,
    NotFoundError,
    RosterError,
    TransientError,
)
from roster_pipeline.web.auth import HomePool, LoginRequired
from roster_pipeline.web.rendering import HERE, templates

log = logging.getLogger(__name__)

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';"
    " frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "a value is refused (an invalid slug, an unknown contract)"},
    401: {"description": "not logged in / no valid bearer token"},
    403: {"description": "the operator's role does not allow this, or CSRF failed"},
    404: {"description": "no such district, batch or file"},
    409: {"description": "the batch or district is not in a state that allows this, or exists"},
}


def create_app(settings: Settings) -> FastAPI:
    """The console for the home and database in ``settings``."""
    from roster_pipeline.web import api, metrics, pages

    pool = HomePool(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        pool.close()

    app = FastAPI(
        lifespan=lifespan,
        title="roster-pipeline ops console",
        version="1",
        openapi_url="/api/openapi.json",
        docs_url=None,  # the interactive docs load scripts from elsewhere: not here
        redoc_url=None,
        responses=_ERROR_RESPONSES,
    )
    app.state.settings = settings
    app.state.pool = pool
    app.middleware("http")(_headers)
    app.add_exception_handler(RosterError, _roster_error)  # type: ignore[arg-type]
    app.add_exception_handler(LoginRequired, _to_login)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _crash)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(metrics.router)
    return app


async def _headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    for name, value in _HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _machine(request: Request) -> bool:
    """A request from a program (the API, Prometheus): answered in JSON, never redirected."""
    return request.url.path.startswith("/api/") or request.url.path == "/metrics"


def _status(exc: RosterError) -> int:
    if isinstance(exc, AccessError):
        return 403 if exc.authenticated else 401
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ConflictError):
        return 409
    return 503 if isinstance(exc, TransientError) else 400


def error_response(request: Request, status: int, message: str) -> Response:
    if _machine(request):
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"detail": message}, status_code=status, headers=headers)
    page: Response = templates.TemplateResponse(
        request, "error.html", {"status": status, "message": message}, status_code=status
    )
    return page


async def _roster_error(request: Request, exc: RosterError) -> Response:
    status = _status(exc)
    if status == 401 and not _machine(request):
        return await _to_login(request, LoginRequired())
    return error_response(request, status, str(exc))


async def _to_login(request: Request, _exc: LoginRequired) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    messages = {404: "there is no such page", 405: "that method is not allowed here"}
    return error_response(request, exc.status_code, messages.get(exc.status_code, str(exc.detail)))


async def _invalid(request: Request, exc: RequestValidationError) -> Response:
    if _machine(request):
        return JSONResponse({"detail": exc.errors()}, status_code=422)
    fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
    return error_response(request, 400, f"the request is not valid ({fields})")


async def _crash(request: Request, exc: Exception) -> Response:
    log.exception("console request %s %s failed", request.method, request.url.path)
    return error_response(request, 500, "the console failed on this request; ops see it in the log")
