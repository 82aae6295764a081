"""Fuzzing the inbound stream of each role: only typed disconnects, never another exception.

To reach the code behind key exchange, a test-only null cipher and MAC are registered
and both sides draw from a seeded rng, so a recorded stream replays exactly into a fresh
Transport; hypothesis then mutates it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transport_pair import server_config

from ssh_transport import ciphers, macs
from ssh_transport.config import TransportConfig
from ssh_transport.events import ConnectionTerminated, HostKeyReceived
from ssh_transport.transport import Role, Transport
from ssh_wire import DisconnectError

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
KEX = ["curve25519-sha256", "ecdh-sha2-nistp256", "diffie-hellman-group14-sha256",
       "diffie-hellman-group-exchange-sha256"]  # fmt: skip


@pytest.fixture(scope="module", autouse=True)
def null_cipher() -> Iterator[None]:
    ciphers.register_cipher(ciphers.NONE_CIPHER)
    macs.register_mac(macs.NONE_MAC)
    yield
    del ciphers._registry["none"]
    del macs._registry["none"]


def seeded(seed: int) -> Callable[[int], bytes]:
    """Bytes that depend only on the length asked for: a replay draws the same keys
    whatever else (padding) it drew before."""
    return lambda n: hashlib.shake_256(b"%d:%d" % (seed, n)).digest(n)


def make(role: Role, kex: str, null: bool) -> Transport:
    algs: dict[str, object] = {"kex_algorithms": kex}
    if null:
        algs.update(ciphers="none", macs="none")
    if role is Role.CLIENT:
        return Transport(role, TransportConfig(**algs), rng=seeded(1))  # type: ignore[arg-type]
    return Transport(role, server_config(**algs), rng=seeded(2))  # type: ignore[arg-type]


def replayer(role: Role, kex: str, null: bool) -> Transport:
    """A fresh side that will accept the recorded peer stream (the client asks for the
    service the recorded server accepts)."""
    t = make(role, kex, null)
    if role is Role.CLIENT:
        t.request_service("ssh-userauth")
    return t


def drain(t: Transport) -> list[ConnectionTerminated]:
    """Handle events as an application would; return the terminations."""
    ended = []
    while (event := t.next_event()) is not None:
        if isinstance(event, HostKeyReceived):
            t.accept_host_key()
        elif isinstance(event, ConnectionTerminated):
            ended.append(event)
    return ended


def record_session(kex: str, null: bool) -> dict[Role, bytes]:
    """Everything each side sends in a short session: handshake, service, data, rekey."""
    client, server = make(Role.CLIENT, kex, null), make(Role.SERVER, kex, null)
    sent: dict[Role, list[bytes]] = {Role.CLIENT: [], Role.SERVER: []}
    peers = {Role.CLIENT: (client, server), Role.SERVER: (server, client)}

    def pump() -> None:
        moved = True
        while moved:
            moved = False
            for role, (src, dst) in peers.items():
                data = src.data_to_send()
                if data:
                    moved = True
                    sent[role].append(data)
                    dst.receive_data(data)
                assert not drain(src)

    pump()
    client.request_service("ssh-userauth")
    pump()
    client.send_ping(b"ping")
    client.send_message(b"\x32" + bytes(20))
    server.send_message(b"\x34")
    pump()
    client.start_rekey()
    pump()
    client.send_message(b"\x5e" + b"data" * 10)
    server.send_message(b"\x5e" + b"more" * 10)
    pump()
    assert client.is_established and server.is_established
    return {role: b"".join(chunks) for role, chunks in sent.items()}


_SESSIONS: dict[tuple[str, bool], dict[Role, bytes]] = {}


def session(kex: str, null: bool) -> dict[Role, bytes]:
    key = (kex, null)
    if key not in _SESSIONS:
        _SESSIONS[key] = record_session(kex, null)
    return _SESSIONS[key]


def feed(role: Role, kex: str, null: bool, stream: bytes, chunk: int) -> None:
    """Feed ``stream`` to a fresh ``role``; the only allowed outcome is a typed one."""
    t = replayer(role, kex, null)
    t.data_to_send()
    for i in range(0, len(stream), chunk):
        t.receive_data(stream[i : i + chunk])
        for ended in drain(t):
            assert ended.error is None or isinstance(ended.error, DisconnectError)
        t.data_to_send()
        if t.closed:
            break
    assert len(t._in) <= t.config.max_packet_length + chunk + 4096


def test_replay_is_exact() -> None:
    """The recorded peer stream drives a fresh Transport all the way through."""
    for role in Role:
        peer = Role.SERVER if role is Role.CLIENT else Role.CLIENT
        t = replayer(role, "curve25519-sha256", True)
        t.receive_data(session("curve25519-sha256", True)[peer])
        assert not drain(t)
        assert t.is_established and not t.closed


@pytest.mark.parametrize("role", list(Role))
@SETTINGS
@given(data=st.binary(max_size=2000), chunk=st.integers(1, 700))
def test_random_bytes_after_version(role: Role, data: bytes, chunk: int) -> None:
    feed(role, "curve25519-sha256", False, b"SSH-2.0-fuzz\r\n" + data, chunk)


@pytest.mark.parametrize("role", list(Role))
@SETTINGS
@given(data=st.binary(max_size=600))
def test_random_bytes_as_version(role: Role, data: bytes) -> None:
    feed(role, "curve25519-sha256", False, data, 64)


def after_first_newkeys(stream: bytes) -> int:
    # The plaintext NEWKEYS packet: length 12, padding length 10, number 21, 10 bytes.
    return stream.index(b"\x00\x00\x00\x0c\x0a\x15") + 16


def test_post_kex_part_found() -> None:
    for role in Role:
        stream = session("curve25519-sha256", True)[role]
        cut = after_first_newkeys(stream)
        # With the null cipher the next packet is readable: EXT_INFO or SERVICE_REQUEST.
        assert stream[cut + 5] in (5, 7)


def mutate(stream: bytes, draw: st.DrawFn) -> bytes:
    data = bytearray(stream)
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        kind = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate", "dup"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set":
            data[pos] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[pos : pos + draw(st.integers(1, 16))]
        elif kind == "truncate":
            del data[pos:]
        else:
            end = min(len(data), pos + draw(st.integers(1, 64)))
            data[pos:pos] = data[pos:end]
    return bytes(data)


@pytest.mark.parametrize("kex", KEX)
@pytest.mark.parametrize("role", list(Role))
@settings(SETTINGS, max_examples=60)
@given(data=st.data(), chunk=st.sampled_from([1 << 20, 97, 1024]))
def test_mutated_valid_stream(kex: str, role: Role, data: st.DataObject, chunk: int) -> None:
    peer = Role.SERVER if role is Role.CLIENT else Role.CLIENT
    null = data.draw(st.booleans())
    stream = mutate(session(kex, null)[peer], data.draw)
    feed(role, kex, null, stream, chunk)


@pytest.mark.parametrize("role", list(Role))
@SETTINGS
@given(data=st.data())
def test_mutated_after_kex_null_cipher(role: Role, data: st.DataObject) -> None:
    """Mutations confined to the part after the first NEWKEYS, in the clear thanks to
    the null cipher: these reach the message handlers of an established connection."""
    peer = Role.SERVER if role is Role.CLIENT else Role.CLIENT
    stream = session("curve25519-sha256", True)[peer]
    cut = after_first_newkeys(stream)
    tail = mutate(stream[cut:], data.draw)
    feed(role, "curve25519-sha256", True, stream[:cut] + tail, 1 << 20)


@pytest.mark.parametrize("role", list(Role))
@SETTINGS
@given(payloads=st.lists(st.binary(min_size=1, max_size=64), min_size=1, max_size=8))
def test_random_payloads_sealed_after_kex(role: Role, payloads: list[bytes]) -> None:
    """Random but validly sealed messages after the handshake (null cipher, real framing)."""
    peer = Role.SERVER if role is Role.CLIENT else Role.CLIENT
    stream = session("curve25519-sha256", True)[peer]
    cut = after_first_newkeys(stream)
    from ssh_transport.packet import PacketSealer

    sealer = PacketSealer(ciphers.NONE_CIPHER, b"", b"", macs.NONE_MAC, b"")
    forged = b"".join(sealer.seal(0, p) for p in payloads)
    feed(role, "curve25519-sha256", True, stream[:cut] + forged, 1 << 20)
