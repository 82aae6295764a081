"""The shape every key exchange method shares (RFC 4253 7-8), sans-I/O.

A method object lives for one exchange. The client's ``start()`` gives the
first messages to send; each ``receive(payload)`` returns a :class:`KexStep`:
messages to send and, once the exchange is complete, a :class:`KexResult`.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

from ssh_wire import DecodeError, DisconnectError, DisconnectReason, Writer

__all__ = [
    "ExchangeContext",
    "KexResult",
    "KexStep",
    "ClientKex",
    "ServerKex",
    "KexSpec",
    "KexFailed",
    "HostSigner",
    "Rng",
]

Rng = Callable[[int], bytes]
#: Server side: sign the exchange hash with the negotiated host key algorithm.
HostSigner = Callable[[bytes], bytes]


class KexFailed(DisconnectError):
    """The key exchange cannot complete: bad peer values, bad signature, no agreement."""

    def __init__(self, description: str) -> None:
        super().__init__(DisconnectReason.KEY_EXCHANGE_FAILED, description, local=True)


@dataclass(frozen=True)
class ExchangeContext:
    """What the exchange hash covers before the method's own values (RFC 4253 8)."""

    client_version: bytes
    server_version: bytes
    client_kexinit: bytes
    server_kexinit: bytes

    def hash_prefix(self) -> Writer:
        return (
            Writer()
            .string(self.client_version)
            .string(self.server_version)
            .string(self.client_kexinit)
            .string(self.server_kexinit)
        )


@dataclass(frozen=True)
class KexResult:
    """The outcome: the encoded shared secret K, the exchange hash H and the host key."""

    shared_secret: bytes  # K as encoded in the hash (mpint or string)
    exchange_hash: bytes
    host_key_blob: bytes
    signature: bytes
    hash_name: str


@dataclass(frozen=True)
class KexStep:
    send: list[bytes] = field(default_factory=list)
    result: KexResult | None = None


class ClientKex(ABC):
    def __init__(self, spec: KexSpec, context: ExchangeContext, rng: Rng) -> None:
        self.spec = spec
        self.context = context
        self.rng = rng

    @abstractmethod
    def start(self) -> list[bytes]:
        """Messages the client sends first."""

    @abstractmethod
    def receive(self, payload: bytes) -> KexStep:
        """Handle one kex message (numbers 30-49) from the server."""


class ServerKex(ABC):
    def __init__(
        self,
        spec: KexSpec,
        context: ExchangeContext,
        rng: Rng,
        host_key_blob: bytes,
        sign: HostSigner,
    ) -> None:
        self.spec = spec
        self.context = context
        self.rng = rng
        self.host_key_blob = host_key_blob
        self.sign = sign

    @abstractmethod
    def receive(self, payload: bytes) -> KexStep:
        """Handle one kex message from the client."""


@dataclass(frozen=True)
class KexSpec:
    """A registered key exchange method."""

    name: str
    hash_name: str
    client: Callable[[KexSpec, ExchangeContext, Rng], ClientKex]
    server: Callable[[KexSpec, ExchangeContext, Rng, bytes, HostSigner], ServerKex]
    #: Extra parameters for the method (a DH group, a curve).
    params: object = None

    def digest(self, data: bytes | bytearray) -> bytes:
        return hashlib.new(self.hash_name, data).digest()


def decode_or_fail(what: str, func: Callable[[], object]) -> object:
    try:
        return func()
    except DecodeError as exc:
        raise KexFailed(f"malformed {what}: {exc}") from None
