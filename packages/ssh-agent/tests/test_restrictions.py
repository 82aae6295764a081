"""session-bind@openssh.com and destination restrictions (PROTOCOL.agent), in memory."""

from __future__ import annotations

import os

import pytest

from ssh_agent import AgentFailure, Constraints, KeyStore, destination
from ssh_agent.restrictions import MAX_BINDINGS, parse_userauth_request
from ssh_keys import PrivateKey, generate_private_key
from ssh_wire import Writer


@pytest.fixture(scope="module")
def hosts() -> dict[str, PrivateKey]:
    return {name: generate_private_key("ed25519") for name in "abc"}


def bind(p, host: PrivateKey, *, forwarding: bool, sid: bytes | None = None) -> bytes:
    sid = os.urandom(32) if sid is None else sid
    reply = p.client.session_bind(host.public_key.blob, sid, host.sign(sid), forwarding=forwarding)
    p.call(reply)
    return sid


def userauth(sid: bytes, user: str, key: PrivateKey, hostkey: PrivateKey | None = None) -> bytes:
    method = "publickey-hostbound-v00@openssh.com" if hostkey else "publickey"
    w = Writer().string(sid).byte(50).text(user).text("ssh-connection").text(method)
    w.boolean(True).text(key.algorithm).string(key.public_key.blob)
    if hostkey is not None:
        w.string(hostkey.public_key.blob)
    return w.getvalue()


def restricted(make_pair, key, *dcs):
    store = KeyStore()
    store.add(key, "restricted", now=0, destinations=tuple(dcs))
    return make_pair(store)


def visible(p) -> int:
    return len(p.call(p.client.request_identities()))


def test_parse_userauth_request(ed_key, hosts):
    req = parse_userauth_request(userauth(b"s" * 32, "bob", ed_key, hosts["a"]))
    assert req is not None
    assert (req.user, req.key_blob, req.hostkey_blob) == (
        "bob",
        ed_key.public_key.blob,
        hosts["a"].public_key.blob,
    )
    assert parse_userauth_request(b"random bytes") is None
    assert parse_userauth_request(userauth(b"s", "bob", ed_key) + b"x") is None


def test_unbound_connection_lists_but_cannot_sign(make_pair, ed_key, hosts):
    p = restricted(make_pair, ed_key, destination("a", [hosts["a"].public_key]))
    assert visible(p) == 1
    with pytest.raises(AgentFailure):
        p.call(p.client.sign(ed_key.public_key.blob, userauth(b"s" * 32, "u", ed_key)))


def test_auth_to_permitted_host(make_pair, ed_key, hosts):
    p = restricted(make_pair, ed_key, destination("a", [hosts["a"].public_key]))
    sid = bind(p, hosts["a"], forwarding=False)
    assert visible(p) == 1
    data = userauth(sid, "anyone", ed_key)
    ed_key.public_key.verify(data, p.call(p.client.sign(ed_key.public_key.blob, data)))
    # Wrong session id, or not a userauth request at all: refused.
    for bad in (userauth(os.urandom(32), "anyone", ed_key), b"arbitrary data"):
        with pytest.raises(AgentFailure):
            p.call(p.client.sign(ed_key.public_key.blob, bad))


def test_auth_to_other_host_refused(make_pair, ed_key, hosts):
    p = restricted(make_pair, ed_key, destination("a", [hosts["a"].public_key]))
    sid = bind(p, hosts["b"], forwarding=False)
    assert visible(p) == 0
    with pytest.raises(AgentFailure):
        p.call(p.client.sign(ed_key.public_key.blob, userauth(sid, "u", ed_key)))


def test_user_pattern(make_pair, ed_key, hosts):
    p = restricted(make_pair, ed_key, destination("a", [hosts["a"].public_key], to_user="b*"))
    sid = bind(p, hosts["a"], forwarding=False)
    p.call(p.client.sign(ed_key.public_key.blob, userauth(sid, "bob", ed_key)))
    with pytest.raises(AgentFailure):
        p.call(p.client.sign(ed_key.public_key.blob, userauth(sid, "root", ed_key)))


def test_forwarded_hop_hides_keys_usable_only_at_that_host(make_pair, ed_key, hosts):
    p = restricted(make_pair, ed_key, destination("a", [hosts["a"].public_key]))
    bind(p, hosts["a"], forwarding=True)
    assert visible(p) == 0


def test_two_hop_path(make_pair, ed_key, hosts):
    a, b = hosts["a"], hosts["b"]
    p = restricted(
        make_pair,
        ed_key,
        destination("a", [a.public_key]),
        destination("b", [b.public_key], from_host="a", from_keys=[a.public_key]),
    )
    bind(p, a, forwarding=True)
    assert visible(p) == 1
    sid = bind(p, b, forwarding=False)
    data = userauth(sid, "u", ed_key, hostkey=b)
    ed_key.public_key.verify(data, p.call(p.client.sign(ed_key.public_key.blob, data)))
    # A forwarded hop needs the host-bound method naming the bound host key.
    for bad in (userauth(sid, "u", ed_key), userauth(sid, "u", ed_key, hostkey=a)):
        with pytest.raises(AgentFailure):
            p.call(p.client.sign(ed_key.public_key.blob, bad))


