"""The server core driven by the client core, in memory: every request and refusal."""

from __future__ import annotations

import pytest

from ssh_agent import (
    AgentFailure,
    AgentServerCore,
    ConfirmationRequested,
    ConnectionClosed,
    Constraints,
    KeyStore,
    destination,
)
from ssh_agent.protocol import MAX_MESSAGE, AgentMessage, Failure, frame
from ssh_keys import SignatureInvalid, generate_private_key
from ssh_wire import Writer


def test_add_list_sign_remove(pair, ed_key, ec_key):
    pair.call(pair.client.add_identity(ed_key, "first"))
    pair.call(pair.client.add_identity(ec_key, "second"))
    idents = pair.call(pair.client.request_identities())
    assert [(i.blob, i.comment) for i in idents] == [
        (ed_key.public_key.blob, "first"),
        (ec_key.public_key.blob, "second"),
    ]
    sig = pair.call(pair.client.sign(ec_key.public_key.blob, b"data"))
    ec_key.public_key.verify(b"data", sig)
    pair.call(pair.client.remove_identity(ed_key.public_key.blob))
    assert [i.blob for i in pair.call(pair.client.request_identities())] == [ec_key.public_key.blob]
    with pytest.raises(AgentFailure):
        pair.call(pair.client.remove_identity(ed_key.public_key.blob))
    pair.call(pair.client.remove_all())
    assert pair.call(pair.client.request_identities()) == []


def test_readding_replaces_comment_and_constraints(pair, ed_key):
    pair.call(pair.client.add_identity(ed_key, "a", Constraints(confirm=True)))
    pair.call(pair.client.add_identity(ed_key, "b"))
    assert len(pair.store) == 1
    entry = pair.store.get(ed_key.public_key.blob)
    assert entry is not None
    assert entry.comment == "b"
    assert not entry.confirm


@pytest.mark.parametrize(
    ("flags", "algorithm"), [(2, "rsa-sha2-256"), (4, "rsa-sha2-512"), (6, "rsa-sha2-512")]
)
def test_rsa_flags_choose_hash(pair, rsa_key, flags, algorithm):
    pair.call(pair.client.add_identity(rsa_key))
    sig = pair.call(pair.client.sign(rsa_key.public_key.blob, b"x", flags))
    assert sig[4 : 4 + len(algorithm)] == algorithm.encode()
    rsa_key.public_key.verify(b"x", sig)


def test_rsa_without_flags_signs_sha1(pair, rsa_key):
    # The protocol's meaning of no flags; ssh-add -T asks this way.
    pair.call(pair.client.add_identity(rsa_key))
    sig = pair.call(pair.client.sign(rsa_key.public_key.blob, b"x", 0))
    assert sig[4:11] == b"ssh-rsa"
    with pytest.raises(SignatureInvalid):
        rsa_key.public_key.verify(b"x", sig)  # SHA-1: refused unless allowed
    rsa_key.public_key.verify(b"x", sig, allow_sha1=True)


def test_sign_unknown_key_fails(pair, ed_key):
    with pytest.raises(AgentFailure):
        pair.call(pair.client.sign(ed_key.public_key.blob, b"x"))


def test_lifetime_expires_with_time_passed_in(pair, ed_key, ec_key):
    pair.call(pair.client.add_identity(ed_key, "", Constraints(lifetime=10)))
    pair.call(pair.client.add_identity(ec_key))
    assert pair.server.get_timer() == pair.now + 10
    pair.now += 9.5
    assert len(pair.call(pair.client.request_identities())) == 2
    pair.now += 1
    assert [i.blob for i in pair.call(pair.client.request_identities())] == [ec_key.public_key.blob]
    with pytest.raises(AgentFailure):
        pair.call(pair.client.sign(ed_key.public_key.blob, b"x"))


def test_default_lifetime(make_pair, ed_key):
    p = make_pair(KeyStore(default_lifetime=5))
    p.call(p.client.add_identity(ed_key))
    p.server.handle_timer(p.now + 5)
    assert len(p.store) == 0


