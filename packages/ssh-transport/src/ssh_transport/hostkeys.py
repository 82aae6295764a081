"""Host key algorithms: which key type each name uses and which signature it makes."""

from __future__ import annotations

from dataclasses import dataclass

from ssh_keys import PublicKey, Signer

__all__ = [
    "DEFAULT_HOST_KEY_ALGORITHMS",
    "LEGACY_HOST_KEY_ALGORITHMS",
    "SUPPORTED_HOST_KEY_ALGORITHMS",
    "key_type_for",
    "signature_algorithm_for",
    "host_key_algorithms_for",
    "HostKey",
]

_CERT = "-cert-v01@openssh.com"

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
#: Registered but opt-in: SHA-1 signatures.
LEGACY_HOST_KEY_ALGORITHMS: tuple[str, ...] = (
    "ssh-rsa",
    "ssh-rsa-cert-v01@openssh.com",
    "ssh-dss",
    "ssh-dss-cert-v01@openssh.com",
)
SUPPORTED_HOST_KEY_ALGORITHMS = DEFAULT_HOST_KEY_ALGORITHMS + LEGACY_HOST_KEY_ALGORITHMS


def key_type_for(algorithm: str) -> str:
    """The key type a host key algorithm uses (rsa-sha2-512 -> ssh-rsa)."""
    if algorithm.startswith("rsa-sha2-"):
        return "ssh-rsa-cert-v01@openssh.com" if algorithm.endswith(_CERT) else "ssh-rsa"
    return algorithm


def signature_algorithm_for(algorithm: str) -> str:
    """The signature algorithm a host key algorithm signs with."""
    if algorithm.endswith(_CERT):
        return algorithm[: -len(_CERT)]
    return algorithm


@dataclass(frozen=True)
class HostKey:
    """A server's host key: a signer and, optionally, a certificate for it."""

    signer: Signer
    certificate: PublicKey | None = None

    @property
    def public_key(self) -> PublicKey:
        return self.certificate if self.certificate is not None else self.signer.public_key

    def algorithms(self) -> tuple[str, ...]:
        """Host key algorithm names this key can serve, in default order."""
        names = []
        base = self.signer.public_key.algorithm
        for alg in SUPPORTED_HOST_KEY_ALGORITHMS:
            is_cert = alg.endswith(_CERT)
            if is_cert != (self.certificate is not None):
                continue
            sig = signature_algorithm_for(alg)
            kt = key_type_for(alg)
            plain_type = kt[: -len(_CERT)] if is_cert else kt
            if plain_type == base and sig in self.signer.algorithms:
                names.append(alg)
        return tuple(names)


def host_key_algorithms_for(keys: list[HostKey]) -> dict[str, HostKey]:
    """Map each servable host key algorithm to the key that serves it (first key wins)."""
    table: dict[str, HostKey] = {}
    for key in keys:
        for alg in key.algorithms():
            table.setdefault(alg, key)
    return table
