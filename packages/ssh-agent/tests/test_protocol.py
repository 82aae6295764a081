"""Wire structures, framing, and hostile input into both cores."""

from __future__ import annotations

import contextlib
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssh_agent import AgentClientCore, AgentError, AgentProtocolError, AgentServerCore, KeyStore
from ssh_agent.protocol import (
    MAX_MESSAGE,
    Constraints,
    FrameBuffer,
    Identity,
    decode_identities,
    encode_constraints,
    encode_identities,
    frame,
    read_constraints,
)
from ssh_keys import generate_private_key
from ssh_keys.private_wire import write_private_fields
from ssh_wire import DecodeError, Reader, Writer

FAILURE = frame(b"\x05")
_KEY = generate_private_key("ed25519", comment="fuzz")


def test_identities_round_trip():
    idents = [Identity(b"blob1", "c1"), Identity(b"\x00" * 40, "")]
    assert decode_identities(encode_identities(idents)) == idents


def test_identities_count_checked_before_looping():
    with pytest.raises(DecodeError):
        decode_identities(b"\x0c\xff\xff\xff\xff")


@settings(max_examples=50, deadline=None)
@given(
    lifetime=st.none() | st.integers(0, 2**32 - 1),
    confirm=st.booleans(),
    maxsign=st.none() | st.integers(0, 2**32 - 1),
)
def test_constraints_round_trip(lifetime, confirm, maxsign):
    c = Constraints(lifetime=lifetime, confirm=confirm, maxsign=maxsign)
    r = Reader(encode_constraints(c))
    assert read_constraints(r) == c


def test_associated_certs_round_trip():
    c = Constraints(associated_certs=(b"cert1", b"cert2"), certs_only=True)
    assert read_constraints(Reader(encode_constraints(c))) == c


@pytest.mark.parametrize(
    "data",
    [
        b"\x01\x00\x00\x00\x05\x01\x00\x00\x00\x06",  # lifetime twice
        b"\x02\x02",  # confirm twice
        b"\x07",  # unknown type
        b"\x01\x00\x00",  # truncated
    ],
)
def test_bad_constraints(data):
    with pytest.raises(DecodeError):
        read_constraints(Reader(data))


def test_frame_buffer_limits():
    fb = FrameBuffer()
    fb.feed(frame(b"a") + frame(b"bc") + b"\x00\x00")
    assert fb.next_message() == b"a"
    assert fb.next_message() == b"bc"
    assert fb.next_message() is None
    fb.feed(b"\x00\x01x")
    assert fb.next_message() == b"x"
    fb.feed((MAX_MESSAGE + 1).to_bytes(4, "big"))
    with pytest.raises(AgentProtocolError):
        fb.next_message()


def _valid_requests() -> list[bytes]:
    add = b"\x11" + write_private_fields(_KEY) + Writer().string(b"c").getvalue()
    return [
        b"\x0b",
        b"\x0d" + Writer().string(_KEY.public_key.blob).string(b"data").uint32(0).getvalue(),
        add,
        b"\x19" + add[1:] + b"\x01\x00\x00\x00\x10\x02",
        b"\x12" + Writer().string(_KEY.public_key.blob).getvalue(),
        b"\x16" + Writer().string(b"pw").getvalue(),
        b"\x1b" + Writer().string(b"query").getvalue(),
    ]


def _server_with_key() -> tuple[AgentServerCore, KeyStore]:
    store = KeyStore()
    store.add(_KEY, "fuzz", now=0)
    return AgentServerCore(store), store


def _check_only_failure(payload: bytes) -> None:
    server, store = _server_with_key()
    server.receive_data(frame(payload), 1.0)
    assert server.internal_errors == 0
    assert server.data_to_send() == FAILURE
    assert [k.blob for k in store.identities()] == [_KEY.public_key.blob]
    assert not store.locked


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_payloads_answer_failure(data):
    # Requests that could succeed by chance (list, lock, query...) are excluded.
    if data[:1] in (b"\x0b", b"\x16", b"\x1b", b"\x13"):
        data = b"\x63" + data[1:]
    _check_only_failure(data)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_requests_never_crash(data):
    payload = bytearray(data.draw(st.sampled_from(_valid_requests())))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(payload) - 1))
        payload[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(payload)))
    server, _store = _server_with_key()
    server.receive_data(frame(bytes(payload[:cut])), 1.0)
    assert server.internal_errors == 0
    out = server.data_to_send()
    assert len(out) >= 5
    assert int.from_bytes(out[:4], "big") == len(out) - 4


def test_every_truncation_of_add_fails_and_adds_nothing():
    add = _valid_requests()[2]
    for cut in range(1, len(add)):
        server = AgentServerCore(KeyStore())
        server.receive_data(frame(add[:cut]), 1.0)
        assert server.data_to_send() == FAILURE
        assert len(server.keystore) == 0


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_client_core_survives_garbage_replies(data):
    core = AgentClientCore()
    replies = [core.request_identities(), core.sign(b"k", b"d"), core.query_extensions()]
    core.data_to_send()
    core.receive_data(frame(data) + frame(os.urandom(8)) + frame(data))
    for reply in replies:
        assert reply.done
        with contextlib.suppress(AgentError):  # anything else fails the test
            reply.result()


def test_client_core_unsolicited_reply_breaks():
    core = AgentClientCore()
    core.receive_data(frame(b"\x06"))
    assert core.broken
    with pytest.raises(AgentProtocolError):
        core.request_identities().result()
