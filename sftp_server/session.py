"""What one logged-in connection knows: who, from where, over what, and its uploads."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from sftp_server.accounts import Account, Accounts, Algorithms
from sftp_server.audit import AuditLog
from sftp_server.inbox import Inbox
from sftp_server.limits import Limits


@dataclasses.dataclass
class Session:
    """Shared by the connection (auth, timeouts) and its SFTP server (files)."""

    account: Account
    inbox: Inbox
    limits: Limits
    audit: AuditLog
    accounts: Accounts
    address: str
    client_version: str
    algorithms: Algorithms
    in_flight: Callable[[int], None]  # +1 / -1: uploads open right now, receiver-wide
    last_activity: float = dataclasses.field(default_factory=time.monotonic)

    def touch(self) -> None:
        """Note a request, for the idle timeout."""
        self.last_activity = time.monotonic()

    def log(self, event: str, **fields: object) -> None:
        """An audit line carrying who and where."""
        self.audit.write(
            event,
            address=self.address,
            username=self.account.username,
            district=self.account.district,
            **fields,
        )
