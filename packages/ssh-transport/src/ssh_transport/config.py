"""Per-connection settings of the transport, with OpenSSH-like defaults."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from . import ciphers, compression, hostkeys, kex, macs
from .negotiation import apply_modifiers
from .packet import DEFAULT_MAX_PACKET_LENGTH

__all__ = ["TransportConfig", "AlgorithmLists", "DEFAULT_SOFTWARE_VERSION"]

DEFAULT_SOFTWARE_VERSION = "pyssh_0.1"

AlgorithmSpec = str | Sequence[str] | None

#: Signature algorithms a server says it accepts for user authentication (RFC 8308
#: server-sig-algs), strongest first; SHA-1 ones are left out by default.
DEFAULT_SERVER_SIG_ALGS = (
    "ssh-ed25519",
    "sk-ssh-ed25519@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "rsa-sha2-512",
    "rsa-sha2-256",
)


def _named(spec: AlgorithmSpec) -> tuple[str, ...]:
    """The names a list spec asks for by name (``-`` patterns ask for none)."""
    if spec is None:
        return ()
    if not isinstance(spec, str):
        return tuple(spec)
    if spec[:1] == "-":
        return ()
    body = spec[1:] if spec[:1] in ("+", "^") else spec
    return tuple(n for n in body.split(",") if n)


@dataclass(frozen=True)
class AlgorithmLists:
    """The lists one side offers, in preference order."""

    kex: tuple[str, ...]
    host_key: tuple[str, ...]
    ciphers: tuple[str, ...]
    macs: tuple[str, ...]
    compression: tuple[str, ...]


@dataclass
class TransportConfig:
    """Settings for one connection.

    Algorithm fields take OpenSSH's list syntax: ``None`` for the defaults,
    ``"+name"`` to append an opt-in algorithm, ``"-pattern"`` to remove,
    ``"^name"`` to put first, or a plain list to replace. Unknown names raise
    ValueError when the lists are resolved.
    """

    kex_algorithms: AlgorithmSpec = None
    host_key_algorithms: AlgorithmSpec = None
    ciphers: AlgorithmSpec = None
    macs: AlgorithmSpec = None
    compression: AlgorithmSpec = None
    #: The Terrapin countermeasure (kex-strict-*-v00@openssh.com). On by default.
    strict_kex: bool = True
    software_version: str = DEFAULT_SOFTWARE_VERSION
    #: Rekey after this many bytes in either direction (RFC 4344 limits apply too).
    rekey_bytes: int = 1 << 30
    #: Rekey after this many seconds; None for never.
    rekey_seconds: float | None = 3600.0
    #: The whole handshake (version, kex) must finish within this; None for no limit.
    handshake_timeout: float | None = 120.0
    max_packet_length: int = DEFAULT_MAX_PACKET_LENGTH
    #: Server: the host keys to offer (ssh_transport.hostkeys.HostKey).
    host_keys: Sequence[hostkeys.HostKey] = ()
    #: Server: (p, g) groups for diffie-hellman-group-exchange; None for RFC 3526's.
    moduli: Sequence[tuple[int, int]] | None = None
    #: Server: services a client may request.
    services: tuple[str, ...] = ("ssh-userauth",)
    #: Server: the server-sig-algs extension value sent in EXT_INFO.
    server_sig_algs: tuple[str, ...] = DEFAULT_SERVER_SIG_ALGS
    #: Extra EXT_INFO extensions to send (server), name -> value.
    extra_extensions: dict[str, bytes] = field(default_factory=dict)

    def algorithm_lists(self, *, server: bool = False) -> AlgorithmLists:
        """The resolved lists; ``server`` starts from the server's defaults."""
        host_key = apply_modifiers(
            hostkeys.DEFAULT_HOST_KEY_ALGORITHMS,
            self.host_key_algorithms,
            hostkeys.supported_host_key_algorithms(),
            "host key algorithm",
        )
        if self.host_keys:
            self._check_servable(host_key)
        return AlgorithmLists(
            kex=apply_modifiers(
                kex.default_kex(server), self.kex_algorithms, kex.supported_kex(), "kex method"
            ),
            host_key=host_key,
            ciphers=apply_modifiers(
                ciphers.default_ciphers(), self.ciphers, ciphers.supported_ciphers(), "cipher"
            ),
            macs=apply_modifiers(macs.default_macs(), self.macs, macs.supported_macs(), "MAC"),
            compression=apply_modifiers(
                compression.default_compression(),
                self.compression,
                compression.supported_compression(),
                "compression",
            ),
        )

    def _check_servable(self, host_key: tuple[str, ...]) -> None:
        """A server must be able to serve each host key algorithm it was explicitly told
        to offer (``+ssh-rsa`` with no RSA key, ``+ssh-dss`` with no DSA key):
        a name asked for is never dropped in silence. Default names without a key are
        simply not offered."""
        servable = hostkeys.host_key_algorithms_for(list(self.host_keys))
        for name in _named(self.host_key_algorithms):
            if name in host_key and name not in servable:
                raise ValueError(
                    f"host key algorithm {name!r} was asked for, but no host key can serve it"
                )
