"""Strict key exchange, the Terrapin countermeasure (OpenSSH PROTOCOL 1.10), in both roles."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from transport_pair import Pair, plain_packet, record, server_config

from ssh_transport.config import TransportConfig
from ssh_transport.events import ExtInfoReceived, KexComplete
from ssh_transport.messages import Debug, Ignore, KexInit, Unimplemented
from ssh_transport.transport import Role
from ssh_wire import DisconnectReason

INJECTED = {
    "ignore": Ignore(b"x").encode(),
    "debug": Debug(False, "hi", "").encode(),
    "unimplemented": Unimplemented(0).encode(),
    "unknown-15": b"\x0f",
    "unknown-200": b"\xc8abc",
}
KEXINIT, NEWKEYS = 20, 21


def plain_number(packet: bytes) -> int:
    """Message number of a packet sent before NEWKEYS (length, padding length, payload)."""
    return packet[5]


def insert_after(
    sender: Role, number: int, extra: bytes
) -> Callable[[Role, int, bytes], list[bytes]]:
    """Tamper: put ``extra`` right after the first plaintext packet ``number`` of ``sender``
    (number None: right after the version line)."""
    done = False

    def tamper(role: Role, index: int, packet: bytes) -> list[bytes]:
        nonlocal done
        if role is not sender or done:
            return [packet]
        if (number == -1 and index == 0) or (index > 0 and plain_number(packet) == number):
            done = True
            return [packet, extra]
        return [packet]

    return tamper


# Positions: after the version line (before KEXINIT), after KEXINIT (during kex), after the
# first kex method message (still before NEWKEYS).
POSITIONS = {"before-kexinit": -1, "after-kexinit": KEXINIT, "after-kex-message": None}


def kex_message_number(role: Role) -> int:
    return 30 if role is Role.CLIENT else 31


@pytest.mark.parametrize("sender", list(Role))
@pytest.mark.parametrize("position", list(POSITIONS))
@pytest.mark.parametrize("what", list(INJECTED))
def test_injection_in_first_kex_disconnects(sender: Role, position: str, what: str) -> None:
    pair = Pair()
    number = POSITIONS[position]
    if number is None:
        number = kex_message_number(sender)
    pair.tamper = insert_after(sender, number, plain_packet(INJECTED[what]))
    pair.pump()
    victim = pair.peer(sender).role
    error = pair.terminated(victim).error
    assert error is not None and error.local
    assert error.reason == DisconnectReason.PROTOCOL_ERROR
    assert not pair.client.is_established or not pair.server.is_established
    assert not pair.of_type(victim, KexComplete)


@pytest.mark.parametrize("strict_side", [None, Role.CLIENT, Role.SERVER])
def test_ignore_tolerated_without_strict(strict_side: Role | None) -> None:
    """With strict kex off on either side, an IGNORE before NEWKEYS passes (and so
    shifts sequence numbers: the first encrypted packet then fails its MAC)."""
    # EtM keeps the length in the clear, so the shifted sequence number shows as a MAC error.
    algs = {"ciphers": "aes128-ctr", "macs": "hmac-sha2-256-etm@openssh.com"}
    client_cfg = TransportConfig(strict_kex=strict_side is Role.CLIENT, **algs)
    server_cfg = server_config(strict_kex=strict_side is Role.SERVER, **algs)
    pair = Pair(client_cfg, server_cfg)
    pair.tamper = insert_after(Role.SERVER, KEXINIT, plain_packet(Ignore(b"").encode()))
    pair.pump()
    assert not pair.client.strict_kex and not pair.server.strict_kex
    error = pair.terminated(Role.CLIENT).error
    assert error is not None and error.reason == DisconnectReason.MAC_ERROR
    # The client got past the IGNORE and the whole plaintext phase.
    assert pair.of_type(Role.CLIENT, KexComplete)


def terrapin(pair: Pair) -> None:
    """Insert an IGNORE before the server's NEWKEYS, delete its EXT_INFO after it."""
    newkeys_seen = False
    injected = False

    def tamper(role: Role, index: int, packet: bytes) -> list[bytes]:
        nonlocal newkeys_seen, injected
        if role is not Role.SERVER or index == 0:
            return [packet]
        if newkeys_seen:
            newkeys_seen = False  # the first packet after NEWKEYS: EXT_INFO
            return []
        if plain_number(packet) == NEWKEYS and not injected:
            newkeys_seen = injected = True
        if plain_number(packet) == KEXINIT:
            return [packet, plain_packet(Ignore(b"").encode())]
        return [packet]

    pair.tamper = tamper


