"""SFTP receiver benchmark: prints figures, asserts nothing.

1. A 200 MB upload with OpenSSH ``sftp`` to our receiver and to OpenSSH's own
   ``sshd`` with ``internal-sftp`` (started here on a loopback port with its own
   config and host key), same client, side by side. sshd is not chrooted: its
   ChrootDirectory refuses paths under a world-writable /tmp, and a chroot
   costs nothing per byte anyway.
2. 100 districts uploading a 5 MB file each at the same time (password logins
   via ``sshpass``): all must arrive intact; time and logins per second.

Run: ``.venv/bin/python benchmarks/sftp_bench.py [--size-mb 200] [--districts 100]``
(needs ``scripts/system-deps``; runs sshd, so it must run as root).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from sftp_server import (
    Account,
    Limits,
    ReceiverConfig,
    UploadRecord,
    ensure_host_keys,
    hash_password,
    original_name,
    start_receiver,
)

PASSWORD = "bench-password-0123456789"
MiB = 1024 * 1024


class BenchAccounts:
    """The Accounts protocol over a dict."""

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.uploads: list[UploadRecord] = []

    def lookup(self, username: str) -> Account | None:
        return self.accounts.get(username)

    def on_upload(self, record: UploadRecord) -> None:
        self.uploads.append(record)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def _known_hosts(path: Path, port: int, pubs: list[Path]) -> Path:
    lines = [f"[127.0.0.1]:{port} " + " ".join(p.read_text().split()[:2]) for p in pubs]
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def our_receiver(work: Path, accounts: BenchAccounts) -> Iterator[tuple[int, ReceiverConfig]]:
    """Our receiver in a background event loop; yields (port, config)."""
    home = work / "ours"
    ensure_host_keys(home / "hostkeys")
    limits = Limits(max_connections=500, max_connections_per_address=500, login_timeout=120)
    config = ReceiverConfig.under(home, host="127.0.0.1", port=0, limits=limits)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    receiver = asyncio.run_coroutine_threadsafe(start_receiver(config, accounts), loop).result()
    try:
        yield receiver.port, config
    finally:
        asyncio.run_coroutine_threadsafe(receiver.close(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


SSHD_CONFIG = """\
Port {port}
ListenAddress 127.0.0.1
HostKey {dir}/ssh_host_ed25519_key
PidFile {dir}/sshd.pid
AuthorizedKeysFile {dir}/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
ForceCommand internal-sftp
LogLevel ERROR
"""


@contextlib.contextmanager
def openssh_sshd(work: Path, client_pub: Path) -> Iterator[tuple[int, Path]]:
    """``sshd -D`` on a free loopback port, root with our client key; yields (port, upload dir)."""
    base = work / "sshd"
    (base / "upload").mkdir(parents=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(base / "ssh_host_ed25519_key")],
        check=True,
    )
    shutil.copy(client_pub, base / "authorized_keys")
    port = _free_port()
    (base / "sshd_config").write_text(SSHD_CONFIG.format(port=port, dir=base))
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
    log = (base / "sshd.log").open("wb")
    process = subprocess.Popen(
        ["/usr/sbin/sshd", "-D", "-e", "-f", str(base / "sshd_config")], stderr=log
    )
    try:
        _wait_port(port)
        yield port, base / "upload"
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def _sftp(
    port: int, user: str, batch: str, known_hosts: Path, *, key: Path | None, extra: list[str]
) -> list[str]:
    fd, name = tempfile.mkstemp(suffix=".batch")
    os.close(fd)
    script = Path(name)
    script.write_text(batch)
    auth = (
        ["-i", str(key), "-o", "IdentitiesOnly=yes", "-o", "PasswordAuthentication=no"]
        if key
        else ["-o", "BatchMode=no", "-o", "PubkeyAuthentication=no"]
    )
    return [
        "sftp", *auth, *extra, "-b", str(script), "-P", str(port), "-F", "/dev/null",
        "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={known_hosts}",
        f"{user}@127.0.0.1",
    ]  # fmt: skip


def _timed_put(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def throughput(work: Path, size_mb: int, runs: int) -> None:
    """Print MB/s for ours vs sshd, per cipher, best and median of ``runs``."""
    payload = work / "payload.bin"
    with payload.open("wb") as out:
        for _ in range(size_mb):
            out.write(os.urandom(MiB))
    key = work / "client_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    accounts = BenchAccounts()
    public = key.with_suffix(".pub").read_text().strip()
    accounts.accounts["bench"] = Account("bench", "bench", "", authorized_keys=(public,))
    batch = f"put {payload} payload.bin\n"
    print(f"\n{size_mb} MB upload, OpenSSH sftp client, best / median of {runs} (MB/s)")
    print(f"{'cipher':34} {'ours':>15} {'sshd':>15} {'ratio':>7}")
    with (
        our_receiver(work, accounts) as (our_port, config),
        openssh_sshd(work, key.with_suffix(".pub")) as (sshd_port, sshd_dir),
    ):
        ours_kh = _known_hosts(
            work / "kh_ours", our_port, sorted(config.hostkeys_dir.glob("*.pub"))
        )
        sshd_kh = _known_hosts(
            work / "kh_sshd", sshd_port, [work / "sshd/ssh_host_ed25519_key.pub"]
        )
        for cipher in (
            "default",
            "aes128-gcm@openssh.com",
            "chacha20-poly1305@openssh.com",
            "aes128-ctr",
        ):
            extra = [] if cipher == "default" else ["-c", cipher]
            rates = {}
            for name, port, kh, user, folder in (
                ("ours", our_port, ours_kh, "bench", config.inbox_root / "bench"),
                ("sshd", sshd_port, sshd_kh, "root", sshd_dir),
            ):
                target = batch if name == "ours" else f"put {payload} {folder}/payload.bin\n"
                times = []
                for _ in range(runs):
                    times.append(_timed_put(_sftp(port, user, target, kh, key=key, extra=extra)))
                    for published in folder.iterdir():
                        published.unlink()
                rates[name] = (size_mb / min(times), size_mb / statistics.median(times))
            ours, sshd = rates["ours"], rates["sshd"]
            print(
                f"{cipher:34} {ours[0]:7.0f} /{ours[1]:6.0f} {sshd[0]:7.0f} /{sshd[1]:6.0f}"
                f" {ours[1] / sshd[1]:6.2f}x"
            )
        negotiated = accounts.uploads[0].algorithms
        print(f"(default cipher negotiated with ours: {negotiated.cipher})")


def concurrency(work: Path, districts: int, size_mb: int) -> None:
    """``districts`` password logins uploading ``size_mb`` each, all at once."""
    accounts = BenchAccounts()
    hashed = hash_password(PASSWORD)
    for i in range(districts):
        name = f"district{i:03d}"
        accounts.accounts[name] = Account(name, name, hashed)
    files = {}
    for i in range(districts):
        path = work / f"roster{i:03d}.csv"
        path.write_bytes(os.urandom(size_mb * MiB))
        files[f"district{i:03d}"] = path
    env = {**os.environ, "SSHPASS": PASSWORD}
    with our_receiver(work, accounts) as (port, config):
        kh = _known_hosts(work / "kh_conc", port, sorted(config.hostkeys_dir.glob("*.pub")))
        start = time.perf_counter()
        processes = [
            subprocess.Popen(
                ["sshpass", "-e", *_sftp(port, user, f"put {path}\n", kh, key=None, extra=[])],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for user, path in files.items()
        ]
        results = [p.communicate() for p in processes]
        failed = sum(p.returncode != 0 for p in processes)
        elapsed = time.perf_counter() - start
        logins = config.audit_log.read_text().count('"event": "auth_ok"')
        intact = 0
        for user, path in files.items():
            folder = config.inbox_root / user
            arrived = folder.iterdir() if folder.exists() else iter(())
            got = [p for p in arrived if original_name(p.name) == path.name]
            want = hashlib.sha256(path.read_bytes()).hexdigest()
            intact += len(got) == 1 and hashlib.sha256(got[0].read_bytes()).hexdigest() == want
    print(f"\n{districts} districts x {size_mb} MB at once (password logins, OpenSSH sftp)")
    print(f"  intact: {intact}/{districts}   failed clients: {failed}")
    for process, (_, err) in zip(processes, results, strict=True):
        if process.returncode:
            print(f"  first failure: {err.decode(errors='replace').strip()}")
            break
    print(f"  time: {elapsed:.2f} s   logins/s: {logins / elapsed:.1f}")
    print(f"  aggregate: {districts * size_mb / elapsed:.0f} MB/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--districts", type=int, default=100)
    parser.add_argument("--district-mb", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sftp-bench-") as tmp:
        work = Path(tmp)
        throughput(work, args.size_mb, args.runs)
        concurrency(work, args.districts, args.district_mb)


if __name__ == "__main__":
    main()
