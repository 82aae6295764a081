"""Audit: destination restrictions against session-bind (PROTOCOL.agent), adversarially."""

from __future__ import annotations

import os
import time

import pytest

from ssh_agent import AgentFailure, AgentServerCore, KeyStore, destination
from ssh_agent.protocol import DestinationConstraint, Hop, KeySpec
from ssh_keys import PrivateKey, generate_private_key
from ssh_keys.certificate import CertType, sign_certificate
from ssh_wire import Writer


@pytest.fixture(scope="module")
def hosts() -> dict[str, PrivateKey]:
    return {name: generate_private_key("ed25519") for name in ("a", "b", "ca")}


def bind(p, host: PrivateKey, *, forwarding: bool, blob: bytes | None = None) -> bytes:
    sid = os.urandom(32)
    hostkey = host.public_key.blob if blob is None else blob
    p.call(p.client.session_bind(hostkey, sid, host.sign(sid), forwarding=forwarding))
    return sid


def userauth(sid: bytes, key: PrivateKey, hostkey: bytes | None = None) -> bytes:
    method = "publickey-hostbound-v00@openssh.com" if hostkey else "publickey"
    w = Writer().string(sid).byte(50).text("u").text("ssh-connection").text(method)
    w.boolean(True).text(key.algorithm).string(key.public_key.blob)
    if hostkey is not None:
        w.string(hostkey)
    return w.getvalue()


def test_no_signature_for_the_forwarding_session_itself(make_pair, ed_key, hosts):
    # PROTOCOL.agent: a session bound for forwarding must not be used for authentication.
    # The key may authenticate to a and go on from a to b; the host a (which holds the
    # forwarded agent) asks for a userauth signature over the forwarding session's id.
    a, b = hosts["a"], hosts["b"]
    store = KeyStore()
    store.add(
        ed_key,
        "",
        now=0,
        destinations=(
            destination("a", [a.public_key]),
            destination("b", [b.public_key], from_host="a", from_keys=[a.public_key]),
        ),
    )
    p = make_pair(store)
    sid = bind(p, a, forwarding=True)
    for data in (userauth(sid, ed_key), userauth(sid, ed_key, a.public_key.blob)):
        with pytest.raises(AgentFailure):
            p.call(p.client.sign(ed_key.public_key.blob, data))


def _host_cert(hosts, *, valid_after: int, valid_before: int) -> bytes:
    cert = sign_certificate(
        hosts["ca"],
        hosts["b"].public_key,
        cert_type=CertType.HOST,
        principals=["b"],
        valid_after=valid_after,
        valid_before=valid_before,
    )
    return cert.blob


def _ca_restricted(make_pair, ed_key, hosts, clock=time.time):
    store = KeyStore()
    to_b = Hop("b", (KeySpec(hosts["ca"].public_key, is_ca=True),))
    store.add(ed_key, "", now=0, destinations=(DestinationConstraint(Hop(), to_b),))
    p = make_pair(store)
    p.server = AgentServerCore(store, clock=clock)
    return p


def test_ca_hop_accepts_a_current_host_certificate(make_pair, ed_key, hosts):
    p = _ca_restricted(make_pair, ed_key, hosts)
    blob = _host_cert(hosts, valid_after=0, valid_before=2**63)
    sid = bind(p, hosts["b"], forwarding=False, blob=blob)
    data = userauth(sid, ed_key, blob)
    ed_key.public_key.verify(data, p.call(p.client.sign(ed_key.public_key.blob, data)))


@pytest.mark.parametrize("window", [(0, 1_000_000), (2**62, 2**63)], ids=["expired", "future"])
def test_ca_hop_refuses_a_host_certificate_outside_its_validity(make_pair, ed_key, hosts, window):
    # As OpenSSH's match_key_hop (sshkey_cert_check_host): the certificate must be valid now.
    p = _ca_restricted(make_pair, ed_key, hosts)
    blob = _host_cert(hosts, valid_after=window[0], valid_before=window[1])
    sid = bind(p, hosts["b"], forwarding=False, blob=blob)
    assert len(p.call(p.client.request_identities())) == 0
    with pytest.raises(AgentFailure):
        p.call(p.client.sign(ed_key.public_key.blob, userauth(sid, ed_key, blob)))


def test_ca_hop_without_a_clock_matches_nothing(make_pair, ed_key, hosts):
    # The sans-I/O core has no clock of its own: without one it cannot tell whether a host
    # certificate is valid, so it does not accept it.
    p = _ca_restricted(make_pair, ed_key, hosts, clock=None)
    blob = _host_cert(hosts, valid_after=0, valid_before=2**63)
    sid = bind(p, hosts["b"], forwarding=False, blob=blob)
    with pytest.raises(AgentFailure):
        p.call(p.client.sign(ed_key.public_key.blob, userauth(sid, ed_key, blob)))


def test_ca_hop_principal_patterns_as_openssh(make_pair, ed_key, hosts):
    # sshkey_cert_check_host matches the host name against the principals as patterns.
    p = _ca_restricted(make_pair, ed_key, hosts)
    cert = sign_certificate(
        hosts["ca"], hosts["b"].public_key, cert_type=CertType.HOST, principals=["b*"]
    )
    sid = bind(p, hosts["b"], forwarding=False, blob=cert.blob)
    p.call(p.client.sign(ed_key.public_key.blob, userauth(sid, ed_key, cert.blob)))
    user_cert = sign_certificate(
        hosts["ca"], hosts["b"].public_key, cert_type=CertType.USER, principals=["b"]
    )
    p = _ca_restricted(make_pair, ed_key, hosts)
    sid = bind(p, hosts["b"], forwarding=False, blob=user_cert.blob)
    with pytest.raises(AgentFailure):
        p.call(p.client.sign(ed_key.public_key.blob, userauth(sid, ed_key, user_cert.blob)))
