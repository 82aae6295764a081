"""Algorithm lists: OpenSSH-style modifiers for local policy, and the RFC 4253 7.1 choice."""

from __future__ import annotations

import fnmatch
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from ssh_wire import DisconnectError, DisconnectReason

from .messages import KexInit

__all__ = ["apply_modifiers", "choose", "Algorithms", "negotiate", "PSEUDO_KEX_NAMES"]

#: Names that signal features in the kex list and must never be chosen as a method.
PSEUDO_KEX_NAMES = frozenset(
    {
        "ext-info-c",
        "ext-info-s",
        "kex-strict-c-v00@openssh.com",
        "kex-strict-s-v00@openssh.com",
    }
)


def apply_modifiers(
    defaults: Sequence[str],
    spec: str | Sequence[str] | None,
    supported: Collection[str],
    what: str = "algorithm",
) -> tuple[str, ...]:
    """Derive a list from ``defaults`` the way ssh_config does.

    ``None`` keeps the defaults; ``"+a,b"`` appends, ``"-a,b"`` removes (wildcards
    allowed), ``"^a,b"`` puts first; a plain list replaces. Names must be supported.
    """
    if spec is None:
        return tuple(defaults)
    if not isinstance(spec, str):
        names = list(spec)
        prefix = ""
    else:
        prefix = spec[:1] if spec[:1] in "+-^" else ""
        names = [n for n in spec[len(prefix) :].split(",") if n]
    if prefix == "-":
        return tuple(n for n in defaults if not any(fnmatch.fnmatchcase(n, p) for p in names))
    for name in names:
        if name not in supported:
            raise ValueError(f"unknown {what} {name!r}")
    if prefix == "+":
        return tuple(defaults) + tuple(n for n in names if n not in defaults)
    if prefix == "^":
        return tuple(names) + tuple(n for n in defaults if n not in names)
    if not names:
        raise ValueError(f"empty {what} list")
    return tuple(dict.fromkeys(names))


def choose(client: Sequence[str], server: Collection[str], what: str) -> str:
    """The first of the client's names that the server also offers.

    The failure names each list by its owner, not "we"/"peer": the same text then reads
    right on both ends of the connection."""
    offered = set(server)
    for name in client:
        if name in offered and name not in PSEUDO_KEX_NAMES:
            return name
    raise DisconnectError(
        DisconnectReason.KEY_EXCHANGE_FAILED,
        f"no matching {what}: client offers {','.join(client) or '(none)'};"
        f" server offers {','.join(server) or '(none)'}",
        local=True,
    )


@dataclass(frozen=True)
class Algorithms:
    """What one key exchange agreed on."""

    kex: str
    host_key: str
    cipher_client_to_server: str
    cipher_server_to_client: str
    mac_client_to_server: str
    mac_server_to_client: str
    compression_client_to_server: str
    compression_server_to_client: str


def negotiate(
    client: KexInit,
    server: KexInit,
    *,
    aead: Collection[str],
    host_key_ok: Collection[str] | None = None,
) -> Algorithms:
    """RFC 4253 7.1. ``aead`` names ciphers that need no MAC (the MAC is then implicit).

    ``host_key_ok``, if given, limits host key algorithms to those a usable key
    exists for (the server side passes the ones it holds keys for).
    """
    kex = choose(client.kex_algorithms, server.kex_algorithms, "key exchange method")
    server_hk = server.server_host_key_algorithms
    if host_key_ok is not None:
        server_hk = tuple(n for n in server_hk if n in host_key_ok)
    host_key = choose(client.server_host_key_algorithms, server_hk, "host key algorithm")
    c2s = choose(client.encryption_client_to_server, server.encryption_client_to_server, "cipher")
    s2c = choose(client.encryption_server_to_client, server.encryption_server_to_client, "cipher")
    mac_c2s = (
        "<implicit>"
        if c2s in aead
        else choose(client.mac_client_to_server, server.mac_client_to_server, "MAC")
    )
    mac_s2c = (
        "<implicit>"
        if s2c in aead
        else choose(client.mac_server_to_client, server.mac_server_to_client, "MAC")
    )
    comp_c2s = choose(
        client.compression_client_to_server, server.compression_client_to_server, "compression"
    )
    comp_s2c = choose(
        client.compression_server_to_client, server.compression_server_to_client, "compression"
    )
    return Algorithms(kex, host_key, c2s, s2c, mac_c2s, mac_s2c, comp_c2s, comp_s2c)


def guess_was_right(client: KexInit, server: KexInit) -> bool:
    """RFC 4253 7: a guessed first kex packet counts only if both first choices match."""
    if not client.kex_algorithms or not server.kex_algorithms:
        return False
    if not client.server_host_key_algorithms or not server.server_host_key_algorithms:
        return False
    return (
        client.kex_algorithms[0] == server.kex_algorithms[0]
        and client.server_host_key_algorithms[0] == server.server_host_key_algorithms[0]
    )