def test_lock_unlock(pair, ed_key):
    pair.call(pair.client.add_identity(ed_key))
    pair.call(pair.client.lock(b"secret"))
    assert pair.call(pair.client.request_identities()) == []
    for refused in (
        pair.client.sign(ed_key.public_key.blob, b"x"),
        pair.client.lock(b"again"),
        pair.client.remove_all(),
        pair.client.unlock(b"wrong"),
        pair.client.add_identity(ed_key),
    ):
        with pytest.raises(AgentFailure):
            pair.call(refused)
    assert len(pair.store) == 1
    pair.call(pair.client.unlock(b"secret"))
    assert len(pair.call(pair.client.request_identities())) == 1
    with pytest.raises(AgentFailure):
        pair.call(pair.client.unlock(b"secret"))  # not locked any more


def test_lock_keeps_only_a_hash(ed_key):
    store = KeyStore()
    store.lock(b"hunter2")
    assert b"hunter2" not in repr(vars(store)).encode()


def test_confirm_event_pauses_until_answered(pair, ed_key):
    pair.call(pair.client.add_identity(ed_key, "c", Constraints(confirm=True)))
    first = pair.client.sign(ed_key.public_key.blob, b"one")
    second = pair.client.request_identities()
    pair.pump()
    event = pair.server.next_event()
    assert isinstance(event, ConfirmationRequested)
    assert event.comment == "c"
    assert event.fingerprint == ed_key.public_key.fingerprint()
    assert not first.done
    assert not second.done
    pair.server.answer_confirmation(True, pair.now)
    pair.pump()
    ed_key.public_key.verify(b"one", first.result())
    assert len(second.result()) == 1

    denied = pair.client.sign(ed_key.public_key.blob, b"two")
    pair.pump()
    assert isinstance(pair.server.next_event(), ConfirmationRequested)
    pair.server.answer_confirmation(False, pair.now)
    pair.pump()
    with pytest.raises(AgentFailure):
        denied.result()


def test_confirmed_key_removed_meanwhile_fails(pair, ed_key):
    pair.call(pair.client.add_identity(ed_key, "c", Constraints(confirm=True)))
    reply = pair.client.sign(ed_key.public_key.blob, b"one")
    pair.pump()
    pair.store.remove_all()  # e.g. another connection ran ssh-add -D
    pair.server.answer_confirmation(True, pair.now)
    pair.pump()
    with pytest.raises(AgentFailure):
        reply.result()


def test_forwarded_connection_cannot_change_keys(make_pair, ed_key, ec_key):
    store = KeyStore()
    store.add(ed_key, "kept", now=0)
    p = make_pair(store, forwarded=True)
    for refused in (
        p.client.add_identity(ec_key),
        p.client.add_identity(ec_key, "", Constraints(lifetime=5)),
        p.client.remove_identity(ed_key.public_key.blob),
        p.client.remove_all(),
        p.client.lock(b"pw"),
        p.client.unlock(b"pw"),
    ):
        with pytest.raises(AgentFailure):
            p.call(refused)
    assert [k.blob for k in store.identities()] == [ed_key.public_key.blob]
    assert not store.locked
    sig = p.call(p.client.sign(ed_key.public_key.blob, b"ok"))
    ed_key.public_key.verify(b"ok", sig)


def test_unsupported_constraints_refused(pair, ed_key):
    for constraints in (
        Constraints(maxsign=5),
        Constraints(associated_certs=(b"x",)),
    ):
        with pytest.raises(AgentFailure):
            pair.call(pair.client.add_identity(ed_key, "", constraints))
    assert len(pair.store) == 0


def test_unknown_constraint_extension_refused(pair, ed_key):
    from ssh_keys.private_wire import write_private_fields

    body = write_private_fields(ed_key) + Writer().string(b"c").getvalue()
    body += bytes([255]) + Writer().string(b"whatever@example.com").getvalue() + b"junk"
    pair.client._queue(bytes([25]) + body, "add", lambda p: None)
    pair.pump()
    assert pair.client.waiting == 0
    assert len(pair.store) == 0


