"""Host key algorithms: which key type each name uses and which signature it makes.

The names and what they mean come from ssh-keys' algorithm table (``ssh_keys.algorithms``),
the one the user authentication layer uses too; this module adds the transport's policy
(the default order) and the server's host keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from ssh_keys import (
    PublicKey,
    PublicKeyLine,
    Signer,
    accepted_signature_algorithms,
    algorithm_specs,
    algorithms_for,
    as_certificate,
    key_type_for,
    signature_algorithm_for,
    signer_algorithms,
)

__all__ = [
    "DEFAULT_HOST_KEY_ALGORITHMS",
    "LEGACY_HOST_KEY_ALGORITHMS",
    "SUPPORTED_HOST_KEY_ALGORITHMS",
    "supported_host_key_algorithms",
    "key_type_for",
    "signature_algorithm_for",
    "accepted_signature_algorithms",
    "host_key_algorithms_for",
    "HostKey",
]

# OpenSSH 10's default order: certificates first, then plain keys; no SHA-1.
DEFAULT_HOST_KEY_ALGORITHMS: tuple[str, ...] = (
    "ssh-ed25519-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "rsa-sha2-512-cert-v01@openssh.com",
    "rsa-sha2-256-cert-v01@openssh.com",
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "rsa-sha2-512",
    "rsa-sha2-256",
)


def supported_host_key_algorithms() -> tuple[str, ...]:
    """Every name the table knows, defaults first: SHA-1 ones and those of key types
    registered with ``ssh_keys.register_key_type`` are opt-in (``+name``)."""
    extra = tuple(a.name for a in algorithm_specs() if a.name not in DEFAULT_HOST_KEY_ALGORITHMS)
    return DEFAULT_HOST_KEY_ALGORITHMS + extra


#: Built in, opt-in: SHA-1 signatures.
LEGACY_HOST_KEY_ALGORITHMS: tuple[str, ...] = supported_host_key_algorithms()[
    len(DEFAULT_HOST_KEY_ALGORITHMS) :
]
SUPPORTED_HOST_KEY_ALGORITHMS = DEFAULT_HOST_KEY_ALGORITHMS + LEGACY_HOST_KEY_ALGORITHMS


@dataclass(frozen=True)
class HostKey:
    """A server's host key: a signer and, optionally, a certificate for it.

    The certificate may be given as read from a file (a ``PublicKeyLine``).
    """

    signer: Signer
    certificate: PublicKey | None = None

    def __post_init__(self) -> None:
        if self.certificate is not None:
            cert = as_certificate(self.certificate, "HostKey certificate")
            object.__setattr__(self, "certificate", cert)
        if isinstance(self.signer, (PublicKey, PublicKeyLine)):
            raise TypeError("HostKey needs a signer (a private key), not a public key")

    @property
    def public_key(self) -> PublicKey:
        return self.certificate if self.certificate is not None else self.signer.public_key

    def algorithms(self) -> tuple[str, ...]:
        """Host key algorithm names this key can serve, in default order (legacy SHA-1
        names too if the signer can make them: the configured list decides)."""
        makes = set(signer_algorithms(self.signer, legacy=True))
        servable = {
            name
            for name in algorithms_for(self.public_key, legacy=True)
            if signature_algorithm_for(name) in makes
        }
        return tuple(a for a in supported_host_key_algorithms() if a in servable)


def host_key_algorithms_for(keys: list[HostKey]) -> dict[str, HostKey]:
    """Map each servable host key algorithm to the key that serves it (first key wins)."""
    table: dict[str, HostKey] = {}
    for key in keys:
        for alg in key.algorithms():
            table.setdefault(alg, key)
    return table
