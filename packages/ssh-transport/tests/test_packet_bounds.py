"""Declared packet lengths are checked before anything is buffered, in both roles and phases."""

from __future__ import annotations

import pytest
from transport_pair import Pair, connected, server_config

from ssh_transport.ciphers import cipher_spec
from ssh_transport.config import TransportConfig
from ssh_transport.events import HostKeyReceived
from ssh_transport.packet import DEFAULT_MAX_PACKET_LENGTH
from ssh_transport.transport import Role, Transport
from ssh_wire import DisconnectReason

MAX = DEFAULT_MAX_PACKET_LENGTH
BAD_LENGTHS = {
    "zero": 0,
    "four": 4,
    "over-max": MAX + 8,
    "huge": 0x7FFFFFF8,
    "2GiB": 1 << 31,
    "all-ones": 0xFFFFFFFF,
    "not-block-multiple": 1001,
}
# (cipher, mac): the three framings; how the length travels differs in each.
FRAMINGS = {
    "none": None,
    "chacha": ("chacha20-poly1305@openssh.com", "hmac-sha2-256"),
    "gcm": ("aes256-gcm@openssh.com", "hmac-sha2-256"),
    "ctr-etm": ("aes128-ctr", "hmac-sha2-256-etm@openssh.com"),
    "ctr-classic": ("aes128-ctr", "hmac-sha2-256"),
    "cbc-classic": ("aes256-cbc", "hmac-sha1"),
}


def configs(framing: str) -> tuple[TransportConfig, TransportConfig]:
    algs = FRAMINGS[framing]
    if algs is None:
        return TransportConfig(), server_config()
    cipher, mac = algs
    return (
        TransportConfig(ciphers=[cipher], macs=[mac]),
        server_config(ciphers=f"+{cipher}", macs=f"+{mac}"),
    )


def forged_header(sender: Transport, length: int) -> bytes:
    """The first bytes of a packet from ``sender`` that declares ``length``, as its
    current keys would encrypt them (no MAC: the length is checked before the MAC)."""
    sealer = sender._sealer
    raw = length.to_bytes(4, "big")
    if sealer.cipher.aead:
        return sealer._aead.seal(sender._send_seq, raw, bytes(16))[:4] + bytes(60)
    assert sealer.mac is not None
    if sealer.mac.etm or sealer.cipher.name == "none":
        return raw + bytes(60)  # the length travels in the clear
    block = max(sealer.cipher.block_size, 8)
    return sealer._encrypt(raw + bytes(block - 4)) + bytes(64)


def receiver_after_version(role: Role) -> tuple[Transport, Transport]:
    pair = Pair()
    receiver = pair.side(role)
    sender = pair.peer(role)
    version = sender.data_to_send().split(b"\r\n", 1)[0] + b"\r\n"
    receiver.receive_data(version)
    return receiver, sender


def events_error(t: Transport) -> DisconnectReason:
    from ssh_transport.events import ConnectionTerminated

    found = []
    while (e := t.next_event()) is not None:
        if isinstance(e, ConnectionTerminated):
            found.append(e)
    assert len(found) == 1 and found[0].error is not None
    return DisconnectReason(found[0].error.reason)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("length", BAD_LENGTHS.values(), ids=list(BAD_LENGTHS))
def test_bad_length_before_kex(role: Role, length: int) -> None:
    receiver, _ = receiver_after_version(role)
    receiver.receive_data(length.to_bytes(4, "big") + bytes(4))
    assert receiver.closed
    assert events_error(receiver) == DisconnectReason.PROTOCOL_ERROR
    assert len(receiver._in) <= 8


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("framing", [f for f in FRAMINGS if f != "none"])
@pytest.mark.parametrize("length", BAD_LENGTHS.values(), ids=list(BAD_LENGTHS))
def test_bad_length_after_kex(role: Role, framing: str, length: int) -> None:
    pair = connected(*configs(framing))
    receiver, sender = pair.side(role), pair.peer(role)
    header = forged_header(sender, length)
    receiver.receive_data(header)
    assert receiver.closed, (framing, length)
    assert events_error(receiver) == DisconnectReason.PROTOCOL_ERROR


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("framing", list(FRAMINGS))
def test_streaming_into_declared_max_packet(role: Role, framing: str) -> None:
    """A packet of exactly the maximum length is buffered, never more; then it fails."""
    if framing == "none":
        receiver, sender = receiver_after_version(role)
        block = 8
    else:
        pair = connected(*configs(framing))
        receiver, sender = pair.side(role), pair.peer(role)
        block = receiver._opener._block
    spec = receiver._opener.cipher
    length = MAX - (MAX % block)
    if not spec.aead and not (receiver._opener.mac and receiver._opener.mac.etm):
        length -= 4  # classic framing aligns length field + packet
    receiver.receive_data(forged_header(sender, length))
    assert not receiver.closed
    chunk = bytes(16 * 1024)
    peak = 0
    for _ in range(400):  # 6.4 MB offered, far past one packet
        if receiver.closed:
            break
        receiver.receive_data(chunk)
        peak = max(peak, len(receiver._in))
    assert receiver.closed
    assert peak <= MAX + 4 + 64 + len(chunk) + 64
    reason = events_error(receiver)
    # Zero bytes are neither a valid MAC nor valid padding.
    assert reason in (DisconnectReason.MAC_ERROR, DisconnectReason.PROTOCOL_ERROR)
    if framing != "none":
        assert reason == DisconnectReason.MAC_ERROR


def test_smaller_configured_maximum() -> None:
    config = TransportConfig(max_packet_length=4096)
    pair = Pair(config, server_config())
    receiver, sender = pair.client, pair.server
    receiver.receive_data(sender.data_to_send().split(b"\r\n", 1)[0] + b"\r\n")
    receiver.receive_data((4096 + 8).to_bytes(4, "big") + bytes(4))
    assert events_error(receiver) == DisconnectReason.PROTOCOL_ERROR


def test_big_messages_within_limit_pass() -> None:
    pair = connected()
    payload = b"\x5e" + bytes(MAX - 1024)
    pair.client.send_message(payload)
    pair.pump()
    assert not pair.server.closed


def test_client_waiting_for_host_key_decision_does_not_buffer_forever() -> None:
    pair = Pair(auto_accept=False)
    pair.pump()
    assert pair.of_type(Role.CLIENT, HostKeyReceived)
    chunk = bytes(64 * 1024)
    sent = 0
    while not pair.client.closed and sent < 100:
        pair.client.receive_data(chunk)
        sent += 1
    assert pair.client.closed
    assert sent * len(chunk) <= 2 * MAX + len(chunk)
    pair.collect()
    error = pair.terminated(Role.CLIENT).error
    assert error is not None and error.reason == DisconnectReason.PROTOCOL_ERROR


def test_block_sizes_are_what_the_framings_assume() -> None:
    assert cipher_spec("aes128-ctr").block_size == 16
    assert cipher_spec("chacha20-poly1305@openssh.com").block_size == 8
