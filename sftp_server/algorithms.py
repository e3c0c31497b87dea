"""The algorithm lists we offer, by policy: compatible (default), strict, or legacy.

- ``compatible``: modern algorithms plus the two JSch 0.1.55 (PowerSchool)
  cannot do without: ECDH over NIST P-256 for key exchange and an ECDSA P-256
  host key. Also encrypt-and-MAC ``hmac-sha2-*`` for it.
- ``strict``: none of those; for districts whose clients are all modern
  (OpenSSH, WinSCP, lftp, curl, paramiko). ssh-audit finds nothing to fail.
- ``legacy``: ``compatible`` plus SHA-1 key exchange and client signatures
  for old Java clients. Our host keys never sign with SHA-1 under any policy,
  so no policy changes the key a pinned client sees (except ``strict``, which
  stops offering the ECDSA key at all).

Strict key exchange (Terrapin, CVE-2023-48795) is negotiated by asyncssh on its
own; these lists only choose what may be agreed on.
"""

from __future__ import annotations

import dataclasses

from asyncssh.kex import get_kex_algs

POLICIES = ("compatible", "strict", "legacy")

_KEX = (
    "mlkem768x25519-sha256",
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
)
_JSCH_KEX = ("ecdh-sha2-nistp256", "diffie-hellman-group14-sha256")
_CIPHERS = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
)
_MACS = ("hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com")
_JSCH_MACS = ("hmac-sha2-256", "hmac-sha2-512")
_HOST_KEY_SIGS = ("ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256")
_JSCH_HOST_KEY_SIGS = ("ecdsa-sha2-nistp256",)
_LEGACY_KEX = ("diffie-hellman-group14-sha1",)
_LEGACY_SIGS = ("ssh-rsa",)


@dataclasses.dataclass(frozen=True)
class AlgorithmSet:
    """Keyword arguments for asyncssh's server options, as lists of names."""

    kex_algs: list[str]
    encryption_algs: list[str]
    mac_algs: list[str]
    signature_algs: list[str]  # accepted from clients (and advertised as server-sig-algs)
    compression_algs: list[str]
    host_key_algs: list[str]  # what our host keys sign with: never SHA-1


def algorithm_set(policy: str = "compatible") -> AlgorithmSet:
    """The lists for ``policy`` (one of :data:`POLICIES`), in our preference order."""
    if policy not in POLICIES:
        raise ValueError(f"unknown algorithm policy {policy!r}; choose one of {POLICIES}")
    offered = {alg.decode() for alg in get_kex_algs()}
    kex = [alg for alg in _KEX if alg in offered]  # mlkem only where asyncssh has it
    macs, host_keys = list(_MACS), list(_HOST_KEY_SIGS)
    if policy != "strict":
        kex += _JSCH_KEX
        macs += _JSCH_MACS
        host_keys = [host_keys[0], *_JSCH_HOST_KEY_SIGS, *host_keys[1:]]
    sigs = list(host_keys)
    if policy == "legacy":
        kex += _LEGACY_KEX
        sigs += _LEGACY_SIGS
    return AlgorithmSet(
        kex_algs=kex,
        encryption_algs=list(_CIPHERS),
        mac_algs=macs,
        signature_algs=sigs,
        compression_algs=["none"],
        host_key_algs=host_keys,
    )
