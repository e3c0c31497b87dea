"""The receiver: configuration, listener, graceful shutdown, and ``run()`` for the CLI.

::

    config = ReceiverConfig.under(home, host="127.0.0.1", port=2222)
    receiver = await start_receiver(config, accounts)   # receiver.port is the bound port
    ...
    await receiver.close()     # refuse new connections, let uploads finish, drop partials

``run(config, accounts)`` does the same in the foreground until SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import time
from pathlib import Path

import asyncssh

from sftp_server.accounts import Account, Accounts, Algorithms
from sftp_server.addresses import AddressBook
from sftp_server.algorithms import algorithm_set
from sftp_server.audit import AuditLog
from sftp_server.bans import BanKeeper, BanStore, MemoryBans
from sftp_server.connection import ReceiverConnection
from sftp_server.descriptors import Descriptors, Handler, quiet_accept_failures
from sftp_server.hostkeys import HostKeyError, load_host_keys
from sftp_server.inbox import Inbox
from sftp_server.ledger import Ledger
from sftp_server.limits import Limits
from sftp_server.session import OpenFiles, Session
from sftp_server.sftp import DistrictSFTPServer
from sftp_server.upload import sweep_orphans


@dataclasses.dataclass(frozen=True)
class ReceiverConfig:
    """Where the receiver keeps things and what it allows.

    ``staging_root`` must be on the same filesystem as ``inbox_root``: publishing
    is an ``os.replace`` from one to the other.
    """

    inbox_root: Path
    staging_root: Path
    hostkeys_dir: Path
    audit_log: Path
    host: str = "127.0.0.1"
    port: int = 2222  # 0: any free port (tests)
    limits: Limits = dataclasses.field(default_factory=Limits)
    legacy_algorithms: bool = False  # + SHA-1 kex and client signatures (old Java clients)
    strict_algorithms: bool = False  # - what only JSch needs (NIST ECDH/ECDSA, encrypt-and-MAC)

    def __post_init__(self) -> None:
        if self.legacy_algorithms and self.strict_algorithms:
            raise ValueError("legacy_algorithms and strict_algorithms exclude each other")

    @property
    def algorithm_policy(self) -> str:
        """``legacy``, ``strict`` or ``compatible`` (see ``algorithms``)."""
        if self.legacy_algorithms:
            return "legacy"
        return "strict" if self.strict_algorithms else "compatible"

    @classmethod
    def under(cls, home: Path, **kwargs: object) -> ReceiverConfig:
        """The standard layout: ``inbox/``, ``staging/``, ``hostkeys/``, ``logs/audit.log``."""
        return cls(
            inbox_root=home / "inbox",
            staging_root=home / "staging",
            hostkeys_dir=home / "hostkeys",
            audit_log=home / "logs" / "audit.log",
            **kwargs,  # type: ignore[arg-type]
        )


class Receiver:
    """A running receiver; ``port`` is where it listens."""

    def __init__(
        self, config: ReceiverConfig, accounts: Accounts, bans: BanStore | None = None
    ) -> None:
        self.config = config
        self.accounts = accounts
        self.audit = AuditLog(config.audit_log)
        self.addresses = AddressBook(config.limits)
        self.bans = BanKeeper(self.addresses, bans or MemoryBans(), self.audit)
        self.connections: set[ReceiverConnection] = set()
        self.closing = False
        self.port = 0
        self.open_files = OpenFiles()
        self.descriptors = Descriptors(config.limits.fd_reserve)
        self._previous_handler: Handler | None = None
        self._ledgers: dict[str, Ledger] = {}
        self._acceptor: asyncssh.SSHAcceptor | None = None

    # ---- what a connection may ask of us (connection.Host) -------------------

    @property
    def limits(self) -> Limits:
        """The limits in force."""
        return self.config.limits

    @property
    def accepts_sha1(self) -> bool:
        """SHA-1 client signatures only under ``legacy_algorithms``."""
        return self.config.legacy_algorithms

    def joined(self, conn: ReceiverConnection) -> None:
        """Track an admitted connection, to close it at shutdown."""
        self.connections.add(conn)

    def left(self, conn: ReceiverConnection) -> None:
        """Forget a connection that ended."""
        self.connections.discard(conn)

    def short_of_descriptors(self) -> bool:
        """True while the process keeps too few descriptors free to take more."""
        return self.descriptors.short()

    def sessions_of(self, username: str) -> int:
        """Logged-in connections of ``username`` (for ``max_sessions_per_account``)."""
        return sum(
            1
            for conn in self.connections
            if conn.session is not None and conn.session.account.username == username
        )

    def score(self, address: str, kind: str) -> bool:
        """Count a failure of ``kind`` against ``address``; True when that banned it."""
        return self.bans.score(address, kind)

    def new_session(
        self, account: Account, address: str, client_version: str, algorithms: Algorithms
    ) -> Session:
        """The session of a connection that just logged in, over the district's inbox."""
        config = self.config
        inbox = Inbox(config.inbox_root, config.staging_root, account.district)
        ledger = self._ledgers.get(account.district)
        if ledger is None:
            limits = config.limits
            ledger = Ledger(inbox.folder, inbox.staging, limits.district_quota, limits.max_files)
            self._ledgers[account.district] = ledger
        return Session(
            account=account,
            inbox=inbox,
            ledger=ledger,
            limits=config.limits,
            audit=self.audit,
            accounts=self.accounts,
            address=address,
            client_version=client_version,
            algorithms=algorithms,
            open_files=self.open_files,
            descriptors=self.descriptors,
        )

    @staticmethod
    def _sftp_factory(chan: asyncssh.SSHServerChannel[bytes]) -> DistrictSFTPServer:
        owner = chan.get_connection().get_owner()
        assert isinstance(owner, ReceiverConnection)
        assert owner.session is not None
        return DistrictSFTPServer(chan, owner.session, owner.channels)

    async def start(self) -> None:
        """Bind and listen."""
        config = self.config
        keys = load_host_keys(config.hostkeys_dir)
        if not keys:
            raise HostKeyError(f"no host keys in {config.hostkeys_dir}; create them first")
        algs = algorithm_set(config.algorithm_policy)
        keypairs = asyncssh.load_keypairs(keys)
        for keypair in keypairs:  # ssh-rsa (SHA-1) host signatures: never, legacy or not
            keypair.host_key_algorithms = [
                alg for alg in keypair.host_key_algorithms if alg.decode() in algs.host_key_algs
            ]
        keypairs = [k for k in keypairs if k.host_key_algorithms]  # strict: no ECDSA key
        for root in (config.inbox_root, config.staging_root):
            root.mkdir(parents=True, exist_ok=True, mode=0o700)
            root.chmod(0o700)
        swept, size = sweep_orphans(config.staging_root)
        if swept:
            self.audit.write("staging_swept", files=swept, bytes=size)
        self.descriptors.start()
        self._previous_handler = quiet_accept_failures(asyncio.get_running_loop(), self.audit)
        self._acceptor = await asyncssh.create_server(
            lambda: ReceiverConnection(self),
            config.host,
            config.port,
            server_host_keys=keypairs,
            send_server_host_keys=True,  # rotation keys reach OpenSSH's UpdateHostKeys
            kex_algs=algs.kex_algs,
            encryption_algs=algs.encryption_algs,
            mac_algs=algs.mac_algs,
            signature_algs=algs.signature_algs,
            compression_algs=algs.compression_algs,
            sftp_factory=self._sftp_factory,
            sftp_version=3,
            allow_scp=False,
            allow_pty=False,
            agent_forwarding=False,
            x11_forwarding=False,
            kbdint_auth=False,
            host_based_auth=False,
            gss_host=None,
            login_timeout=config.limits.login_timeout,
            keepalive_interval=60,
            keepalive_count_max=3,
        )
        await self.bans.start()
        self.port = self._acceptor.get_port()
        self.audit.write("listening", host=config.host, port=self.port)

    async def close(self, grace: float | None = None) -> None:
        """Stop: refuse new connections, give open uploads ``grace`` seconds, then disconnect."""
        if self._acceptor is None:
            return
        self.closing = True
        self._acceptor.close()
        grace = self.config.limits.shutdown_grace if grace is None else grace
        deadline = time.monotonic() + grace
        while self.open_files.total > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for conn in list(self.connections):
            conn.close("server shutting down")
        while self.connections and time.monotonic() < deadline + 5:
            await asyncio.sleep(0.05)
        await self._acceptor.wait_closed()
        self._acceptor = None
        asyncio.get_running_loop().set_exception_handler(self._previous_handler)
        self.bans.stop()
        self.audit.write("stopped")
        self.audit.close()


async def start_receiver(
    config: ReceiverConfig, accounts: Accounts, bans: BanStore | None = None
) -> Receiver:
    """Start listening; host keys must already exist (``hostkeys.ensure_host_keys``).

    ``bans`` shares bans with other receivers and keeps them across restarts;
    without it they live in this process only.
    """
    receiver = Receiver(config, accounts, bans)
    await receiver.start()
    return receiver


def run(config: ReceiverConfig, accounts: Accounts) -> None:
    """Serve in the foreground until SIGTERM or SIGINT, then shut down gracefully."""

    async def serve() -> None:
        # Handlers first: "listening" in the audit log tells supervisors (and
        # tests) that SIGTERM now means a graceful stop, never the default kill.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        receiver = await start_receiver(config, accounts)
        try:
            await stop.wait()
        finally:
            await receiver.close()

    asyncio.run(serve())
