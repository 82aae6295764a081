"""The whole stack in memory, deterministically: transport (test-only null cipher and MAC,
seeded randomness), auth and connection cores in both roles.

``record()`` plays a short session (password login, a session channel with exec, data
both ways, EOF, close, a global request) and returns what each side sent. A fresh side
built by ``side(role)`` accepts the peer's recorded bytes exactly, so the fuzzer can mutate
the part after key exchange, where the null cipher leaves every message readable.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable

from ssh_auth import AuthClient, AuthenticationSucceeded, AuthServer, PasswordRequested
from ssh_auth.decisions import Decision
from ssh_auth.policy import AuthContext, BasePolicy
from ssh_connection import (
    ChannelEOF,
    ChannelOpened,
    ChannelOpenRequested,
    ChannelRequestReceived,
    ChannelRequestSucceeded,
    ConnectionCore,
    GlobalRequestReceived,
)
from ssh_keys import Ed25519PrivateKey
from ssh_transport import (
    Event,
    HostKey,
    HostKeyReceived,
    Pause,
    Role,
    ServiceAccepted,
    Transport,
    TransportConfig,
    ciphers,
    macs,
)

USER, PASSWORD = "fuzz", "fuzz-password"


def null_algorithms() -> None:
    """Register the test-only "none" cipher and MAC (idempotent)."""
    if "none" not in ciphers._registry:
        ciphers.register_cipher(ciphers.NONE_CIPHER)
    if "none" not in macs._registry:
        macs.register_mac(macs.NONE_MAC)


def remove_null_algorithms() -> None:
    """Undo :func:`null_algorithms`: tests that share the process must not see "none"
    among the supported ciphers and MACs."""
    ciphers._registry.pop("none", None)
    macs._registry.pop("none", None)


def seeded(seed: int) -> Callable[[int], bytes]:
    """Bytes that depend only on the length asked for, so a replay draws the same keys."""
    return lambda n: hashlib.shake_256(b"%d:%d" % (seed, n)).digest(n)


@functools.cache
def host_key() -> HostKey:
    return HostKey(Ed25519PrivateKey.from_seed(bytes(32)))


class Policy(BasePolicy):
    def check_password(self, username: str, password: str, context: AuthContext) -> Decision:
        if username == USER and password == PASSWORD:
            return Decision.accept()
        return Decision.reject("wrong password")


def side(role: Role) -> ConnectionCore:
    """A fresh, deterministic stack for ``role``."""
    null_algorithms()
    algs = {"ciphers": ("none",), "macs": ("none",), "kex_algorithms": ("curve25519-sha256",)}
    if role is Role.CLIENT:
        t = Transport(role, TransportConfig(**algs), rng=seeded(1))
        t.request_service("ssh-userauth")
        return ConnectionCore(AuthClient(t, USER), role)
    config = TransportConfig(host_keys=(host_key(),), **algs)
    t = Transport(role, config, rng=seeded(2))
    return ConnectionCore(AuthServer(t, Policy()), role)


def react(core: ConnectionCore, event: Event) -> None:
    """The scripted application: it grants everything, and each side's next step follows
    from an event, so a replayed side takes the same steps at the same points."""
    if isinstance(event, HostKeyReceived):
        event.answer(True)
    elif isinstance(event, ServiceAccepted):
        _auth(core).try_password()
    elif isinstance(event, PasswordRequested):
        _auth(core).provide_password(PASSWORD)
    elif isinstance(event, AuthenticationSucceeded):
        core.open_session()
    elif isinstance(event, ChannelOpened):
        core.request_pty(event.channel_id, "xterm", 80, 24, want_reply=False)
        core.request(event.channel_id, "env", ENV, want_reply=False)
        core.request(event.channel_id, "exec", b"\x00\x00\x00\x03cat", want_reply=True)
    elif isinstance(event, ChannelRequestSucceeded):
        core.send(event.channel_id, b"hello " * 50)
        core.send_eof(event.channel_id)
        core.global_request("keepalive@openssh.com", b"", want_reply=True)
    elif isinstance(event, ChannelOpenRequested):
        event.accept()
    elif isinstance(event, ChannelRequestReceived):
        event.answer(True)
    elif isinstance(event, ChannelEOF) and core.role is Role.SERVER:
        core.send(event.channel_id, b"world " * 50)
        core.send_eof(event.channel_id)
        core.close_channel(event.channel_id)
    elif isinstance(event, GlobalRequestReceived):
        event.answer(b"")
    elif isinstance(event, Pause):
        event.answer(True)


ENV = b"\x00\x00\x00\x04LANG\x00\x00\x00\x01C"


def _auth(core: ConnectionCore) -> AuthClient:
    auth = core.lower
    assert isinstance(auth, AuthClient)
    return auth


def drain(core: ConnectionCore) -> list[Event]:
    events = []
    while (event := core.next_event()) is not None:
        events.append(event)
        if not core.closed:
            react(core, event)
    return events


@functools.cache
def record() -> dict[Role, bytes]:
    client, server = side(Role.CLIENT), side(Role.SERVER)
    sent: dict[Role, list[bytes]] = {Role.CLIENT: [], Role.SERVER: []}
    for _ in range(200):
        moved = False
        for role, src, dst in ((Role.CLIENT, client, server), (Role.SERVER, server, client)):
            drain(src)
            data = src.data_to_send()
            if data:
                moved = True
                sent[role].append(data)
                dst.receive_data(data)
        if not moved:
            break
    else:
        raise AssertionError("the recorded session did not settle")
    assert _auth(client).authenticated and not client.closed and not server.closed
    return {role: b"".join(chunks) for role, chunks in sent.items()}


def packets(stream: bytes) -> list[bytes]:
    """Cut a stream where its packets end (the version line, then uint32-length packets:
    with the null cipher and MAC every length is in the clear). Any cut of any bytes is
    valid input; this one delivers a recorded stream the way it was sent, packet by packet,
    so each side reacts before the next message arrives, as it did when recorded."""
    cut = stream.find(b"\n") + 1
    out = [stream[:cut]] if cut else []
    while cut < len(stream):
        length = int.from_bytes(stream[cut : cut + 4], "big")
        end = min(len(stream), cut + 4 + max(length, 1))
        out.append(stream[cut:end])
        cut = end
    return out


def replay(role: Role, stream: bytes) -> tuple[ConnectionCore, list[Event]]:
    """A fresh ``role`` fed ``stream`` (its peer's bytes) packet by packet, reacting as
    recorded; returns it with every event it emitted."""
    core = side(role)
    core.data_to_send()
    events = []
    for piece in packets(stream):
        core.receive_data(piece)
        events += drain(core)
        core.data_to_send()
        if core.closed:
            break
    return core, events


def after_first_newkeys(stream: bytes) -> int:
    """Where the encrypted (here: null-ciphered) part of a recorded stream starts. The
    plaintext NEWKEYS packet: length 12, padding length 10, number 21, 10 padding bytes."""
    return stream.index(b"\x00\x00\x00\x0c\x0a\x15") + 16
