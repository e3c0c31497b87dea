"""What one logged-in connection knows: who, from where, over what, and its uploads."""

from __future__ import annotations

import collections
import dataclasses
import time

from sftp_server.accounts import Account, Accounts, Algorithms
from sftp_server.audit import AuditLog
from sftp_server.descriptors import Descriptors
from sftp_server.inbox import Inbox
from sftp_server.ledger import Ledger
from sftp_server.limits import Limits


class Channels:
    """SFTP sessions open on one connection: each may hold files, so they are capped."""

    def __init__(self) -> None:
        self.open = 0


class OpenFiles:
    """Uploads open right now: receiver-wide (shutdown grace) and per account (fd budget)."""

    def __init__(self) -> None:
        self.total = 0
        self._by_account: collections.Counter[str] = collections.Counter()

    def of(self, username: str) -> int:
        """How many files ``username`` has open, over all its connections."""
        return self._by_account[username]

    def add(self, username: str, delta: int) -> None:
        """+1 at open, -1 at close."""
        self.total += delta
        self._by_account[username] += delta
        if self._by_account[username] <= 0:
            del self._by_account[username]


@dataclasses.dataclass
class Session:
    """Shared by the connection (auth, timeouts) and its SFTP server (files)."""

    account: Account
    inbox: Inbox
    ledger: Ledger  # the district's quota and file count, shared by its sessions
    limits: Limits
    audit: AuditLog
    accounts: Accounts
    address: str
    client_version: str
    algorithms: Algorithms
    open_files: OpenFiles  # shared by every session of the receiver
    descriptors: Descriptors  # the process's, shared by every session
    last_activity: float = dataclasses.field(default_factory=time.monotonic)

    def touch(self) -> None:
        """Note a request, for the idle timeout."""
        self.last_activity = time.monotonic()

    def opened(self, delta: int) -> None:
        """+1 when this session opens an upload, -1 when it closes one."""
        self.open_files.add(self.account.username, delta)

    def log(self, event: str, **fields: object) -> None:
        """An audit line carrying who and where."""
        self.audit.write(
            event,
            address=self.address,
            username=self.account.username,
            district=self.account.district,
            **fields,
        )
