"""Password hashes: argon2id, constant-time checks, strong generated secrets.

An unknown user is verified against a dummy hash of the same cost, so the time
a failed login takes says nothing about whether the account exists.
"""

from __future__ import annotations

import contextlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# argon2id at OWASP's recommended minimum (19 MiB, t=2, p=1): ~30 ms per check, so
# a nightly burst of district logins stays cheap; verification reads the
# parameters from each hash, so they can be raised later without breaking logins.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(24))
# No look-alikes (0/O, 1/l/I): the password is read off a screen and typed into PowerSchool.
_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` in PHC string format."""
    return _HASHER.hash(password)


def verify(password_hash: str, password: str) -> bool:
    """True when ``password`` matches ``password_hash``; an empty or broken hash never does."""
    if not password_hash:
        # Still pay for one verification: key-only accounts leak nothing by timing.
        verify_unknown_user(password)
        return False
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def verify_unknown_user(password: str) -> bool:
    """Spend one verification's worth of time on a user that does not exist; always False."""
    with contextlib.suppress(VerifyMismatchError, VerificationError, InvalidHashError):
        _HASHER.verify(_DUMMY_HASH, password)
    return False


def generate_password(length: int = 24) -> str:
    """A random password of ``length`` characters (~140 bits at the default length)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))
