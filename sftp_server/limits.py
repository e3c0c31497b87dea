"""Limits: the numbers that bound what one client can cost us, and who is banned.

asyncssh has no MaxAuthTries, no connection caps and no ban list; these are ours.
Declared here once: an application nests this class in its own settings as it is.
"""

from __future__ import annotations

import collections
import dataclasses
import time
from collections.abc import Callable

GiB = 1024**3


@dataclasses.dataclass(frozen=True)
class Limits:
    """Every receiver limit; sizes in bytes, durations in seconds."""

    max_file_size: int = 2 * GiB
    district_quota: int = 10 * GiB  # bytes waiting in one district's inbox
    min_free_disk: int = 1 * GiB  # uploads stop before the disk gets this full
    max_open_handles: int = 32  # open files per SFTP session
    max_connections: int = 200
    max_connections_per_address: int = 20
    login_timeout: float = 30.0
    idle_timeout: float = 600.0  # no SFTP request for this long: disconnect
    max_auth_tries: int = 6  # per connection, like sshd's MaxAuthTries
    auth_failure_delay: float = 1.0  # after each failed password or key
    ban_threshold: int = 20  # failures from one address within ban_window ...
    ban_window: float = 600.0
    ban_duration: float = 900.0  # ... ban it for this long
    shutdown_grace: float = 30.0  # in-flight uploads get this long at shutdown


class AddressBook:
    """Live connections and recent auth failures per client address."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self._limits = limits
        self._clock = clock
        self._open: collections.Counter[str] = collections.Counter()
        self._failures: dict[str, collections.deque[float]] = {}
        self._banned_until: dict[str, float] = {}

    @property
    def total(self) -> int:
        """Connections open right now."""
        return sum(self._open.values())

    def admit(self, address: str) -> str | None:
        """Count a new connection from ``address``; return why it is refused, or None."""
        if self.is_banned(address):
            return "address temporarily banned after repeated authentication failures"
        if self.total >= self._limits.max_connections:
            return "too many connections"
        if self._open[address] >= self._limits.max_connections_per_address:
            return "too many connections from this address"
        self._open[address] += 1
        return None

    def release(self, address: str) -> None:
        """Forget a connection counted by :meth:`admit`."""
        self._open[address] -= 1
        if self._open[address] <= 0:
            del self._open[address]

    def is_banned(self, address: str) -> bool:
        """True while ``address`` is serving a ban."""
        until = self._banned_until.get(address)
        if until is None:
            return False
        if self._clock() >= until:
            del self._banned_until[address]
            return False
        return True

    def record_failure(self, address: str) -> bool:
        """Score one auth failure; True when this one earned ``address`` a ban."""
        now = self._clock()
        recent = self._failures.setdefault(address, collections.deque())
        recent.append(now)
        while recent and recent[0] <= now - self._limits.ban_window:
            recent.popleft()
        if len(recent) < self._limits.ban_threshold:
            return False
        self._banned_until[address] = now + self._limits.ban_duration
        del self._failures[address]
        return True
