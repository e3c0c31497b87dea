"""Who is asking: the session cookie for pages, a bearer token (or the cookie) for the API.

Every page and API call goes through one of these dependencies. The cookie is
HttpOnly, SameSite=Strict, and Secure whenever the request came over https (as
uvicorn reads it from a trusted proxy's X-Forwarded-Proto). Forms carry the
session's CSRF token; the login form, before there is a session, a double-submit
token (a cookie and a field that must match).
"""

from __future__ import annotations

import hmac
import queue
import secrets
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response

from roster_pipeline.config import Settings
from roster_pipeline.errors import AccessError
from roster_pipeline.home import Home
from roster_pipeline.operators import SESSION_FOR, Login, Role, by_session, by_token

COOKIE = "roster_session"
LOGIN_CSRF_COOKIE = "roster_login_csrf"
_SAFE = {"GET", "HEAD", "OPTIONS"}


class HomePool:
    """Open homes (one database connection each) lent to one request at a time."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._idle: queue.SimpleQueue[Home] = queue.SimpleQueue()

    def lend(self) -> Iterator[Home]:
        try:
            home = self._idle.get_nowait()
        except queue.Empty:
            home = Home(self.settings)
        try:
            yield home
        except BaseException:
            home.close()  # a failed statement may leave the connection in doubt
            raise
        self._idle.put(home)

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


def _home(request: Request) -> Iterator[Home]:
    pool: HomePool = request.app.state.pool
    yield from pool.lend()


HomeDep = Annotated[Home, Depends(_home)]


class LoginRequired(Exception):
    """A page asked for without a session: the answer is the login form."""


def _page_login(request: Request, home: HomeDep) -> Login:
    token = request.cookies.get(COOKIE, "")
    login = by_session(home, token) if token else None
    if login is None:
        raise LoginRequired
    return login


def _api_login(request: Request, home: HomeDep) -> Login:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        row = by_token(home, header[7:].strip())
        if row is None:
            raise AccessError("the API token is not valid (see `roster operator token`)")
        return Login(row.name, Role.parse(row.role), "", "")
    token = request.cookies.get(COOKIE, "")
    login = by_session(home, token) if token else None
    if login is None:
        raise AccessError("log in, or send `Authorization: Bearer <token>`")
    if request.method not in _SAFE:
        check_csrf(login, request.headers.get("x-csrf-token", ""))
    return login


PageLogin = Annotated[Login, Depends(_page_login)]
ApiLogin = Annotated[Login, Depends(_api_login)]


def check_csrf(login: Login, sent: str) -> None:
    if not sent or not hmac.compare_digest(sent, login.csrf):
        raise AccessError(
            "the form's security token is missing or stale; reload the page and try again",
            authenticated=True,
        )


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def set_session_cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=int(SESSION_FOR.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
