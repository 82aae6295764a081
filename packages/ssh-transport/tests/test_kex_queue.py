"""Messages held back during a key exchange are bounded, in count and in bytes."""

from __future__ import annotations

import pytest
from transport_pair import connected

from ssh_transport import Role
from ssh_transport.events import MessageReceived
from ssh_transport.transport import MAX_QUEUED_BYTES, MAX_QUEUED_MESSAGES
from ssh_wire import DisconnectReason, LocalProtocolError

_CHUNK = 256 * 1024


def test_sending_past_the_byte_bound_during_rekey_raises_locally() -> None:
    pair = connected()
    pair.client.start_rekey()  # our KEXINIT is out: upper-layer messages now wait
    payload = bytes([94]) + bytes(_CHUNK - 1)
    for _ in range(MAX_QUEUED_BYTES // _CHUNK):
        pair.client.send_message(payload)
    with pytest.raises(LocalProtocolError, match="key exchange"):
        pair.client.send_message(payload)
    assert pair.client.queued_bytes == MAX_QUEUED_BYTES


def test_sending_past_the_count_bound_during_rekey_raises_locally() -> None:
    pair = connected()
    pair.client.start_rekey()
    for _ in range(MAX_QUEUED_MESSAGES):
        pair.client.send_message(bytes([94]))
    with pytest.raises(LocalProtocolError):
        pair.client.send_message(bytes([94]))
    assert pair.client.queued_messages == MAX_QUEUED_MESSAGES


def test_the_connection_survives_an_over_full_queue_and_delivers_what_it_held() -> None:
    pair = connected()
    pair.client.start_rekey()
    for i in range(MAX_QUEUED_MESSAGES):
        pair.client.send_message(bytes([94]) + i.to_bytes(2, "big"))
    with pytest.raises(LocalProtocolError):
        pair.client.send_message(bytes([94]))
    pair.pump()
    assert not pair.client.closed and not pair.server.closed
    got = [e.payload for e in pair.of_type(Role.SERVER, MessageReceived)]
    assert got == [bytes([94]) + i.to_bytes(2, "big") for i in range(MAX_QUEUED_MESSAGES)]
    assert pair.client.queued_bytes == 0
    pair.client.send_message(bytes([94]))  # room again once the exchange is over


def test_a_peer_making_us_queue_answers_during_rekey_is_disconnected() -> None:
    pair = connected()
    pair.server.start_rekey()
    pair.server.data_to_send()  # the server's KEXINIT never reaches the client
    for _ in range(MAX_QUEUED_MESSAGES + 1):
        pair.client.send_ping(b"x")  # the server holds back each PONG
    pair.server.receive_data(pair.client.data_to_send())
    pair.collect()
    error = pair.terminated(Role.SERVER).error
    assert error is not None and error.reason == DisconnectReason.PROTOCOL_ERROR


def test_messages_after_the_first_kex_are_not_held() -> None:
    pair = connected()
    pair.client.send_message(bytes([94]) + bytes(1000))
    assert pair.client.queued_bytes == 0
