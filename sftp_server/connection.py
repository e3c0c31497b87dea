"""One client connection: admission, authentication, idle watch, audit lines.

asyncssh leaves MaxAuthTries, failure delays, bans and connection caps to the
application; they live here. ``begin_auth`` always returns True: returning
False would log the client in with no authentication at all.

asyncssh cancels a running password check when the client sends its next
request, so a client that pipelines guesses would never reach a check placed
after the failure delay. Every attempt is therefore counted when it starts, the
limits are checked before verifying and before sleeping, and an attempt that a
new request cancels counts as a failure and ends the connection.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

import asyncssh

from sftp_server.accounts import Account, Accounts, Algorithms
from sftp_server.addresses import AddressBook, in_networks
from sftp_server.audit import AuditLog
from sftp_server.limits import Limits
from sftp_server.passwords import verify, verify_unknown_user
from sftp_server.session import Channels, Session

_TOO_MANY = "too many authentication failures"
_SHA1_SIGNATURES = frozenset({b"ssh-rsa", b"ssh-rsa-cert-v01@openssh.com", b"x509v3-ssh-rsa"})


class Host(Protocol):
    """What a connection needs from the receiver that accepted it, and nothing more."""

    @property
    def closing(self) -> bool:
        """True once shutdown began: new connections are refused."""
        ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def accounts(self) -> Accounts: ...

    @property
    def limits(self) -> Limits: ...

    @property
    def accepts_sha1(self) -> bool:
        """True when SHA-1 signatures (ssh-rsa) are allowed for old clients."""
        ...

    @property
    def addresses(self) -> AddressBook: ...

    def joined(self, conn: ReceiverConnection) -> None:
        """``conn`` was admitted: close it at shutdown."""

    def left(self, conn: ReceiverConnection) -> None:
        """``conn`` is gone."""

    def score(self, address: str, kind: str) -> bool:
        """Count a failure of ``kind`` against ``address``; True when that banned it."""
        ...

    def new_session(
        self, account: Account, address: str, client_version: str, algorithms: Algorithms
    ) -> Session:
        """The session of a connection that just logged in."""
        ...

    def sessions_of(self, username: str) -> int:
        """How many logged-in connections ``username`` holds right now."""
        ...

    def short_of_descriptors(self) -> bool:
        """True while too few file descriptors are free to take another client."""
        ...


def _key_allowed(key: asyncssh.SSHKey, lines: tuple[str, ...], address: str) -> bool:
    try:
        authorized = asyncssh.import_authorized_keys("\n".join(lines))
    except (ValueError, asyncssh.KeyImportError):
        return False
    # authorized_keys options such as from="..." are honoured too.
    return authorized.validate(key, address, address) is not None


class ReceiverConnection(asyncssh.SSHServer):
    """The asyncssh server object for one connection."""

    def __init__(self, host: Host) -> None:
        self._host = host
        self._conn: asyncssh.SSHServerConnection | None = None
        self._address = ""
        self._admitted = False
        self._account: Account | None = None
        self._tries = 0
        self._method = ""
        self._watchdog: asyncio.Task[None] | None = None
        self._hung_up = ""  # why we disconnected, when it was us
        self.session: Session | None = None
        self.channels = Channels()  # SFTP sessions open on this connection

    # ---- admission -------------------------------------------------------------

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        """Count the connection, or refuse it with a clean disconnect."""
        self._conn = conn
        self._address = str(conn.get_extra_info("peername", ("?", 0))[0])
        host = self._host
        refusal = "server shutting down" if host.closing else None
        if refusal is None and host.short_of_descriptors():
            refusal = "server busy; try again later"
        refusal = refusal or host.addresses.admit(self._address)
        if refusal:
            host.audit.write_limited(
                "connect_refused", self._address, address=self._address, reason=refusal
            )
            # After our version string is out, so the client can read the reason.
            asyncio.get_running_loop().call_soon(
                conn.disconnect, asyncssh.DISC_TOO_MANY_CONNECTIONS, refusal
            )
            return
        self._admitted = True
        host.joined(self)
        host.audit.write_limited("connect", self._address, address=self._address)

    def connection_lost(self, exc: Exception | None) -> None:
        """Free the slot and say how it ended."""
        if not self._admitted:
            return
        host = self._host
        logged_in = self.session is not None
        host.addresses.release(self._address, authenticated=logged_in)
        host.left(self)
        if self._watchdog is not None:
            self._watchdog.cancel()
        if not logged_in and self._tries == 0:
            self._score("never_authenticated")  # held a slot and never tried
        user = self._account.username if self._account else ""
        reason = self._hung_up or (str(exc) if exc else "closed by client")
        host.audit.write_limited(
            "disconnect", self._address, address=self._address, username=user, reason=reason
        )

    def close(self, reason: str, code: int = asyncssh.DISC_BY_APPLICATION) -> None:
        """Disconnect this client (shutdown, idle timeout, too many failures)."""
        if self._conn is not None:
            self._hung_up = self._hung_up or reason
            self._conn.disconnect(code, reason)

    # ---- authentication ----------------------------------------------------------

    async def begin_auth(self, username: str) -> bool:
        """Look the user up; always True so authentication is always required."""
        try:
            self._account = await asyncio.to_thread(self._host.accounts.lookup, username)
        except Exception as exc:  # a broken lookup refuses the login, never crashes
            self._host.audit.write("lookup_failed", address=self._address, error=repr(exc))
            self._account = None
        if self._account is not None and self._account.username != username:
            self._account = None
        return True

    def password_auth_supported(self) -> bool:
        """PowerSchool uses the ``password`` method."""
        return True

    def public_key_auth_supported(self) -> bool:
        """Keys from the account's authorized_keys lines."""
        return True

    def kbdint_auth_supported(self) -> bool:
        """Not offered: only password and publickey."""
        return False

    def _refusal(self) -> str | None:
        account = self._account
        if account is None:
            return "unknown user"
        if not account.enabled:
            return "account disabled"
        if not in_networks(self._address, account.allowed_cidrs or ("0.0.0.0/0", "::/0")):
            return "address not allowed for this account"
        return None

    def _attempt(self) -> bool:
        """Count an attempt as it starts; False (and hang up) when it may not run."""
        self._tries += 1
        over = self._tries > self._host.limits.max_auth_tries
        if over or self._host.addresses.is_banned(self._address):
            self.close(_TOO_MANY, asyncssh.DISC_NO_MORE_AUTH_METHODS_AVAILABLE)
            return False
        return True

    async def validate_password(self, username: str, password: str) -> bool:
        """Constant-cost check; unknown users are verified against a dummy hash."""
        if not self._attempt():
            return False
        try:
            return await self._check_password(username, password)
        except asyncio.CancelledError:
            self._superseded(username)
            raise

    async def _check_password(self, username: str, password: str) -> bool:
        account = self._account
        if account is None:
            await asyncio.to_thread(verify_unknown_user, password)
            ok = False
        else:
            ok = await asyncio.to_thread(verify, account.password_hash, password)
        refusal = self._refusal() or (None if ok else "wrong password")
        if refusal is None:
            self._method = "password"
            return True
        if self._failed("password", username, refusal):
            await asyncio.sleep(self._host.limits.auth_failure_delay)
        return False

    def _superseded(self, username: str) -> None:
        """A new request cancelled this one: a pipelined guess, never a real client."""
        if self._conn is None or self._hung_up or self.session is not None:
            return  # cancelled by our own hang-up or by the connection ending
        reason = "request sent before the last one was answered"
        if self._failed("password", username, reason, kind="superseded"):
            self.close(_TOO_MANY, asyncssh.DISC_NO_MORE_AUTH_METHODS_AVAILABLE)

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        """True when the key is one of the account's authorized keys."""
        if not self._attempt():
            return False
        account = self._account
        ok = account is not None and _key_allowed(key, account.authorized_keys, self._address)
        refusal = self._refusal() or (None if ok else "key not authorized")
        if refusal is None:
            self._method = "publickey"
            self._tries -= 1  # asyncssh asks again with the signature: one attempt
            if not self._host.accepts_sha1:
                # asyncssh verifies the client's signature with this very key
                # object and takes any algorithm the key type allows: narrow it.
                key.all_sig_algorithms = key.all_sig_algorithms - _SHA1_SIGNATURES
            return True
        self._failed("publickey", username, refusal)
        return False

    def _failed(self, method: str, username: str, reason: str, kind: str = "") -> bool:
        """Log and score a failure; False when the connection is closed for it."""
        self._host.audit.write_limited(
            "auth_fail", self._address,
            address=self._address, username=username, method=method, reason=reason,
        )  # fmt: skip
        banned = self._score(kind or method)
        if banned or self._tries >= self._host.limits.max_auth_tries:
            self.close(_TOO_MANY, asyncssh.DISC_NO_MORE_AUTH_METHODS_AVAILABLE)
            return False
        return True

    def _score(self, kind: str) -> bool:
        return self._host.score(self._address, kind)

    def auth_completed(self) -> None:
        """Open the session: the district's inbox, the audit context, the idle watch."""
        assert self._conn is not None
        assert self._account is not None
        conn, host = self._conn, self._host
        if self._session_cap_reached():
            return
        host.addresses.authenticated(self._address)
        host_key = conn.get_server_host_key()
        self.session = host.new_session(
            self._account,
            self._address,
            str(conn.get_extra_info("client_version", "")),
            Algorithms(
                kex="",  # asyncssh does not expose the negotiated key exchange
                cipher=str(conn.get_extra_info("recv_cipher", "")),
                mac=str(conn.get_extra_info("recv_mac", "")),
                host_key=host_key.sig_algorithm.decode() if host_key else "",
            ),
        )
        self.session.log("auth_ok", method=self._method)
        self._watchdog = asyncio.get_running_loop().create_task(self._watch_idle())

    def _session_cap_reached(self) -> bool:
        """SFTPGo's max_sessions: one account may not take every slot (a runaway
        retry loop at a district), so its extra logins are refused, not queued."""
        assert self._account is not None
        cap = self._host.limits.max_sessions_per_account
        if self._host.sessions_of(self._account.username) < cap:
            return False
        reason = f"too many connections for this account (at most {cap})"
        self._host.audit.write(
            "login_refused",
            address=self._address,
            username=self._account.username,
            district=self._account.district,
            reason=reason,
        )
        self.close(reason, asyncssh.DISC_TOO_MANY_CONNECTIONS)
        return True

    async def _watch_idle(self) -> None:
        assert self.session is not None
        limit = self.session.limits.idle_timeout
        while True:
            idle = time.monotonic() - self.session.last_activity
            if idle >= limit:
                self.session.log("idle_timeout", seconds=limit)
                self.close("idle timeout")
                return
            await asyncio.sleep(limit - idle)
