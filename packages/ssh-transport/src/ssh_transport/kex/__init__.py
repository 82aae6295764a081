"""Key exchange methods: one registry, literal and ordered (see DESIGN.md "Algorithms")."""

from __future__ import annotations

from .agreement import AgreementClient, AgreementServer
from .base import (
    ClientKex,
    ExchangeContext,
    HostSigner,
    KexFailed,
    KexResult,
    KexSpec,
    KexStep,
    ServerKex,
)
from .curves import P256, P384, P521, X25519Agreement
from .gex import GexClient, GexServer
from .groups import dh_agreement
from .hybrid import MLKEM768X25519, SNTRUP761X25519

__all__ = [
    "KexSpec",
    "KexStep",
    "KexResult",
    "KexFailed",
    "ExchangeContext",
    "ClientKex",
    "ServerKex",
    "HostSigner",
    "kex_spec",
    "register_kex",
    "supported_kex",
    "default_kex",
    "legacy_kex",
]


def _mlkem_available() -> bool:
    """cryptography built against an OpenSSL without ML-KEM cannot offer the hybrid."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import mlkem

    try:
        mlkem.MLKEM768PrivateKey.generate()
    except UnsupportedAlgorithm:
        return False
    return True


def _agreement(name: str, hash_name: str, params: object) -> KexSpec:
    return KexSpec(name, hash_name, AgreementClient, AgreementServer, params)


_REGISTRY: dict[str, KexSpec] = {}
_DEFAULT: list[str] = []
_LEGACY: list[str] = []

for _spec, _kind in (
    (
        _agreement("mlkem768x25519-sha256", "sha256", MLKEM768X25519),
        "default" if _mlkem_available() else "unavailable",
    ),
    (_agreement("sntrup761x25519-sha512", "sha512", SNTRUP761X25519), "default"),
    (_agreement("sntrup761x25519-sha512@openssh.com", "sha512", SNTRUP761X25519), "default"),
    (_agreement("curve25519-sha256", "sha256", X25519Agreement), "default"),
    (_agreement("curve25519-sha256@libssh.org", "sha256", X25519Agreement), "default"),
    (_agreement("ecdh-sha2-nistp256", "sha256", P256), "default"),
    (_agreement("ecdh-sha2-nistp384", "sha384", P384), "default"),
    (_agreement("ecdh-sha2-nistp521", "sha512", P521), "default"),
    (KexSpec("diffie-hellman-group-exchange-sha256", "sha256", GexClient, GexServer), "default"),
    (_agreement("diffie-hellman-group16-sha512", "sha512", dh_agreement(4096)), "default"),
    (_agreement("diffie-hellman-group18-sha512", "sha512", dh_agreement(8192)), "default"),
    (_agreement("diffie-hellman-group14-sha256", "sha256", dh_agreement(2048)), "default"),
    (_agreement("diffie-hellman-group14-sha1", "sha1", dh_agreement(2048)), "legacy"),
    (_agreement("diffie-hellman-group1-sha1", "sha1", dh_agreement(1024)), "legacy"),
    (KexSpec("diffie-hellman-group-exchange-sha1", "sha1", GexClient, GexServer), "legacy"),
):
    if _kind == "unavailable":
        continue
    _REGISTRY[_spec.name] = _spec
    (_DEFAULT if _kind == "default" else _LEGACY).append(_spec.name)


def kex_spec(name: str) -> KexSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown key exchange method {name!r}") from None


def register_kex(spec: KexSpec, *, default: bool = False, replace: bool = False) -> None:
    """Add a key exchange method; ``default`` also offers it without opt-in."""
    if spec.name in _REGISTRY and not replace:
        raise ValueError(f"key exchange method {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    if default and spec.name not in _DEFAULT:
        _DEFAULT.append(spec.name)


def supported_kex() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def default_kex(server: bool = False) -> tuple[str, ...]:
    """The methods offered without opt-in. A server leaves out ECDH on the NIST curves
    (ssh-audit fails them): clients that have nothing better are rare, and ``+`` brings
    them back. A client keeps them, as OpenSSH's ssh does, for servers that only speak
    those."""
    if server:
        return tuple(n for n in _DEFAULT if not n.startswith("ecdh-sha2-nistp"))
    return tuple(_DEFAULT)


def legacy_kex() -> tuple[str, ...]:
    return tuple(_LEGACY)