def test_terrapin_prefix_truncation_succeeds_without_strict_kex() -> None:
    """The attack the countermeasure exists for: chacha20-poly1305, no strict kex."""
    config = TransportConfig(strict_kex=False, ciphers="chacha20-poly1305@openssh.com")
    pair = Pair(config, server_config())
    terrapin(pair)
    pair.handshake()
    pair.open_service()
    assert not pair.of_type(Role.CLIENT, ExtInfoReceived)  # silently stripped
    assert not pair.client.closed


@pytest.mark.parametrize(
    "cipher", ["chacha20-poly1305@openssh.com", "aes128-ctr", "aes256-gcm@openssh.com"]
)
def test_terrapin_fails_with_strict_kex(cipher: str) -> None:
    pair = Pair(TransportConfig(ciphers=cipher), server_config())
    terrapin(pair)
    pair.pump()
    error = pair.terminated(Role.CLIENT).error
    assert error is not None and error.reason == DisconnectReason.PROTOCOL_ERROR
    assert not pair.of_type(Role.CLIENT, ExtInfoReceived)
    assert not pair.client.is_established


DROPPABLE = {Role.CLIENT: [KEXINIT, 30, NEWKEYS], Role.SERVER: [KEXINIT, 31, NEWKEYS]}


@pytest.mark.parametrize(
    ("sender", "number"), [(r, n) for r in Role for n in DROPPABLE[r]], ids=str
)
def test_dropped_packet_before_newkeys_fails(sender: Role, number: int) -> None:
    config = TransportConfig(handshake_timeout=60)
    pair = Pair(config, server_config(handshake_timeout=60))

    def tamper(role: Role, index: int, packet: bytes) -> list[bytes]:
        if role is sender and index > 0 and plain_number(packet) == number:
            return []
        return [packet]

    pair.tamper = tamper
    pair.pump()
    assert not (pair.client.is_established and pair.server.is_established)
    pair.client.handle_timer(60)
    pair.server.handle_timer(60)
    pair.pump()
    # Either a side notices at once (a message out of place, a packet that does not
    # decrypt) or the handshake stalls until its deadline; both sides end up closed.
    failures = (
        DisconnectReason.KEY_EXCHANGE_FAILED,
        DisconnectReason.PROTOCOL_ERROR,
        DisconnectReason.MAC_ERROR,
    )
    for role in Role:
        error = pair.terminated(role).error
        assert error is not None and error.reason in failures


def test_dropped_ignore_without_strict_is_a_mac_error() -> None:
    """Without strict kex the sequence numbers still catch a deleted plaintext packet."""
    algs = {"ciphers": "aes128-ctr", "macs": "hmac-sha2-256-etm@openssh.com"}
    pair = Pair(TransportConfig(strict_kex=False, **algs), server_config(strict_kex=False))
    pair.server._send_packet(Ignore(b"").encode())  # a plaintext IGNORE before KEXINIT ends

    def tamper(role: Role, index: int, packet: bytes) -> list[bytes]:
        if role is Role.SERVER and index == 2:  # version, KEXINIT, the IGNORE
            return []
        return [packet]

    pair.tamper = tamper
    pair.pump()
    error = pair.terminated(Role.CLIENT).error
    assert error is not None and error.reason == DisconnectReason.MAC_ERROR


def test_sequence_numbers_reset_after_each_newkeys() -> None:
    pair = Pair()
    client_log = record(pair.client)
    server_log = record(pair.server)
    pair.handshake()
    # Plaintext: KEXINIT 0, kex message 1, NEWKEYS 2. Then EXT_INFO starts again at 0
    # (the client's announces ext-info-in-auth@openssh.com).
    assert [(s, p[0]) for s, p in client_log] == [(0, 20), (1, 31), (2, 21), (0, 7)]
    assert [(s, p[0]) for s, p in server_log] == [(0, 20), (1, 30), (2, 21), (0, 7)]
    assert pair.client._send_seq == 1 and pair.server._recv_seq == 1
    pair.open_service()
    for i in range(3):
        client_log.clear()
        server_log.clear()
        pair.client.send_message(b"\x5e")
        (pair.client if i % 2 else pair.server).start_rekey()
        pair.server.send_message(b"\x5f")
        pair.pump()
        pair.client.send_message(b"\x60")
        pair.server.send_message(b"\x61")
        pair.pump()
        # After each NEWKEYS the next packet is numbered 0 again, in both directions.
        for log in (client_log, server_log):
            numbers = [p[0] for _, p in log]
            after = numbers.index(NEWKEYS) + 1
            assert log[after][0] == 0 and log[after - 1][0] > 0
        assert pair.client._send_seq == pair.server._recv_seq
        assert pair.server._send_seq == pair.client._recv_seq


