"""An HTTP client for PowerSchool's REST API, over httpx.

What PowerSchool does that a plain client would trip on (the reference notes
give the evidence for each):

- a token (``POST /oauth/access_token``, HTTP Basic client_id:client_secret,
  ``grant_type=client_credentials``) lives about 30 days and a repeated request
  may return the same token with less time left, so its expiry is computed from
  every response (``expires_in`` arrives as text) and it is cached per client;
- an expired or revoked token is a 401: the client authenticates once more and
  retries; a second 401 is a failure naming the likely cause;
- a plugin's minimum interval between requests rejects faster calls with "too
  many requests, wait N seconds" (the status is not documented: 429 and 503 are
  treated alike), honoured from ``Retry-After`` or the message, with backoff;
- 500/502/504 and dropped connections are retried a few times, 400/403/404 never.

Every message names the request and what to check; secrets are masked out.
"""

from __future__ import annotations

import ipaddress
import re
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from roster_pipeline.errors import ConfigError, SourceError
from roster_pipeline.sources.vault import mask

_WAIT = re.compile(r"wait\s+(\d+(?:\.\d+)?)\s*sec", re.IGNORECASE)
_THROTTLED = {429, 503}
_SERVER = {500, 502, 504}
#: Seconds before a token's stated expiry at which it is renewed instead of used.
_EARLY = 60.0


@dataclass(frozen=True)
class Retries:
    """How often and how long to retry; tests shorten the waits."""

    throttled: int = 6  # tries on 429/503
    server: int = 3  # tries on 5xx, dropped connections, timeouts
    backoff: float = 1.0  # first wait; doubles each try
    max_wait: float = 60.0


@dataclass(frozen=True)
class Token:
    value: str
    expires_at: float  # time.monotonic() clock


#: Tokens by (base URL, client id), shared by every client of this process.
_TOKENS: dict[tuple[str, str], Token] = {}
_TOKENS_LOCK = threading.Lock()


