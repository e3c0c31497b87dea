"""`roster system test` (DEX's Test Connection): each part a deployment needs, ok or why not.

``fail`` means the service cannot work (database, home, disk, host keys, webhook);
``warn`` means something to look at that may be intended (the service not
running on this machine). Host key fingerprints are recorded at the first test
and compared afterwards: districts pinned them, a changed key locks them out.
"""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from roster_pipeline.errors import RosterError
from roster_pipeline.store import MIGRATIONS, mask_url

if TYPE_CHECKING:
    from roster_pipeline.home import Home


_PINNED = "hostkey_fingerprints"  # stored beside the system settings; not a setting
_TIMEOUT = 10.0


@dataclass(frozen=True)
class Check:
    name: str
    result: Literal["ok", "warn", "fail"]
    detail: str

    def as_json(self) -> dict[str, str]:
        return dict(vars(self))


def run_all(home: Home) -> list[Check]:
    checks: list[tuple[str, Callable[[Home], Check]]] = [
        ("database", _database),
        ("home writable", _writable),
        ("free disk", _disk),
        ("host keys", _host_keys),
        ("listen port", _port),
        ("webhook", _webhook),
        ("district pull sources", _pulls),
    ]
    found = []
    for name, check in checks:
        try:
            found.append(check(home))
        except (RosterError, OSError) as exc:
            found.append(Check(name, "fail", str(exc)))
    return found


def _database(home: Home) -> Check:
    version, latest = home.store.schema_version(), max(MIGRATIONS)
    if version < latest:
        return Check("database", "fail", f"schema {version} of {latest}: run `roster init`")
    where = mask_url(home.settings.db_url).split("?")[0]
    return Check("database", "ok", f"{where} reachable, schema {version}")


def _writable(home: Home) -> Check:
    with tempfile.NamedTemporaryFile(dir=home.folder("work"), prefix="test-"):
        pass
    return Check("home writable", "ok", str(home.root.resolve()))


def _disk(home: Home) -> Check:
    free, floor = shutil.disk_usage(home.root).free, home.settings.limits.min_free_disk
    detail = f"{free / 2**30:.1f} GiB free; uploads stop below {floor / 2**30:.1f} GiB"
    return Check("free disk", "ok" if free > floor else "fail", detail)


def _host_keys(home: Home) -> Check:
    from roster_pipeline.errors import HostKeyFileError
    from roster_pipeline.hostkeys import fingerprints

    try:
        now = [f"{alg} {fp}" for alg, fp in fingerprints(home.folder("hostkeys"))]
    except HostKeyFileError as exc:  # a lost or unreadable key file: the receiver won't start
        return Check("host keys", "fail", str(exc))
    if not now:
        return Check("host keys", "fail", "no host key: run `roster init`")
    pinned = home.store.system_settings().get(_PINNED)
    if pinned is None:
        home.store.put_system_setting(_PINNED, now, "roster system test")
    elif pinned.value != now:
        return Check("host keys", "fail", "CHANGED since they were recorded at "
                     f"{pinned.updated_at:%Y-%m-%d %H:%M} UTC: districts that pinned them will"
                     " refuse to connect; restore the old keys from a backup")  # fmt: skip
    return Check("host keys", "ok", "; ".join(now))


def _port(home: Home) -> Check:
    host, port = home.settings.receiver.listen_host, home.settings.receiver.listen_port
    where = f"{host}:{port}"
    try:
        with socket.create_connection((host, port), timeout=_TIMEOUT) as conn:
            banner = conn.recv(64)
    except OSError as exc:
        return Check("listen port", "warn", f"nothing answers on {where} ({exc.strerror or exc});"
                     " is `roster serve` running here?")  # fmt: skip
    if banner.startswith(b"SSH-"):
        return Check("listen port", "ok", f"SFTP answers on {where}")
    return Check("listen port", "fail", f"{where} answers, but not as SSH: another program?")


def _webhook(home: Home) -> Check:
    url = home.settings.webhook_url
    if not url:
        return Check("webhook", "ok", "not set (alerts are logged only)")
    body = json.dumps({"event": "test", "message": "roster system test"}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT) as answer:
            return Check("webhook", "ok", f"{answer.status} from the webhook")
    except urllib.error.HTTPError as exc:
        return Check("webhook", "fail", f"the webhook answered {exc.code} {exc.reason}")
    except (urllib.error.URLError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        return Check("webhook", "fail", f"cannot reach the webhook: {reason}")


def _pulls(home: Home) -> Check:
    """Each district we pull from: its token, metadata, field access and counts."""
    from roster_pipeline import pulls

    every = home.store.districts()
    pulled = [d.slug for d in every if pulls.source_of(d).pulls]
    if not pulled:
        return Check(
            "district pull sources", "ok", f"none: {len(every)} district(s) send over SFTP"
        )
    failed = []
    for slug in pulled:
        try:
            bad = [c for c in pulls.connection_checks(home, slug) if not c.ok]
        except RosterError as exc:
            failed.append(f"{slug}: {exc}")
            continue
        failed += [f"{slug}: {c.name}: {c.detail}" for c in bad[:1]]
    if failed:
        return Check("district pull sources", "fail", "; ".join(failed))
    return Check("district pull sources", "ok", f"{len(pulled)} pulled, every one answering:"
                 f" {', '.join(pulled)}")  # fmt: skip
