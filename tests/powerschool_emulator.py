"""A PowerSchool server for the tests: real HTTP on loopback, the documented shapes.

No PowerSchool is reachable from our machines, so this reproduces what the
reference notes record of one, each behaviour a switch on ``Emulator`` (over
HTTPS with a certificate of its own when started with ``tls``):

- ``POST /oauth/access_token`` with HTTP Basic and ``grant_type=client_credentials``;
  ``expires_in`` as a string; a repeated request returns the same token with the
  time it has left; a disabled plugin refuses its credentials (401);
- an expired or unknown bearer token is a 401 (``expire_tokens``, ``expire_after``);
- ``GET /ws/v1/metadata`` wrapped in ``metadata`` with the page-size limits;
- ``GET /ws/v1/district/school`` wrapped twice, ``/count`` as ``resource.count``;
- PowerQueries: ``POST /ws/schema/query/{name}/count`` and pages of ``record``;
  a ``pagesize`` above the plugin's maximum is cut to it; one record comes as an
  object (``single_as_object``); IDs of digits come as numbers (``ids_as_numbers``);
  records under ``tables.<table>`` (``nested_tables``); an empty page has no body;
- a field the plugin was not granted: 403 "At least one column lacks sufficient
  permission" (``denied_fields``); a query the plugin lacks: 404;
- the per-plugin minimum interval between requests: faster calls get
  ``throttle_status`` (429) with ``Retry-After`` and "too many requests, wait N
  seconds" (``min_interval``), or the next ``throttle_next`` calls do;
- a slow server: each page of a query answers after ``page_delay`` seconds;
- faults: ``fail_next`` 500s, ``drop_next`` connections cut in the middle of a
  page, ``count_drift`` (a count one more than the pages hold), ``stop()``.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import secrets
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import polars as pl

from roster_pipeline.sources import QUERIES

PERMISSION = "At least one column lacks sufficient permission"
_QUERY_PATH = "/ws/schema/query/"


@dataclass
class Emulator:
    """The server's state and switches; ``start()`` serves it on a free loopback port."""

    tables: dict[str, pl.DataFrame]  # by roster file: schools, students, teachers, ...
    client_id: str = "ps-client-id"
    client_secret: str = "ps-client-secret-0123456789"
    token_lifetime: float = 30 * 86400.0
    max_page_size: int = 100
    plugin_enabled: bool = True
    reject_tokens: bool = False  # tokens are issued but every API request is refused (401)
    denied_fields: set[str] = field(default_factory=set)
    missing_queries: set[str] = field(default_factory=set)
    single_as_object: bool = False
    ids_as_numbers: bool = False
    nested_tables: bool = False
    min_interval: float = 0.0
    throttle_next: int = 0
    throttle_status: int = 429
    throttle_wait: int = 1
    expire_after: int = 0  # expire every token after this many API requests (once)
    fail_next: int = 0
    drop_next: int = 0
    drop_path: str = ""  # only requests whose path holds this are dropped
    count_drift: str = ""  # the file whose count is one too many
    kill_after: int = 0  # after this many API requests the server dies (no answer, no port)
    page_delay: float = 0.0  # seconds each page of a query takes (a slow server)
    echo_secret: bool = False  # a 500's message quotes the credentials (masking must hold)
    tokens: dict[str, float] = field(default_factory=dict)
    log: list[tuple[str, str, int]] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    api_requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _last: float = 0.0
    _server: ThreadingHTTPServer | None = None
    url: str = ""

    # --- lifecycle ---------------------------------------------------------
    def start(self, tls: Path | None = None) -> str:
        """Serve on a free loopback port; with ``tls`` (a folder), over HTTPS with a
        self-signed certificate for 127.0.0.1 written there as ``ca.pem``."""
        handler = type("Handler", (_Handler,), {"emulator": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*_certificate(tls))
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self._server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def dying(self) -> bool:
        """Past ``kill_after`` requests: stop listening; answer nothing from now on."""
        with self._lock:
            dead = bool(self.kill_after) and self.api_requests >= self.kill_after
        if dead and self._server is not None:
            server, self._server = self._server, None

            def close() -> None:
                server.shutdown()
                server.server_close()

            threading.Thread(target=close).start()
        return dead

    def expire_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()

    # --- requests ------------------------------------------------------------
    def token(self, auth: str, body: str) -> tuple[int, Any]:
        expected = f"{self.client_id}:{self.client_secret}".encode()
        if auth != "Basic " + base64.b64encode(expected).decode() or not self.plugin_enabled:
            return 401, {"error": "invalid_client"}
        if parse_qs(body).get("grant_type") != ["client_credentials"]:
            return 400, {"error": "unsupported_grant_type"}
        now = time.monotonic()
        with self._lock:
            live = [(t, exp) for t, exp in self.tokens.items() if exp > now]
            value, expires = live[0] if live else (secrets.token_hex(16), now + self.token_lifetime)
            self.tokens[value] = expires
        return 200, {"access_token": value, "token_type": "Bearer",
                     "expires_in": str(int(expires - now))}  # fmt: skip

    def authorised(self, header: str) -> bool:
        value = header.removeprefix("Bearer ")
        with self._lock:
            self.api_requests += 1
            if self.expire_after and self.api_requests > self.expire_after:
                self.expire_after = 0
                self.tokens.clear()
            live = self.tokens.get(value, 0.0) > time.monotonic()
            return self.plugin_enabled and not self.reject_tokens and live

    def throttled(self) -> bool:
        with self._lock:
            now = time.monotonic()
            too_soon = self.min_interval and now - self._last < self.min_interval
            self._last = now
            if self.throttle_next > 0:
                self.throttle_next -= 1
                return True
            return bool(too_soon)

    def metadata(self) -> dict[str, Any]:
        return {"metadata": {
            "plugin_id": 4711, "powerschool_version": "24.7.0.0", "state": "",
            "district_timezone": "America/Chicago", "district_uuid": "emulated",
            "schema_table_query_max_page_size": self.max_page_size,
            "student_max_page_size": self.max_page_size, "school_max_page_size": 100,
        }}  # fmt: skip

    def schools(self, count: bool) -> Any:
        frame = self.tables["schools"]
        if count:
            return {"resource": {"count": frame.height}}
        records = [
            {"id": i + 1, "school_number": self._id(r["school_id"]), "name": r["school_name"],
             "addresses": "", "principal": {"name": {"first_name": "P"}}}
            for i, r in enumerate(frame.iter_rows(named=True))
        ]  # fmt: skip
        inner: Any = records[0] if len(records) == 1 else records
        return {"schools": {"@expansions": "school_boundary", "school": inner}}

    def query(self, name: str, count: bool, params: Mapping[str, list[str]]) -> tuple[int, Any]:
        spec = next((q for q in QUERIES if q.name == name), None)
        if spec is None or name in self.missing_queries:
            return 404, {"message": f"Query {name} not found"}
        denied = sorted(set(spec.fields) & self.denied_fields)
        if denied:
            return 403, {"message": PERMISSION}
        frame = self.tables[spec.file]
        if count:
            return 200, {"count": frame.height + (1 if self.count_drift == spec.file else 0)}
        time.sleep(self.page_delay)
        page = int(params.get("page", ["1"])[0])
        size = min(int(params.get("pagesize", [str(self.max_page_size)])[0]), self.max_page_size)
        rows = frame.slice((page - 1) * size, size).to_dicts()
        if not rows:
            return 200, None  # an empty result: no body at all
        records = [self._record(r, spec.columns) for r in rows]
        body: Any = records[0] if self.single_as_object and len(records) == 1 else records
        return 200, {"name": name, "record": body, "@extensions": ""}

    def _record(self, row: Mapping[str, Any], columns: Any) -> dict[str, Any]:
        if not self.nested_tables:
            return {k: self._id(v) for k, v in row.items()}
        tables: dict[str, dict[str, Any]] = {}
        for name, source in columns:
            table, column = source.lower().split(".")
            tables.setdefault(table, {})[column] = self._id(row[name])
        return {"tables": tables}

    def _id(self, value: Any) -> Any:
        if self.ids_as_numbers and isinstance(value, str) and value.isdigit():
            return int(value)
        return value


class _Handler(BaseHTTPRequestHandler):
    emulator: Emulator
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        e = self.emulator
        with e._lock:
            e.in_flight += 1
            e.most_in_flight = max(e.most_in_flight, e.in_flight)
        try:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            status, data = self._answer(method, body)
            if status != -1:
                self._reply(status, data)
        finally:
            with e._lock:
                e.in_flight -= 1

    def _answer(self, method: str, body: str) -> tuple[int, Any]:
        e = self.emulator
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/")
        if path == "/oauth/access_token" and method == "POST":
            return self._logged(path, *e.token(self.headers.get("Authorization", ""), body))
        if e.dying() or self._dropped(path):
            self.close_connection = True  # a dead server keeps no connection either
            return self._logged(path, 0, None, reply=False)
        if e.throttled():
            return self._throttle(path)
        if not e.authorised(self.headers.get("Authorization", "")):
            return self._logged(path, 401, {"message": "Invalid or expired access token"})
        if e.fail_next:
            e.fail_next -= 1
            said = self.headers.get("Authorization", "") + " " + e.client_secret
            return self._logged(path, 500, {"message": said if e.echo_secret else "error"})
        return self._logged(path, *self._route(method, path, parse_qs(parts.query)))

    def _route(self, method: str, path: str, params: Mapping[str, list[str]]) -> tuple[int, Any]:
        e = self.emulator
        if path == "/ws/v1/metadata":
            return 200, e.metadata()
        if path in {"/ws/v1/district/school", "/ws/v1/district/school/count"}:
            return 200, e.schools(path.endswith("/count"))
        if path.startswith(_QUERY_PATH) and method == "POST":
            name = path.removeprefix(_QUERY_PATH)
            counting = name.endswith("/count")
            return e.query(name.removesuffix("/count"), counting, params)
        return 404, {"message": "not found"}

    def _logged(self, path: str, status: int, data: Any, reply: bool = True) -> tuple[int, Any]:
        """Log the answer; ``reply=False``: it was sent (or withheld) already."""
        with self.emulator._lock:
            self.emulator.log.append((self.command, path, status))
        return (status if reply else -1), data

    def _throttle(self, path: str) -> tuple[int, Any]:
        wait = self.emulator.throttle_wait
        self.send_response(self.emulator.throttle_status)
        payload = json.dumps({"message": f"Too many requests, wait {wait} seconds"}).encode()
        self.send_header("Retry-After", str(wait))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        return self._logged(path, self.emulator.throttle_status, None, reply=False)

    def _dropped(self, path: str) -> bool:
        """Half a page, then the connection closes: a server or network dying mid-answer."""
        e = self.emulator
        if not (e.drop_next and e.drop_path in path):
            return e._server is None
        e.drop_next -= 1
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n"
        self.wfile.write(head + b'\r\n{"name": "q", "record": [{"a')
        self.wfile.flush()
        return True

    def _reply(self, status: int, data: Any) -> None:
        payload = b"" if data is None else json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _certificate(folder: Path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (``ca.pem``) and its key (``key.pem``)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "emulated PowerSchool")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))  # fmt: skip
    return str(folder / "ca.pem"), str(folder / "key.pem")


def split_users(tables: Mapping[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """roster-csv tables (schools, users, classes, enrollments) as the queries' files."""
    users = tables["users"]
    students = users.filter(pl.col("role") == "Student").select(
        "district_user_id", "first_name", "last_name", "grade_level", "school_id"
    )
    teachers = users.filter(pl.col("role") == "Teacher").select(
        "district_user_id", "first_name", "last_name", "email", "school_id"
    )
    return {
        "schools": tables["schools"].select("school_id", "school_name"),
        "students": students,
        "teachers": teachers,
        "classes": tables["classes"].select(
            "class_id", "class_name", "school_id", "course_id", "teacher_id"
        ),
        "enrollments": tables["enrollments"].select("class_id", "student_id"),
    }