def test_path_not_listed_refused(make_pair, ed_key, hosts):
    a, b, c = hosts["a"], hosts["b"], hosts["c"]
    p = restricted(
        make_pair,
        ed_key,
        destination("a", [a.public_key]),
        destination("b", [b.public_key], from_host="a", from_keys=[a.public_key]),
    )
    bind(p, a, forwarding=True)
    sid = bind(p, c, forwarding=False)
    with pytest.raises(AgentFailure):
        p.call(p.client.sign(ed_key.public_key.blob, userauth(sid, "u", ed_key, hostkey=c)))


def test_unrestricted_keys_unaffected(make_pair, ed_key, hosts):
    store = KeyStore()
    store.add(ed_key, "", now=0)
    p = make_pair(store)
    bind(p, hosts["a"], forwarding=True)
    p.call(p.client.sign(ed_key.public_key.blob, b"anything"))


def test_bind_rules(make_pair, ed_key, hosts):
    p = restricted(make_pair, ed_key, destination("a", [hosts["a"].public_key]))
    sid = bind(p, hosts["a"], forwarding=True)
    bind(p, hosts["a"], forwarding=True, sid=sid)  # the same binding again is fine
    with pytest.raises(AgentFailure):  # same session id, another host key
        bind(p, hosts["b"], forwarding=True, sid=sid)
    bind(p, hosts["b"], forwarding=False)
    with pytest.raises(AgentFailure):  # already bound for authentication
        bind(p, hosts["c"], forwarding=True)
    assert len(p.server.bindings) == 2


def test_bad_signature_refused_and_hides_restricted_keys(make_pair, ed_key, hosts):
    p = restricted(make_pair, ed_key, destination("a", [hosts["a"].public_key]))
    sid = os.urandom(32)
    reply = p.client.session_bind(
        hosts["a"].public_key.blob, sid, hosts["b"].sign(sid), forwarding=False
    )
    with pytest.raises(AgentFailure):
        p.call(reply)
    assert p.server.bindings == []
    assert visible(p) == 0


def test_binding_limit(make_pair, hosts):
    p = make_pair()
    for _ in range(MAX_BINDINGS):
        bind(p, hosts["a"], forwarding=True)
    with pytest.raises(AgentFailure):
        bind(p, hosts["a"], forwarding=True)


def test_session_id_length_limit(make_pair, hosts):
    p = make_pair()
    with pytest.raises(AgentFailure):
        bind(p, hosts["a"], forwarding=True, sid=os.urandom(129))


def test_restricted_key_removal_needs_visibility(make_pair, ed_key, hosts):
    p = restricted(make_pair, ed_key, destination("a", [hosts["a"].public_key]))
    bind(p, hosts["b"], forwarding=False)
    with pytest.raises(AgentFailure):
        p.call(p.client.remove_identity(ed_key.public_key.blob))
    assert len(p.store) == 1


def test_constraints_round_trip_through_add(make_pair, ed_key, hosts):
    dcs = (
        destination("a", [hosts["a"].public_key]),
        destination("b", [hosts["b"].public_key], from_host="a", from_keys=[hosts["a"].public_key]),
    )
    p = make_pair()
    p.call(p.client.add_identity(ed_key, "", Constraints(lifetime=9, destinations=dcs)))
    entry = p.store.get(ed_key.public_key.blob)
    assert entry is not None
    assert entry.destinations == dcs


def _change_attempts(p, key: PrivateKey, other: PrivateKey) -> list[object]:
    return [
        p.client.add_identity(other),
        p.client.add_identity(other, "", Constraints(lifetime=5)),
        p.client.remove_identity(key.public_key.blob),
        p.client.remove_all(),
        p.client.lock(b"pw"),
    ]


def test_bound_for_forwarding_cannot_change_keys(make_pair, ed_key, ec_key, hosts):
    # OpenSSH's ssh -A relays to the agent's ordinary socket: the forwarding flag of
    # its session-bind is the only sign, and must take the right to change keys away.
    store = KeyStore()
    store.add(ed_key, "kept", now=0)
    p = make_pair(store)
    bind(p, hosts["a"], forwarding=True)
    assert p.server.via_forwarding
    for refused in _change_attempts(p, ed_key, ec_key):
        with pytest.raises(AgentFailure):
            p.call(refused)
    assert [k.blob for k in store.identities()] == [ed_key.public_key.blob]
    assert not store.locked
    assert visible(p) == 1


def test_failed_forwarding_bind_still_counts_as_forwarded(make_pair, ed_key, ec_key, hosts):
    store = KeyStore()
    store.add(ed_key, "kept", now=0)
    p = make_pair(store)
    sid = os.urandom(32)
    reply = p.client.session_bind(
        hosts["a"].public_key.blob, sid, hosts["b"].sign(sid), forwarding=True
    )
    with pytest.raises(AgentFailure):
        p.call(reply)
    assert p.server.bindings == []
    for refused in _change_attempts(p, ed_key, ec_key):
        with pytest.raises(AgentFailure):
            p.call(refused)
    assert len(store) == 1
    assert not store.locked


def test_bound_for_authentication_keeps_local_rights(make_pair, ed_key, ec_key, hosts):
    p = make_pair()
    bind(p, hosts["a"], forwarding=False)
    assert not p.server.via_forwarding
    p.call(p.client.add_identity(ec_key))
    assert len(p.store) == 1
