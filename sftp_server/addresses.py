"""Who may connect: connection caps, pre-auth slots, connection rates, failure scores, bans.

asyncssh has no MaxStartups, MaxAuthTries, per-source limits or ban list; these
are ours. Unauthenticated connections have their own, smaller pool with random
early drop (like sshd's ``MaxStartups begin:rate:full``), so idle sockets cannot
take the slots of districts that log in; logged-in sessions count only against
``max_connections``. Exempt addresses are never refused, rate-limited or banned.
"""

from __future__ import annotations

import collections
import ipaddress
import random
import time
from collections.abc import Callable

from sftp_server.limits import Limits

#: How much each kind of failure counts towards a ban. A public-key probe is how
#: OpenSSH offers the keys it has (four unrelated keys before the password is
#: normal); a wrong password or a pipelined guess is what an attacker sends; a
#: connection that never tries to log in holds a slot for nothing.
FAILURE_WEIGHTS = {
    "password": 1.0,
    "superseded": 1.0,
    "publickey": 0.0,
    "never_authenticated": 0.5,
}


def in_networks(address: str, cidrs: tuple[str, ...]) -> bool:
    """True when ``address`` is inside one of ``cidrs`` (a malformed entry matches nothing)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for cidr in cidrs:
        try:
            if ip in ipaddress.ip_network(cidr, strict=False):
                return True
        except ValueError:
            continue
    return False


class AddressBook:
    """Live connections, connection rates and failure scores per client address."""

    def __init__(
        self,
        limits: Limits,
        clock: Callable[[], float] = time.time,
        chance: Callable[[], float] = random.random,
    ) -> None:
        self._limits = limits
        self._clock = clock
        self._chance = chance
        self._open: collections.Counter[str] = collections.Counter()
        self._unauthenticated: collections.Counter[str] = collections.Counter()
        self._connects: dict[str, collections.deque[float]] = {}
        self._scores: dict[str, collections.deque[tuple[float, float]]] = {}
        self._banned_until: dict[str, float] = {}
        self._unsaved: set[str] = set()  # bans earned here, not yet in the store

    @property
    def total(self) -> int:
        """Connections open right now."""
        return sum(self._open.values())

    def exempt(self, address: str) -> bool:
        """True for addresses on the exempt list."""
        return in_networks(address, self._limits.exempt_addresses)

    def admit(self, address: str) -> str | None:
        """Count a new, unauthenticated connection; return why it is refused, or None."""
        refusal = None if self.exempt(address) else self._refusal(address)
        if refusal is None:
            self._open[address] += 1
            self._unauthenticated[address] += 1
        return refusal

    def _refusal(self, address: str) -> str | None:
        limits = self._limits
        checks = (
            (self.is_banned, "address temporarily banned after repeated authentication failures"),
            (lambda _: self.total >= limits.max_connections, "too many connections"),
            (
                lambda a: self._open[a] >= limits.max_connections_per_address,
                "too many connections from this address",
            ),
            (
                lambda a: self._unauthenticated[a] >= limits.max_startups_per_address,
                "too many unauthenticated connections from this address",
            ),
            (lambda _: self._early_drop(), "too many unauthenticated connections; try again"),
            (lambda a: not self._within_rate(a), "connecting too often from this address"),
        )
        return next((reason for refused, reason in checks if refused(address)), None)

    def _early_drop(self) -> bool:
        """sshd's random early drop: certain at ``max_startups``, linear from ``begin``."""
        waiting = sum(self._unauthenticated.values())
        begin, full = self._limits.max_startups_begin, self._limits.max_startups
        if waiting < begin:
            return False
        if waiting >= full:
            return True
        return self._chance() < 0.3 + 0.7 * (waiting - begin) / max(1, full - begin)

    def _within_rate(self, address: str) -> bool:
        now = self._clock()
        recent = self._connects.setdefault(address, collections.deque())
        while recent and recent[0] <= now - 60.0:
            recent.popleft()
        if len(recent) >= self._limits.max_connects_per_minute:
            return False
        recent.append(now)
        return True

    def authenticated(self, address: str) -> None:
        """The connection logged in: it leaves the unauthenticated pool."""
        self._forget(self._unauthenticated, address)

    def release(self, address: str, authenticated: bool) -> None:
        """Forget a connection counted by :meth:`admit`."""
        self._forget(self._open, address)
        if not authenticated:
            self._forget(self._unauthenticated, address)

    @staticmethod
    def _forget(counter: collections.Counter[str], address: str) -> None:
        counter[address] -= 1
        if counter[address] <= 0:
            del counter[address]

    def is_banned(self, address: str) -> bool:
        """True while ``address`` is serving a ban."""
        until = self._banned_until.get(address)
        return until is not None and self._clock() < until and not self.exempt(address)

    def record_failure(self, address: str, kind: str) -> float | None:
        """Score one failure of ``kind``; the ban's end when this one earned a ban."""
        weight = FAILURE_WEIGHTS[kind]
        if weight == 0 or self.exempt(address) or self.is_banned(address):
            return None
        now = self._clock()
        recent = self._scores.setdefault(address, collections.deque())
        recent.append((now, weight))
        while recent and recent[0][0] <= now - self._limits.ban_window:
            recent.popleft()
        if sum(w for _, w in recent) < self._limits.ban_threshold:
            return None
        del self._scores[address]
        until = now + self._limits.ban_duration
        self._banned_until[address] = until
        self._unsaved.add(address)
        return until

    def saved(self, address: str) -> None:
        """The ban of ``address`` reached the store."""
        self._unsaved.discard(address)

    def load_bans(self, bans: dict[str, float]) -> None:
        """Take the store's bans (lifts included), keeping ours still on their way there."""
        mine = {a: self._banned_until[a] for a in self._unsaved if a in self._banned_until}
        self._banned_until = {**bans, **mine}
