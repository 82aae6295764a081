"""Userauth message schemas: round trips, per-state decoding of 60, strict and total decoding."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssh_auth import messages as m
from ssh_wire import DecodeError, MessageTable, Reader, decode_message

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-@.", min_size=1, max_size=40)
texts = st.text(max_size=60)
blobs = st.binary(max_size=80)
SETTINGS = settings(max_examples=60, deadline=None)

TAILS = {
    m.NONE: st.just(m.NoneTail()),
    m.PASSWORD: st.one_of(
        st.builds(m.PasswordTail, st.just(False), blobs),
        st.builds(m.PasswordChangeTail, st.just(True), blobs, blobs),
    ),
    m.PUBLICKEY: st.one_of(
        st.builds(m.PublickeyQueryTail, st.just(False), names, blobs),
        st.builds(m.PublickeySignedTail, st.just(True), names, blobs, blobs),
    ),
    m.PUBLICKEY_HOSTBOUND: st.one_of(
        st.builds(m.HostboundQueryTail, st.just(False), names, blobs, blobs),
        st.builds(m.HostboundSignedTail, st.just(True), names, blobs, blobs, blobs),
    ),
    m.KEYBOARD_INTERACTIVE: st.builds(m.KeyboardInteractiveTail, texts, texts),
    m.HOSTBASED: st.builds(m.HostbasedTail, names, blobs, names, texts, blobs),
}
requests = st.sampled_from(sorted(TAILS)).flatmap(
    lambda method: st.tuples(texts, names, st.just(method), TAILS[method])
)


@SETTINGS
@given(requests)
def test_request_round_trip(req: tuple[str, str, str, m.MethodTail]) -> None:
    user, service, method, tail = req
    payload = m.request(user, service, method, tail)
    msg = m.UserauthRequest.decode(payload)
    assert (msg.username, msg.service, msg.method) == (user, service, method)
    assert m.decode_tail(method, msg.method_data) == tail


@SETTINGS
@given(requests, st.data())
def test_mutated_requests_raise_only_decode_error(
    req: tuple[str, str, str, m.MethodTail], data: st.DataObject
) -> None:
    payload = bytearray(m.request(*req))
    i = data.draw(st.integers(0, len(payload) - 1))
    payload[i] ^= data.draw(st.integers(1, 255))
    cut = data.draw(st.integers(0, len(payload)))
    for candidate in (bytes(payload), bytes(payload[:cut])):
        try:
            msg = decode_message(candidate, m.SERVER_KBDINT)
            if isinstance(msg, m.UserauthRequest):
                m.decode_tail(msg.method, msg.method_data)
            else:
                m.decode_info_response(candidate)
        except DecodeError:
            pass


@SETTINGS
@given(texts, texts, st.lists(st.tuples(texts, st.booleans()), max_size=5))
def test_info_request_round_trip(
    name: str, instruction: str, prompts: list[tuple[str, bool]]
) -> None:
    payload = m.encode_info_request(name, instruction, tuple(prompts))
    info = m.decode_info_request(payload)
    assert (info.name, info.instruction, info.prompts) == (name, instruction, tuple(prompts))


@SETTINGS
@given(st.lists(texts, max_size=5))
def test_info_response_round_trip(responses: list[str]) -> None:
    raw = m.decode_info_response(m.encode_info_response(responses))
    assert [r.decode() for r in raw] == responses


def test_sixty_depends_on_the_state() -> None:
    pk_ok = m.UserauthPkOk("ssh-ed25519", b"blob").encode()
    assert isinstance(decode_message(pk_ok, m.CLIENT_PK_OK), m.UserauthPkOk)
    change = m.UserauthPasswdChangereq("expired", "").encode()
    assert isinstance(decode_message(change, m.CLIENT_PASSWORD), m.UserauthPasswdChangereq)
    info = m.encode_info_request("", "", ())
    assert isinstance(decode_message(info, m.CLIENT_KBDINT), m.UserauthInfoRequest)
    for table in (m.CLIENT_RESULT, m.CLIENT_IDLE, m.SERVER_REQUEST, m.SERVER_KBDINT):
        with pytest.raises(DecodeError):
            decode_message(pk_ok, table)


def test_strict_tails() -> None:
    tail = m.PublickeyQueryTail(False, "ssh-ed25519", b"k").encode()
    with pytest.raises(DecodeError):
        m.decode_tail(m.PUBLICKEY, tail + b"\x00")  # trailing bytes
    with pytest.raises(DecodeError):
        m.decode_tail(m.PUBLICKEY, b"\x02" + tail[1:])  # boolean 2
    with pytest.raises(DecodeError):
        m.decode_tail(m.NONE, b"x")
    assert m.decode_tail("gssapi-with-mic", b"anything") is None


def test_prompt_and_response_counts_are_bounded() -> None:
    huge = m.UserauthInfoRequest("", "", "", 0xFFFFFFFF, b"").encode()
    with pytest.raises(DecodeError):
        m.decode_info_request(huge)
    with pytest.raises(DecodeError):
        m.decode_info_response(m.UserauthInfoResponse(101, b"").encode())
    with pytest.raises(DecodeError):
        m.decode_info_response(m.UserauthInfoResponse(2, b"\x00\x00\x00\x00").encode())


def test_signed_data_layout() -> None:
    """RFC 4252 section 7 field by field (and PROTOCOL 2.5's extra host key)."""
    data = m.publickey_signed_data(b"SID", "u", "ssh-connection", m.PUBLICKEY_HOSTBOUND,
                                   "ssh-ed25519", b"KEY", b"HOST")  # fmt: skip
    r = Reader(data)
    assert r.string() == b"SID"
    assert r.byte() == 50
    assert r.text() == "u" and r.ascii() == "ssh-connection"
    assert r.ascii() == m.PUBLICKEY_HOSTBOUND
    assert r.boolean() is True
    assert r.ascii() == "ssh-ed25519" and r.string() == b"KEY" and r.string() == b"HOST"
    assert r.at_end()
    data = m.hostbased_signed_data(b"SID", "u", "svc", "ssh-ed25519", b"KEY", "h.example.", "cu")
    r = Reader(data)
    assert [r.string(), r.byte(), r.text(), r.ascii(), r.ascii(), r.ascii(), r.string(),
            r.ascii(), r.text()] == [b"SID", 50, "u", "svc", "hostbased", "ssh-ed25519", b"KEY",
                                     "h.example.", "cu"]  # fmt: skip
    assert r.at_end()


def test_tables_do_not_overlap_roles() -> None:
    for table in (m.SERVER_REQUEST, m.SERVER_KBDINT):
        assert not ({51, 52, 53, 60} & set(table.numbers))
    assert isinstance(m.CLIENT_IDLE, MessageTable)
