"""Hostile clients for the tests: bounded in count and time, talking to 127.0.0.1 only."""

from __future__ import annotations

import contextlib
import socket
import time

import asyncssh
import paramiko
from paramiko.common import cMSG_USERAUTH_REQUEST
from paramiko.sftp import CMD_CLOSE, CMD_STATUS


def userauth_password(username: str, password: str) -> paramiko.Message:
    """A raw SSH_MSG_USERAUTH_REQUEST for the password method."""
    message = paramiko.Message()
    message.add_byte(cMSG_USERAUTH_REQUEST)
    message.add_string(username)
    message.add_string("ssh-connection")
    message.add_string("password")
    message.add_boolean(False)
    message.add_string(password)
    return message


def pipelined_guesses(port: int, guesses: list[str], gap: float, username: str = "alpha") -> bool:
    """Send every password without waiting for answers; True when the connection was cut
    (a banned source is cut at the door, before the key exchange ends)."""
    transport = paramiko.Transport(("127.0.0.1", port))
    try:
        try:
            transport.start_client(timeout=10)
        except (paramiko.SSHException, EOFError, OSError):
            return True
        with contextlib.suppress(paramiko.BadAuthenticationType):
            transport.auth_none(username)  # asks for the ssh-userauth service
        for guess in guesses:
            if not transport.is_active():
                break
            transport._send_message(userauth_password(username, guess))  # type: ignore[attr-defined]
            time.sleep(gap)
        deadline = time.monotonic() + 10
        while transport.is_active() and time.monotonic() < deadline:
            time.sleep(0.05)
        return not transport.is_active()
    finally:
        transport.close()


def sockets_from(source: str, port: int, count: int) -> list[socket.socket]:
    """``count`` idle TCP connections to 127.0.0.1:``port`` from loopback address ``source``."""
    held = []
    for _ in range(count):
        sock = socket.socket()
        sock.settimeout(5)
        sock.bind((source, 0))
        try:
            sock.connect(("127.0.0.1", port))
        except OSError:
            sock.close()
            continue
        held.append(sock)
    return held


def still_open(sockets: list[socket.socket], wait: float = 1.0) -> int:
    """How many of ``sockets`` the server has not closed after ``wait`` seconds."""
    time.sleep(wait)
    alive = 0
    for sock in sockets:
        sock.settimeout(0.01)
        try:
            while chunk := sock.recv(4096):
                del chunk
            # recv returned b"": closed by the server
        except TimeoutError:
            alive += 1
        except OSError:
            pass
    return alive


def close_then_eof(client: paramiko.SFTPClient, name: str, data: bytes) -> bool:
    """Upload, send CLOSE, half-close the channel before the answer; True when OK came back."""
    remote = client.open(name, "wb")
    remote.set_pipelined(True)  # the writes queue up in front of the close
    for start in range(0, len(data), 4096):
        remote.write(data[start : start + 4096])
    remote.flush()
    number = client._async_request(type(None), CMD_CLOSE, remote.handle)  # type: ignore[attr-defined]
    channel = client.get_channel()
    assert channel is not None
    channel.shutdown_write()  # EOF while the close is being answered
    try:
        kind, _ = client._read_response(number)  # type: ignore[attr-defined]
    except OSError:
        return False
    return bool(kind == CMD_STATUS)


def sha1_publickey_login(port: int, username: str, key: asyncssh.SSHKey) -> bool:
    """Log in with an RSA key signing ssh-rsa (SHA-1), whatever the server advertises."""
    transport = paramiko.Transport(("127.0.0.1", port))
    try:
        transport.start_client(timeout=10)
        with contextlib.suppress(paramiko.BadAuthenticationType):
            transport.auth_none(username)
        request = paramiko.Message()
        request.add_byte(cMSG_USERAUTH_REQUEST)
        request.add_string(username)
        request.add_string("ssh-connection")
        request.add_string("publickey")
        request.add_boolean(True)
        request.add_string("ssh-rsa")
        request.add_string(key.public_data)
        assert transport.session_id is not None  # set by start_client
        signed = paramiko.Message()
        signed.add_string(transport.session_id)
        signed.add_bytes(request.asbytes())
        request.add_string(key.sign(signed.asbytes(), b"ssh-rsa"))
        transport._send_message(request)  # type: ignore[attr-defined]
        deadline = time.monotonic() + 5
        while not transport.is_authenticated() and time.monotonic() < deadline:
            time.sleep(0.05)
        return transport.is_authenticated()
    finally:
        transport.close()
