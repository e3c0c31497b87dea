"""The algorithm lists we offer: strict kex, no SHA-1, no CBC, unless legacy is asked for.

Strict key exchange (Terrapin, CVE-2023-48795) is negotiated by asyncssh on its
own; these lists only choose what may be agreed on.
"""

from __future__ import annotations

import dataclasses

from asyncssh.kex import get_kex_algs

__all__ = ["AlgorithmSet", "algorithm_set"]

_KEX = (
    "mlkem768x25519-sha256",
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
    "diffie-hellman-group14-sha256",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
)
_CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
)
_MACS = (
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "hmac-sha2-256",
    "hmac-sha2-512",
)
_HOST_KEY_SIGS = ("ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-512", "rsa-sha2-256")
_LEGACY_KEX = ("diffie-hellman-group14-sha1",)
_LEGACY_SIGS = ("ssh-rsa",)


@dataclasses.dataclass(frozen=True)
class AlgorithmSet:
    """Keyword arguments for asyncssh's server options, as lists of names."""

    kex_algs: list[str]
    encryption_algs: list[str]
    mac_algs: list[str]
    signature_algs: list[str]
    compression_algs: list[str]
    #: What our host keys sign with. Never widened by ``legacy``: a client that
    #: pinned our ECDSA key and prefers ssh-rsa (JSch) must keep seeing ECDSA.
    host_key_algs: list[str] = dataclasses.field(default_factory=lambda: list(_HOST_KEY_SIGS))


def algorithm_set(legacy: bool = False) -> AlgorithmSet:
    """Our preference order; ``legacy`` adds ssh-rsa and group14-sha1 for old Java clients."""
    offered = {alg.decode() for alg in get_kex_algs()}
    kex = [alg for alg in _KEX if alg in offered]  # mlkem only where asyncssh has it
    sigs = list(_HOST_KEY_SIGS)
    if legacy:
        kex += _LEGACY_KEX
        sigs += _LEGACY_SIGS
    return AlgorithmSet(
        kex_algs=kex,
        encryption_algs=list(_CIPHERS),
        mac_algs=list(_MACS),
        signature_algs=sigs,
        compression_algs=["none"],
    )