def test_sequence_numbers_continue_without_strict() -> None:
    pair = Pair(TransportConfig(strict_kex=False))
    client_log = record(pair.client)
    pair.handshake()
    assert [(s, p[0]) for s, p in client_log] == [(0, 20), (1, 31), (2, 21), (3, 7)]
    pair.client.start_rekey()
    pair.pump()
    assert pair.client._send_seq > 3


def test_kexinit_not_first_packet() -> None:
    pair = Pair()
    pair.tamper = insert_after(Role.CLIENT, -1, plain_packet(Ignore(b"").encode()))
    pair.pump()
    error = pair.terminated(Role.SERVER).error
    assert error is not None and error.reason == DisconnectReason.PROTOCOL_ERROR
    assert "first" in error.description


def test_sequence_wrap_in_first_kex_disconnects() -> None:
    pair = Pair()

    def tamper(role: Role, index: int, packet: bytes) -> list[bytes]:
        if role is Role.CLIENT and index > 0 and plain_number(packet) == 30:
            pair.server._recv_seq = 0xFFFFFFFF  # this packet is numbered 2**32 - 1
        return [packet]

    pair.tamper = tamper
    pair.pump()
    error = pair.terminated(Role.SERVER).error
    assert error is not None and error.reason == DisconnectReason.PROTOCOL_ERROR
    assert "wrapped" in error.description


def test_sequence_wrap_without_strict_is_fine() -> None:
    pair = Pair(TransportConfig(strict_kex=False))

    def tamper(role: Role, index: int, packet: bytes) -> list[bytes]:
        if role is Role.CLIENT and index > 0 and plain_number(packet) == 30:
            pair.server._recv_seq = 0xFFFFFFFF
            pair.client._send_seq = 0  # the packet after 2**32 - 1
        return [packet]

    pair.tamper = tamper
    pair.handshake()
    pair.open_service()
    assert not pair.server.closed


def strict_marker_in_rekey(role: Role, pair: Pair) -> None:
    """Make ``role`` put its strict marker in every KEXINIT, not just the first."""
    handshake = pair.side(role)._handshake
    original = handshake.kexinit
    marker = (
        "kex-strict-c-v00@openssh.com" if role is Role.CLIENT else ("kex-strict-s-v00@openssh.com")
    )

    def kexinit() -> KexInit:
        msg = original()
        if marker in msg.kex_algorithms:
            return msg
        return replace(msg, kex_algorithms=(*msg.kex_algorithms, marker))

    handshake.kexinit = kexinit  # type: ignore[method-assign]


@pytest.mark.parametrize("late", list(Role))
def test_markers_only_count_in_first_kexinit(late: Role) -> None:
    configs = {Role.CLIENT: TransportConfig(), Role.SERVER: server_config()}
    configs[late].strict_kex = False
    pair = Pair(configs[Role.CLIENT], configs[Role.SERVER]).handshake()
    assert not pair.client.strict_kex and not pair.server.strict_kex
    strict_marker_in_rekey(late, pair)
    pair.side(late).start_rekey()
    pair.pump()
    assert not pair.client.strict_kex and not pair.server.strict_kex
    assert pair.client._send_seq != 0  # not reset: the session is still not strict
    pair.open_service()
    assert not pair.client.closed and not pair.server.closed


def test_rekey_kexinit_carries_no_markers() -> None:
    pair = Pair().handshake()
    pair.open_service()
    log = record(pair.server)
    pair.client.start_rekey()
    pair.pump()
    (kexinit,) = [KexInit.decode(p) for _, p in log if p[0] == KEXINIT]
    assert not any("strict" in n or n.startswith("ext-info") for n in kexinit.kex_algorithms)


@pytest.mark.parametrize("what", ["ignore", "debug", "unimplemented"])
def test_ignore_during_rekey_is_fine(what: str) -> None:
    """Strictness covers the first kex only; later exchanges tolerate IGNORE and friends."""
    pair = Pair().handshake()
    pair.open_service()
    pair.client.start_rekey()
    pair.client._send_packet(INJECTED[what])
    pair.pump()
    assert not pair.server.closed and len(pair.of_type(Role.SERVER, KexComplete)) == 2
