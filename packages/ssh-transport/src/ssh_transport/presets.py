"""Algorithm presets: the hardened one, which ssh-audit passes without a warning.

The defaults keep what interoperability needs (ECDH and ECDSA on the NIST curves, which
ssh-audit fails, and curve25519 and finite-field groups, which it warns of as not
post-quantum): OpenSSH's own client offers them too. :func:`hardened` keeps only
post-quantum hybrid key exchange, Ed25519 and RSA (SHA-2) host keys, AEAD or CTR ciphers
and encrypt-then-MAC MACs. OpenSSH 9.0 and later (sntrup761x25519-sha512@openssh.com)
and 9.9 and later (mlkem768x25519-sha256) connect with it; older peers do not.

For a server, pair it with RSA host keys of 3072 bits or more (ssh-audit warns of
shorter ones) and a per-source connection rate limit (ssh-audit's DHEat test).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .config import TransportConfig
from .hostkeys import DEFAULT_HOST_KEY_ALGORITHMS

__all__ = [
    "HARDENED_KEX_ALGORITHMS",
    "HARDENED_HOST_KEY_ALGORITHMS",
    "HARDENED_CIPHERS",
    "HARDENED_MACS",
    "hardened",
]

HARDENED_KEX_ALGORITHMS = (
    "mlkem768x25519-sha256",
    "sntrup761x25519-sha512",
    "sntrup761x25519-sha512@openssh.com",
)
HARDENED_HOST_KEY_ALGORITHMS = (
    "ssh-ed25519-cert-v01@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
    "rsa-sha2-512-cert-v01@openssh.com",
    "rsa-sha2-256-cert-v01@openssh.com",
    "ssh-ed25519",
    "sk-ssh-ed25519@openssh.com",
    "rsa-sha2-512",
    "rsa-sha2-256",
)
HARDENED_CIPHERS = (
    "chacha20-poly1305@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-gcm@openssh.com",
    "aes256-ctr",
    "aes192-ctr",
    "aes128-ctr",
)
HARDENED_MACS = ("hmac-sha2-512-etm@openssh.com", "hmac-sha2-256-etm@openssh.com")


def hardened(config: TransportConfig | None = None, **changes: Any) -> TransportConfig:
    """``config`` (or the defaults) with the hardened algorithm lists, then ``changes``
    (any TransportConfig field)."""
    # Host keys as a removal from the defaults: a server then offers what its keys serve
    # (naming a certificate algorithm without a certificate would be an error).
    removed = [a for a in DEFAULT_HOST_KEY_ALGORITHMS if a not in HARDENED_HOST_KEY_ALGORITHMS]
    lists: dict[str, Any] = {
        "kex_algorithms": HARDENED_KEX_ALGORITHMS,
        "host_key_algorithms": "-" + ",".join(removed) if removed else None,
        "ciphers": HARDENED_CIPHERS,
        "macs": HARDENED_MACS,
    }
    return dataclasses.replace(config or TransportConfig(), **{**lists, **changes})