def check_url(url: str) -> str:
    """The API's base URL, without a trailing slash; https unless on this machine."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise ConfigError(f"{url!r} is not an http(s) URL of a PowerSchool server")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"{url} is not https: the client secret and the roster would cross the network"
            " in clear text; use the https:// address of the PowerSchool server"
        )
    return url.strip().rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_expires_in(value: object) -> float:
    """Seconds a token lives: PowerSchool sends a string ("2504956"), others a number."""
    try:
        seconds = float(str(value).strip())
    except ValueError:
        raise SourceError(
            f"the token response's expires_in is {value!r}, not a number", "bad_response"
        ) from None
    return max(seconds, 0.0)


class PowerSchoolClient:
    """Authenticated, retried requests to one PowerSchool server; thread-safe."""

    def __init__(
        self,
        url: str,
        client_id: str,
        client_secret: str,
        *,
        connections: int = 5,
        timeout: float = 60.0,
        retries: Retries | None = None,
        ca_file: str = "",
        min_interval: float = 0.0,
    ) -> None:
        self.url = check_url(url)
        self._id = client_id
        self._secret = client_secret
        self.retries = retries or Retries()
        self._client = httpx.Client(
            base_url=self.url,
            timeout=timeout,
            # A district's private CA, else the system's trusted ones.
            verify=ssl.create_default_context(cafile=ca_file or None),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
            headers={"Accept": "application/json"},
        )
        self._auth_lock = threading.Lock()
        # PowerSchool's per-plugin minimum interval between requests: keeping to it
        # avoids the "too many requests" rejections instead of waiting them out.
        self._min_interval = min_interval
        self._pace_lock = threading.Lock()
        self._next_send = 0.0
        self.stats = {"requests": 0, "retries": 0, "tokens": 0}

    def close(self) -> None:
        self._client.close()

    # --- tokens -------------------------------------------------------------
    def token(self) -> str:
        """A valid bearer token: the cached one, or a new one."""
        with _TOKENS_LOCK:
            cached = _TOKENS.get((self.url, self._id))
        if cached and cached.expires_at - _EARLY > time.monotonic():
            return cached.value
        return self._authenticate(stale=cached.value if cached else None)

    def _authenticate(self, stale: str | None) -> str:
        with self._auth_lock:
            with _TOKENS_LOCK:
                cached = _TOKENS.get((self.url, self._id))
            if cached and cached.value != stale and cached.expires_at - _EARLY > time.monotonic():
                return cached.value  # another thread renewed it meanwhile
            response = self._send(
                "POST",
                "/oauth/access_token",
                auth=httpx.BasicAuth(self._id, self._secret),
                data={"grant_type": "client_credentials"},
                what="the token request",
            )
            if response.status_code in {400, 401, 403}:
                raise SourceError(self._masked(
                    f"PowerSchool at {self.url} refused the client ID and secret"
                    f" (HTTP {response.status_code}): the plugin may be disabled, or its"
                    " credentials regenerated; check Plugin Management and send us the Client"
                    " ID and Client Secret from Data Provider Configuration again"
                ), "auth_failed")  # fmt: skip
            self._raise_for(response, "the token request")
            data = self._json(response, "the token request")
            value = str(data.get("access_token") or "")
            if not value:
                raise SourceError(f"{self.url}: the token response has no access_token",
                                  "bad_response")  # fmt: skip
            token = Token(value, time.monotonic() + parse_expires_in(data.get("expires_in", 0)))
            with _TOKENS_LOCK:
                _TOKENS[(self.url, self._id)] = token
            self.stats["tokens"] += 1
            return value

    def forget_token(self) -> None:
        with _TOKENS_LOCK:
            _TOKENS.pop((self.url, self._id), None)

    # --- requests -----------------------------------------------------------
    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.call("GET", path, params=params)

    def post(self, path: str, body: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        return self.call("POST", path, params=params, json=body if body is not None else {})

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API request with a bearer token; JSON back. A 401 renews the token once."""
        what = f"{method} {path}"
        token = self.token()
        response = self._send(method, path, what=what, headers=_bearer(token), **kwargs)
        if response.status_code == 401:
            token = self._authenticate(stale=token)
            response = self._send(method, path, what=what, headers=_bearer(token), **kwargs)
            if response.status_code == 401:
                self.forget_token()
                raise SourceError(self._masked(
                    f"{what} at {self.url} was refused twice with a fresh token (HTTP 401):"
                    " the plugin was disabled or its credentials regenerated; check Plugin"
                    " Management"), "auth_failed")  # fmt: skip
        self._raise_for(response, what)
        return self._json(response, what)

    def _raise_for(self, response: httpx.Response, what: str) -> None:
        status = response.status_code
        if status < 400:
            return
        said = _said(response)
        if status == 403:
            raise SourceError(self._masked(
                f"{what} was refused (HTTP 403{': ' + said if said else ''}): the plugin's"
                " data access does not cover a field this request reads; approve the plugin's"
                " data access request in Plugin Management (or install the current plugin"
                " from `roster district plugin`)"), "access_denied")  # fmt: skip
        if status == 404:
            raise SourceError(self._masked(
                f"{what} was not found (HTTP 404{': ' + said if said else ''}): the plugin is"
                " not installed, not enabled, or older than the queries it must provide;"
                " install the zip from `roster district plugin` and enable it"),
                "query_missing")  # fmt: skip
        code = "throttled" if status in _THROTTLED else "server_error"
        raise SourceError(
            self._masked(
                f"{what} failed at {self.url} (HTTP {status}{': ' + said if said else ''})"
            ),
            code,
        )

    def _send(self, method: str, path: str, *, what: str, **kwargs: Any) -> httpx.Response:
        """Send with retries on throttling, server errors and dropped connections."""
        throttled = server = 0
        while True:
            self.stats["requests"] += 1
            self._pace()
            try:
                response = self._client.request(method, path, **kwargs)
            except httpx.TimeoutException as exc:
                server += 1
                if server >= self.retries.server:
                    raise self._transport(what, exc, "timeout") from None
                self._pause(self._backoff(server), None)
                continue
            except httpx.TransportError as exc:
                if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                    raise SourceError(self._masked(
                        f"{what}: the TLS certificate of {self.url} is not trusted ({exc});"
                        " if the district's server uses a private CA, give it with"
                        " --ca-file"), "tls") from None  # fmt: skip
                server += 1
                if server >= self.retries.server:
                    raise self._transport(what, exc, "server_error") from None
                self._pause(self._backoff(server), None)
                continue
            status = response.status_code
            if status in _THROTTLED and (throttled := throttled + 1) < self.retries.throttled:
                asked = _asked_wait(response)
                self._hold(self._backoff(throttled) if asked is None else asked, response)
                continue
            if status in _SERVER and (server := server + 1) < self.retries.server:
                self._pause(self._backoff(server), response)
                continue
            return response

    def _hold(self, seconds: float, response: httpx.Response) -> None:
        """A throttle holds every request of this client, not only the one refused:
        the others would be refused too."""
        response.close()
        self.stats["retries"] += 1
        with self._pace_lock:
            self._next_send = max(
                self._next_send, time.monotonic() + min(seconds, self.retries.max_wait)
            )

    def _pace(self) -> None:
        """Wait for this request's turn: at least ``min_interval`` after the last one, and
        after any wait a throttle asked for."""
        with self._pace_lock:
            now = time.monotonic()
            turn = max(now, self._next_send)
            self._next_send = turn + self._min_interval
        time.sleep(turn - now)

    def _pause(self, seconds: float, response: httpx.Response | None) -> None:
        if response is not None:
            response.close()
        self.stats["retries"] += 1
        time.sleep(min(seconds, self.retries.max_wait))

    def _backoff(self, attempt: int) -> float:
        return float(min(self.retries.backoff * 2 ** (attempt - 1), self.retries.max_wait))

    def _transport(self, what: str, exc: Exception, code: str) -> SourceError:
        kind = "timed out" if code == "timeout" else "lost its connection"
        return SourceError(self._masked(
            f"{what} to {self.url} {kind} after {self.retries.server} tries"
            f" ({type(exc).__name__}: {exc}); check that the PowerSchool server is up and"
            " reachable from this machine"), code)  # fmt: skip

    def _json(self, response: httpx.Response, what: str) -> Any:
        if not response.content.strip():
            return {}  # PowerSchool answers an empty result with no body at all
        try:
            return response.json()
        except ValueError:
            raise SourceError(self._masked(
                f"{what} answered HTTP {response.status_code} with something that is not JSON"
                f" ({response.text[:120]!r})"), "bad_response") from None  # fmt: skip

    def _masked(self, text: str) -> str:
        with _TOKENS_LOCK:
            cached = _TOKENS.get((self.url, self._id))
        return mask(text, (self._secret, cached.value if cached else ""))


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _asked_wait(response: httpx.Response) -> float | None:
    """Seconds the server asked us to wait: ``Retry-After`` or "wait N seconds"."""
    header = response.headers.get("Retry-After", "").strip()
    if header:
        try:
            return max(float(header), 0.0)
        except ValueError:
            pass  # an HTTP date: fall back to the message or our backoff
    found = _WAIT.search(response.text[:500])
    return float(found.group(1)) if found else None


def _said(response: httpx.Response) -> str:
    """The server's own message, short: PowerSchool's error bodies carry a "message"."""
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:200]
    if isinstance(data, Mapping):
        found = data.get("message") or data.get("error_description") or data.get("error")
        return str(found)[:300] if found else ""
    return ""


#: For tests and the benchmark: forget every cached token.
clear_tokens: Callable[[], None] = _TOKENS.clear
