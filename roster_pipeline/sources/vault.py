"""Secrets kept recoverably: a pull source's client secret, encrypted at rest.

SFTP passwords are stored as hashes, but a client secret must be sent to the SIS
on every token request, so it is stored encrypted (Fernet: AES-128-CBC with an
HMAC-SHA256) under a key kept in the home, ``secrets.key``, private to the
service's user (0600). The key never enters the database: a copy of the database
alone reveals no secret. ``mask`` takes secrets out of any text before it is
printed, logged or stored.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

from roster_pipeline.errors import ConfigError

KEY_FILE = "secrets.key"
MASK = "***"


class Vault:
    """Encrypts and decrypts secrets with the key in ``<home>/secrets.key``."""

    def __init__(self, home: Path) -> None:
        self.path = home / KEY_FILE

    def _key(self, create: bool) -> bytes:
        from cryptography.fernet import Fernet

        if not self.path.exists():
            if not create:
                raise ConfigError(
                    f"{self.path} is missing: the stored client secrets cannot be read. Restore"
                    " it from a backup, or set each district's secret again"
                    " (`roster district source SLUG ... --client-secret-stdin`)"
                )
            self._write_new(Fernet.generate_key())
        return self.path.read_bytes().strip()

    def _write_new(self, key: bytes) -> None:
        # O_EXCL: two processes creating the key at once must not each keep their own.
        with contextlib.suppress(FileExistsError):
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(key + b"\n")

    def encrypt(self, secret: str) -> str:
        from cryptography.fernet import Fernet

        return Fernet(self._key(create=True)).encrypt(secret.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        from cryptography.fernet import Fernet, InvalidToken

        try:
            return Fernet(self._key(create=False)).decrypt(token.encode("ascii")).decode()
        except (InvalidToken, ValueError):
            raise ConfigError(
                f"a stored client secret cannot be decrypted with {self.path} (the key was"
                " replaced?); set the district's secret again"
            ) from None


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (of 4 characters or more) replaced by ``***``."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
