"""The clients districts really use, each uploading a CSV and a zip that must arrive intact.

Each runs against a real receiver on 127.0.0.1; a missing client fails
(``require``, ``scripts/system-deps`` installs them), it never skips.

Two client settings are refused by asyncssh itself, before any hook of ours
runs, so the README tells districts the setting that works, and that is what
runs here: rclone 1.60's concurrent writes send WRITE packets with trailing
bytes (SSH_FX_BAD_MESSAGE; ``disable_concurrent_writes`` avoids them), and
paramiko's SSHClient trying keys before the password sends a second
ssh-userauth service request, which asyncssh refuses since 2.14.1 as part of
a security fix (``look_for_keys=False, allow_agent=False`` avoids it).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import asyncssh
import paramiko
import pytest

from sftp_server import Account, fingerprints
from sftp_server.inbox import original_name
from tests.sftp.conftest import PASSWORD, Running, StartFn, connect, require

JSCH = Path("/usr/share/java/jsch.jar")


def _payloads(folder: Path) -> list[Path]:
    """A CSV over 32 KiB (several SFTP writes) and a zip of two CSVs."""
    rows = "".join(f"S{n:06d},Student {n},{n % 12 + 1}\n" for n in range(6000))
    csv = folder / "students.csv"
    csv.write_text("student_id,name,grade\n" + rows)
    archive = folder / "export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("users.csv", "user_id,name\n" + rows)
        out.writestr("classes.csv", "class_id\n" + "".join(f"C{n}\n" for n in range(3000)))
    return [csv, archive]


def _known_hosts(running: Running, path: Path) -> Path:
    pubs = sorted(running.config.hostkeys_dir.glob("ssh_host_*_key.pub"))
    lines = [f"[127.0.0.1]:{running.port} {' '.join(p.read_text().split()[:2])}" for p in pubs]
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(args: list[str], env: dict[str, str] | None = None) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=90, check=False, env=env)
    assert done.returncode == 0, done.stdout + done.stderr


def _openssh_password(running: Running, files: list[Path], tmp: Path) -> None:
    batch = tmp / "batch"
    batch.write_text("".join(f"put {f}\n" for f in files))
    args = [
        # BatchMode=no before -b: ssh keeps the first value it is given.
        require("sshpass"), "-e", require("sftp"), "-o", "BatchMode=no",
        "-b", str(batch), "-P", str(running.port),
        "-F", "/dev/null", "-o", f"UserKnownHostsFile={_known_hosts(running, tmp / 'kh')}",
        "-o", "PreferredAuthentications=password",
        "-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1", "alpha@127.0.0.1",
    ]  # fmt: skip
    _run(args, {**os.environ, "SSHPASS": PASSWORD})


def _openssh_key(running: Running, files: list[Path], tmp: Path) -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    key.write_private_key(tmp / "id")
    (tmp / "id").chmod(0o600)
    account = running.accounts.accounts["alpha"]
    running.accounts.add(Account(account.username, account.district, account.password_hash,
                                 authorized_keys=(key.export_public_key().decode(),)))  # fmt: skip
    batch = tmp / "batch"
    batch.write_text("".join(f"put {f}\n" for f in files))
    _run([
        require("sftp"), "-b", str(batch), "-P", str(running.port), "-F", "/dev/null",
        "-i", str(tmp / "id"), "-o", "IdentitiesOnly=yes", "-o", "PasswordAuthentication=no",
        "-o", f"UserKnownHostsFile={_known_hosts(running, tmp / 'kh')}", "alpha@127.0.0.1",
    ])  # fmt: skip


def _curl(running: Running, files: list[Path], tmp: Path) -> None:
    pins = [fp.removeprefix("SHA256:") for _, fp in fingerprints(running.config.hostkeys_dir)]
    for f in files:  # libssh2 picks the host key type itself: the pin that matches it wins
        results = [
            subprocess.run(
                [
                    require("curl"),
                    "-sS",
                    "--hostpubsha256",
                    pin,
                    "-u",
                    f"alpha:{PASSWORD}",
                    "-T",
                    str(f),
                    f"sftp://127.0.0.1:{running.port}/{f.name}",
                ],
                capture_output=True,
                text=True,
                timeout=90,
                check=False,
            )
            for pin in pins
        ]
        assert sum(r.returncode == 0 for r in results) == 1, [r.stderr for r in results]


def _lftp(running: Running, files: list[Path], tmp: Path) -> None:
    connect_program = (
        f"ssh -a -x -F /dev/null -o UserKnownHostsFile={_known_hosts(running, tmp / 'kh')}"
    )
    puts = "; ".join(f"put {f}" for f in files)
    script = (
        f"set sftp:connect-program '{connect_program}'; set xfer:use-temp-file yes; "
        f"open -u alpha,'{PASSWORD}' -p {running.port} sftp://127.0.0.1; {puts}; bye"
    )
    _run([require("lftp"), "-c", script])


def _paramiko_sftp(running: Running, files: list[Path], tmp: Path) -> None:
    client = connect(running.port, "alpha")
    for f in files:
        client.put(str(f), f.name)
    client.close()


def _paramiko_sshclient(running: Running, files: list[Path], tmp: Path) -> None:
    client = paramiko.SSHClient()
    client.load_host_keys(str(_known_hosts(running, tmp / "kh")))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect("127.0.0.1", running.port, "alpha", PASSWORD,
                   look_for_keys=False, allow_agent=False)  # fmt: skip
    with client.open_sftp() as sftp:
        for f in files:
            sftp.put(str(f), f.name)
    client.close()


def _rclone(running: Running, files: list[Path], tmp: Path) -> None:
    rclone = require("rclone")
    env = {**os.environ, "RCLONE_CONFIG": str(tmp / "rclone.conf")}
    obscured = subprocess.run([rclone, "obscure", PASSWORD], capture_output=True, text=True,
                              check=True, env=env).stdout.strip()  # fmt: skip
    remote = (
        f":sftp,host=127.0.0.1,port={running.port},user=alpha,pass={obscured},"
        f"known_hosts_file={_known_hosts(running, tmp / 'kh')},shell_type=none,"
        "disable_concurrent_writes=true:"
    )
    for f in files:
        _run([rclone, "copyto", "--retries", "1", str(f), f"{remote}{f.name}"], env)


def _asyncssh(running: Running, files: list[Path], tmp: Path) -> None:
    async def upload() -> None:
        async with asyncssh.connect(
            "127.0.0.1", running.port, username="alpha", password=PASSWORD,
            known_hosts=str(_known_hosts(running, tmp / "kh")), client_keys=None,
        ) as conn:  # fmt: skip
            sftp = await conn.start_sftp_client()
            await sftp.put([str(f) for f in files], "/")
            sftp.exit()

    asyncio.run(upload())


def _jsch(running: Running, files: list[Path], tmp: Path) -> None:
    source = Path(__file__).with_name("java") / "Put.java"
    assert JSCH.exists(), "libjsch-java is missing: run scripts/system-deps"
    _run([require("javac"), "-d", str(tmp), "-cp", str(JSCH), str(source)])
    kh = _known_hosts(running, tmp / "kh")
    _run([require("java"), "-cp", f"{JSCH}:{tmp}", "Put", str(running.port), PASSWORD, str(kh),
          *map(str, files)])  # fmt: skip


CLIENTS: dict[str, Callable[[Running, list[Path], Path], None]] = {
    "openssh-password": _openssh_password,
    "openssh-key": _openssh_key,
    "curl": _curl,
    "lftp-temp-files": _lftp,
    "paramiko-sftpclient": _paramiko_sftp,
    "paramiko-sshclient": _paramiko_sshclient,
    "rclone": _rclone,
    "asyncssh": _asyncssh,
    "jsch": _jsch,
}


@pytest.mark.parametrize("client", list(CLIENTS))
def test_client_uploads_a_csv_and_a_zip_intact(start: StartFn, tmp_path: Path, client: str) -> None:
    running = start()
    files = _payloads(tmp_path)
    CLIENTS[client](running, files, tmp_path)
    arrived = {original_name(p.name): p.read_bytes() for p in running.inbox("alpha").iterdir()}
    sent = {f.name: f.read_bytes() for f in files}
    assert {n: hashlib.sha256(b).hexdigest() for n, b in arrived.items()} == {
        n: hashlib.sha256(b).hexdigest() for n, b in sent.items()
    }
    assert len(running.accounts.uploads) == 2