def test_query_extension(pair):
    names = pair.call(pair.client.query_extensions())
    assert "session-bind@openssh.com" in names
    assert "query" in names


def test_unknown_extension_fails(pair):
    with pytest.raises(AgentFailure):
        pair.call(pair.client.extension("nope@example.com", b"123"))


def test_unknown_and_legacy_messages_fail(pair):
    for number in (0, 1, 2, 7, 9, 20, 21, 24, 26, 99, 255):
        reply = pair.client._queue(bytes([number]), "x", lambda p: p)
        with pytest.raises(AgentFailure):
            pair.call(reply)


def test_empty_message_fails(pair):
    pair.server.receive_data(frame(b""), pair.now)
    assert pair.server.data_to_send() == frame(Failure().encode())


def test_oversized_message_closes_without_buffering(pair):
    pair.server.receive_data((MAX_MESSAGE + 1).to_bytes(4, "big"), pair.now)
    assert pair.server.closed
    assert isinstance(pair.server.next_event(), ConnectionClosed)
    pair.server.receive_data(b"\x00" * 100, pair.now)
    assert pair.server.data_to_send() == b""


def test_largest_message_is_accepted(pair):
    payload = bytes([AgentMessage.REMOVE_IDENTITY]) + b"\x00" * (MAX_MESSAGE - 1)
    pair.server.receive_data(frame(payload), pair.now)
    assert not pair.server.closed
    assert pair.server.data_to_send() == frame(Failure().encode())


def test_byte_at_a_time(pair, ed_key):
    pair.store.add(ed_key, "k", now=0)
    req = pair.client.request_identities()
    data = pair.client.data_to_send()
    for i in range(len(data)):
        pair.server.receive_data(data[i : i + 1], pair.now)
    pair.client.receive_data(pair.server.data_to_send())
    assert [i.comment for i in req.result()] == ["k"]


def test_eof_closes(pair):
    pair.server.receive_data(b"", pair.now)
    assert pair.server.closed
    assert isinstance(pair.server.next_event(), ConnectionClosed)


def test_dsa_keys_are_held_and_sign_ssh_dss(pair):
    key = generate_private_key("dsa")
    pair.call(pair.client.add_identity(key, "old"))
    assert len(pair.store) == 1
    # A request without flags, as ssh and ssh-add send for a DSA key.
    sig = pair.call(pair.client.sign(key.public_key.blob, b"data", 0))
    assert sig.startswith(b"\x00\x00\x00\x07ssh-dss")
    key.public_key.verify(b"data", sig, allow_sha1=True)


def test_destination_helper_builds_a_valid_constraint(pair, ed_key):
    host = generate_private_key("ed25519")
    dc = destination("host.example", [host.public_key], to_user="bob")
    pair.call(pair.client.add_identity(ed_key, "", Constraints(destinations=(dc,))))
    entry = pair.store.get(ed_key.public_key.blob)
    assert entry is not None
    assert entry.destinations == (dc,)


def test_pipelined_requests_wait_while_replies_pile_up(ed_key):
    # A client sending requests without reading: replies are bounded, none lost.
    store = KeyStore()
    store.add(ed_key, "c" * 4000, now=0)
    server = AgentServerCore(store, max_output=64 * 1024)
    request = frame(bytes([AgentMessage.REQUEST_IDENTITIES]))
    server.receive_data(request * 1000, 1.0)
    assert server.output_blocked
    total = b""
    while chunk := server.data_to_send():
        assert len(chunk) < 64 * 1024 + 5000  # the limit plus one reply
        total += chunk
    assert total.count(b"c" * 4000) == 1000
    assert not server.output_blocked


def test_input_while_blocked_is_bounded(ed_key):
    store = KeyStore()
    store.add(ed_key, "c" * 4000, now=0)
    server = AgentServerCore(store, max_output=8 * 1024)
    request = frame(bytes([AgentMessage.REQUEST_IDENTITIES]))
    while not server.closed:
        server.receive_data(request * 10000, 1.0)
    assert isinstance(server.next_event(), ConnectionClosed)
    assert server.internal_errors == 0
