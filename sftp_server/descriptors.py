"""File descriptors: the one budget every connection and upload draws on.

A receiver out of descriptors cannot accept, and asyncio (Python 3.11) then logs
each failed accept up to its backlog times per wake-up and re-arms its retry as
often: a limit of 64 gave 6.6 million log lines in two minutes, and the loop was
too busy to notice the clients leaving. So the receiver keeps a reserve: while
fewer than ``fd_reserve`` descriptors are free it refuses new connections at once
and new uploads with "busy", so accepts are not what fails. At start the soft
limit is raised to the hard one, as sshd does; accept failures that still happen
are logged at most a few times a minute.
"""

from __future__ import annotations

import asyncio
import errno
import os
import resource
from collections.abc import Callable
from typing import Any

from sftp_server.audit import AuditLog

_OUT = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_PROC = "/proc/self/fd"

Handler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]


def raise_soft_limit() -> int:
    """Raise this process's soft descriptor limit to its hard one; the limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):  # not allowed here: keep what we have
            pass
    return soft


def in_use() -> int:
    """Descriptors this process holds now (Linux: /proc; elsewhere, a scan)."""
    try:
        return len(os.listdir(_PROC)) - 1  # the listing's own descriptor
    except OSError:
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        return sum(1 for fd in range(min(limit, 65536)) if _is_open(fd))


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


class Descriptors:
    """How many descriptors are left, against the process's limit."""

    def __init__(self, reserve: int) -> None:
        self.reserve = reserve
        self.limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]

    def start(self) -> None:
        self.limit = raise_soft_limit()

    def short(self) -> bool:
        """True while fewer than ``reserve`` descriptors are free."""
        return self.limit - in_use() < self.reserve


def quiet_accept_failures(loop: asyncio.AbstractEventLoop, audit: AuditLog) -> Handler | None:
    """Route the loop's "accept out of resources" reports to a rate-limited audit
    line; everything else goes where it went before. Returns the previous handler."""
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in _OUT and "accept" in context["message"]:
            audit.write_limited("accept_failed", "descriptors", reason=exc.strerror or str(exc))
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
    return previous
