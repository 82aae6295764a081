"""Public key algorithm names in USERAUTH_REQUEST: which key type and signature each implies,
and which one a client picks for a key (RFC 8308 server-sig-algs).

The names and their meaning come from ssh-keys' algorithm table, the one the transport's host
key code uses too; these are thin wrappers that map names from a peer that the table does not
know to themselves (they then match no key), so a core never raises on them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import ssh_keys
from ssh_keys import Certificate, PublicKey, Signer, UnsupportedAlgorithm, signer_algorithms

__all__ = [
    "key_type_for",
    "signature_algorithm_for",
    "request_algorithm",
    "choose_signature_algorithm",
    "with_certificate_variants",
]


def key_type_for(algorithm: str) -> str:
    """The key type a request's algorithm name requires of its blob (rsa-sha2-512 -> ssh-rsa)."""
    try:
        return ssh_keys.key_type_for(algorithm)
    except UnsupportedAlgorithm:
        return algorithm


def signature_algorithm_for(algorithm: str) -> str:
    """The signature algorithm a request's algorithm name implies."""
    try:
        return ssh_keys.signature_algorithm_for(algorithm)
    except UnsupportedAlgorithm:
        return algorithm


def request_algorithm(key: PublicKey, signature_algorithm: str) -> str:
    """The algorithm name to put in a request for ``key`` signing with ``signature_algorithm``."""
    if isinstance(key, Certificate):
        for name in ssh_keys.algorithms_for(key, legacy=True):
            if ssh_keys.signature_algorithm_for(name) == signature_algorithm:
                return name
        return key.algorithm
    return signature_algorithm


def choose_signature_algorithm(
    signer: Signer, server_sig_algs: Iterable[str] | None, legacy: Iterable[str] = ()
) -> str | None:
    """What the client signs with, or None when nothing both sides support exists.

    RSA has a choice: the first of the signer's algorithms the server lists in
    server-sig-algs; a server that sent no list gets the signer's first (rsa-sha2-512 for
    our keys). Other key types have one algorithm, sent whatever the list says (as OpenSSH
    does). SHA-1 ones (``ssh-rsa``, ``ssh-dss``) are never chosen by default: only those
    in ``legacy`` (the names the caller's own accepted list gives) join, after the others.
    """
    key = signer.public_key
    plain = key.key if isinstance(key, Certificate) else key
    wanted = set(legacy)
    extra = [a for a in signer_algorithms(signer, legacy=True) if a in wanted]
    candidates = dict.fromkeys([*signer.algorithms, *extra])
    usable = [a for a in candidates if a in plain.signature_algorithms]
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
        # A name the table does not know has no certificate form.
        with contextlib.suppress(UnsupportedAlgorithm):
            names.append(ssh_keys.certificate_algorithm_for(name))
    return tuple(dict.fromkeys(names))
