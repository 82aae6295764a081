"""Public key algorithm names in USERAUTH_REQUEST: which key type and signature each implies,
and which one a client picks for a key (RFC 8308 server-sig-algs)."""

from __future__ import annotations

from collections.abc import Iterable

from ssh_keys import Certificate, PublicKey, Signer
from ssh_keys.certificate import CERT_TYPES

__all__ = [
    "key_type_for",
    "signature_algorithm_for",
    "request_algorithm",
    "choose_signature_algorithm",
    "with_certificate_variants",
]

_CERT_SUFFIX = "-cert-v01@openssh.com"
_RSA_SHA2 = ("rsa-sha2-256", "rsa-sha2-512")
_RSA_SHA2_CERT = {f"{name}{_CERT_SUFFIX}": name for name in _RSA_SHA2}
_PLAIN_TO_CERT = {plain: cert for cert, plain in CERT_TYPES.items()}


def key_type_for(algorithm: str) -> str:
    """The key type a request's algorithm name requires of its blob (rsa-sha2-512 -> ssh-rsa)."""
    if algorithm in _RSA_SHA2:
        return "ssh-rsa"
    if algorithm in _RSA_SHA2_CERT:
        return "ssh-rsa-cert-v01@openssh.com"
    return algorithm


def signature_algorithm_for(algorithm: str) -> str:
    """The signature algorithm a request's algorithm name implies."""
    if algorithm in _RSA_SHA2_CERT:
        return _RSA_SHA2_CERT[algorithm]
    return CERT_TYPES.get(algorithm, algorithm)


def request_algorithm(key: PublicKey, signature_algorithm: str) -> str:
    """The algorithm name to put in a request for ``key`` signing with ``signature_algorithm``."""
    if isinstance(key, Certificate):
        if signature_algorithm in _RSA_SHA2:
            return f"{signature_algorithm}{_CERT_SUFFIX}"
        return key.algorithm
    return signature_algorithm


def choose_signature_algorithm(signer: Signer, server_sig_algs: Iterable[str] | None) -> str | None:
    """What the client signs with, or None when nothing both sides support exists.

    RSA has a choice: the first of the signer's algorithms the server lists in
    server-sig-algs; a server that sent no list gets the signer's first (rsa-sha2-512 for
    our keys: SHA-1 ``ssh-rsa`` is never chosen by default). Other key types have one
    algorithm, sent whatever the list says (as OpenSSH does).
    """
    key = signer.public_key
    plain = key.key if isinstance(key, Certificate) else key
    usable = [a for a in signer.algorithms if a in plain.signature_algorithms]
    if not usable:
        return None
    if plain.algorithm != "ssh-rsa" or server_sig_algs is None:
        return usable[0]
    offered = set(server_sig_algs)
    return next((a for a in usable if a in offered), None)


def with_certificate_variants(signature_algorithms: Iterable[str]) -> tuple[str, ...]:
    """Request algorithm names a server accepts: the plain ones and their certificate forms."""
    names: list[str] = []
    for name in signature_algorithms:
        names.append(name)
        if name in _RSA_SHA2:
            names.append(f"{name}{_CERT_SUFFIX}")
        elif name in _PLAIN_TO_CERT:
            names.append(_PLAIN_TO_CERT[name])
    return tuple(dict.fromkeys(names))
