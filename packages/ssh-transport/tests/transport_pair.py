"""Two Transport objects wired back to back in memory, and cached test host keys."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import TypeVar

from ssh_keys import PrivateKey, generate_private_key
from ssh_keys.certificate import CertType, sign_certificate
from ssh_transport.config import TransportConfig
from ssh_transport.events import ConnectionTerminated, Event, HostKeyReceived
from ssh_transport.hostkeys import HostKey
from ssh_transport.transport import Role, Transport

E = TypeVar("E", bound=Event)

#: Host key kinds the tests use: (generate_private_key kind, bits).
KEY_KINDS = {
    "ed25519": ("ed25519", None),
    "ecdsa256": ("ecdsa", 256),
    "ecdsa384": ("ecdsa", 384),
    "ecdsa521": ("ecdsa", 521),
    "rsa": ("rsa", 2048),
}


@functools.cache
def private_key(kind: str) -> PrivateKey:
    """One key per kind for the whole run (RSA generation is slow)."""
    name, bits = KEY_KINDS[kind]
    return generate_private_key(name, bits)


@functools.cache
def ca_key() -> PrivateKey:
    return generate_private_key("ed25519")


@functools.cache
def host_key(kind: str, certified: bool = False) -> HostKey:
    signer = private_key(kind)
    if not certified:
        return HostKey(signer)
    cert = sign_certificate(
        ca_key(), signer.public_key, cert_type=CertType.HOST, key_id="test host",
        principals=["localhost"],
    )  # fmt: skip
    return HostKey(signer, cert)


def server_config(host_keys: Iterable[HostKey] | None = None, **kw: object) -> TransportConfig:
    keys = tuple(host_keys) if host_keys is not None else (host_key("ed25519"),)
    return TransportConfig(host_keys=keys, **kw)  # type: ignore[arg-type]


class Pair:
    """A client and a server; ``pump`` moves bytes until both are quiet.

    Events are collected into ``events[role]``; the client accepts the host key
    by itself unless ``auto_accept`` is False.
    """

    def __init__(
        self,
        client_config: TransportConfig | None = None,
        server_cfg: TransportConfig | None = None,
        *,
        auto_accept: bool = True,
        now: float = 0.0,
    ) -> None:
        self.client = Transport(Role.CLIENT, client_config or TransportConfig(), now=now)
        self.server = Transport(Role.SERVER, server_cfg or server_config(), now=now)
        self.auto_accept = auto_accept
        self.events: dict[Role, list[Event]] = {Role.CLIENT: [], Role.SERVER: []}
        self.wire: dict[Role, list[bytes]] = {Role.CLIENT: [], Role.SERVER: []}
        #: If set, called with (sender role, index, packet) for every packet (or the version
        #: line) a side emits; returns what actually reaches the peer.
        self.tamper: Callable[[Role, int, bytes], list[bytes]] | None = None
        self._emitted = {Role.CLIENT: 0, Role.SERVER: 0}

    def side(self, role: Role) -> Transport:
        return self.client if role is Role.CLIENT else self.server

    def peer(self, role: Role) -> Transport:
        return self.server if role is Role.CLIENT else self.client

    def collect(self) -> None:
        for role in Role:
            t = self.side(role)
            while (event := t.next_event()) is not None:
                self.events[role].append(event)
                if role is Role.CLIENT and isinstance(event, HostKeyReceived) and self.auto_accept:
                    t.accept_host_key()

    def pump(self, max_rounds: int = 10_000) -> None:
        """Move data both ways until neither side has anything to send."""
        for _ in range(max_rounds):
            self.collect()
            moved = False
            for role in Role:
                data = self._take(role)
                if data:
                    moved = True
                    self.wire[role].append(data)
                    self.peer(role).receive_data(data)
            self.collect()
            if not moved:
                return
        raise AssertionError("pump did not settle")

    def _take(self, role: Role) -> bytes:
        t = self.side(role)
        if self.tamper is None:
            return t.data_to_send()
        # The core keeps one list entry per packet: tamper with whole packets.
        packets = list(t._out)
        t._out.clear()
        passed = []
        for packet in packets:
            passed += self.tamper(role, self._emitted[role], packet)
            self._emitted[role] += 1
        return b"".join(passed)

    def handshake(self) -> Pair:
        self.pump()
        assert self.client.is_established, self.events
        assert self.server.is_established, self.events
        return self

    def open_service(self, service: str = "ssh-userauth") -> Pair:
        self.client.request_service(service)
        self.pump()
        return self

    def authenticate(self) -> Pair:
        """Pass a USERAUTH_SUCCESS, as the auth layer would: automatic rekeying and
        delayed compression start only after it."""
        self.server.send_message(bytes([52]))
        self.pump()
        return self

    def of_type(self, role: Role, cls: type[E]) -> list[E]:
        return [e for e in self.events[role] if isinstance(e, cls)]

    def terminated(self, role: Role) -> ConnectionTerminated:
        found = self.of_type(role, ConnectionTerminated)
        assert found, f"{role} did not terminate: {self.events[role]}"
        return found[-1]

    def clear(self) -> None:
        for role in Role:
            self.events[role].clear()


def connected(
    client_config: TransportConfig | None = None,
    server_cfg: TransportConfig | None = None,
    *,
    service: bool = True,
    authenticated: bool = False,
) -> Pair:
    pair = Pair(client_config, server_cfg).handshake()
    if service:
        pair.open_service()
    if authenticated:
        pair.authenticate()
    pair.clear()
    return pair


def plain_packet(payload: bytes) -> bytes:
    """A packet as sent before the first NEWKEYS (no cipher, no MAC)."""
    from ssh_transport.ciphers import NONE_CIPHER
    from ssh_transport.packet import PacketSealer

    return PacketSealer(NONE_CIPHER, b"", b"").seal(0, payload)


def record(t: Transport) -> list[tuple[int, bytes]]:
    """Log (sequence number, payload) of every packet ``t`` dispatches."""
    log: list[tuple[int, bytes]] = []
    original = t._dispatch

    def dispatch(payload: bytes, seq: int) -> None:
        log.append((seq, payload))
        original(payload, seq)

    t._dispatch = dispatch  # type: ignore[method-assign]
    return log


def inject(sender: Transport, payload: bytes) -> None:
    """Have ``sender`` seal and queue ``payload`` as it would its own message."""
    sender._send_packet(payload)
