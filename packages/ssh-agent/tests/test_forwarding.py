"""Forwarding glue: relay ordering, session binding and refusals."""

from __future__ import annotations

import os

import pytest

from ssh_agent import AgentClientCore, AgentFailure, AgentServerCore, KeyStore
from ssh_agent.forwarding import AgentChannelRelay, ForwardedAgentBridge
from ssh_agent.protocol import frame
from ssh_keys import generate_private_key


def _pump(relay, agent, client):
    while True:
        moved = False
        out = client.data_to_send()
        if out:
            relay.channel_data(out)
            moved = True
        to_agent = relay.data_for_agent()
        if to_agent:
            agent.receive_data(to_agent, 0.0)
            moved = True
        from_agent = agent.data_to_send()
        if from_agent:
            relay.agent_data(from_agent)
            moved = True
        back = relay.data_for_channel()
        if back:
            client.receive_data(back)
            moved = True
        if not moved:
            return


def test_relay_binds_then_relays_and_refuses_changes():
    user_key = generate_private_key("ed25519")
    host = generate_private_key("ed25519")
    store = KeyStore()
    store.add(user_key, "u", now=0)
    agent = AgentServerCore(store)  # an ordinary local agent connection
    sid = os.urandom(32)
    relay = AgentChannelRelay(host.public_key.blob, sid, host.sign(sid))
    remote = AgentClientCore()  # the program on the server using the forwarded agent

    listing = remote.request_identities()
    add = remote.add_identity(generate_private_key("ed25519"))
    sign = remote.sign(user_key.public_key.blob, b"data")
    lock = remote.lock(b"pw")
    _pump(relay, agent, remote)

    assert relay.bound is True
    assert len(agent.bindings) == 1
    assert agent.bindings[0].forwarded
    assert [i.comment for i in listing.result()] == ["u"]
    assert add.done
    assert sign.done
    assert lock.done
    user_key.public_key.verify(b"data", sign.result())
    for refused in (add, lock):
        with pytest.raises(AgentFailure):
            refused.result()
    assert len(store) == 1
    assert not store.locked


def test_relay_closes_on_oversized_message():
    relay = AgentChannelRelay()
    relay.channel_data((300 * 1024).to_bytes(4, "big"))
    assert relay.closed
    assert relay.data_for_agent() == b""


def test_bridge_passes_whole_messages():
    bridge = ForwardedAgentBridge()
    msg = frame(b"\x0b")
    bridge.client_data(msg[:2])
    assert bridge.data_for_channel() == b""
    bridge.client_data(msg[2:])
    assert bridge.data_for_channel() == msg
    bridge.channel_data(frame(b"\x05"))
    assert bridge.data_for_client() == frame(b"\x05")
    bridge.channel_data(b"")
    assert bridge.closed


@pytest.mark.parametrize(
    "request_bytes",
    [
        bytes([9]),  # protocol 1: remove all RSA identities (OpenSSH's agent still obeys it)
        bytes([7]) + bytes(8),  # protocol 1: add an RSA identity
        bytes([8]) + bytes(8),  # protocol 1: remove an RSA identity
        bytes([24]) + bytes(8),  # protocol 1: add a constrained RSA identity
        bytes([200]),  # a request number nobody defines yet
        bytes([27]) + b"\x00\x00\x00\x0bhack@x.org" + b"!",  # an unknown extension
        bytes([27]) + b"\xff\xff\xff\xff",  # an extension name too long to be one
        b"",  # an empty message
    ],
)
def test_relay_refuses_everything_but_the_allowed_requests(request_bytes):
    relay = AgentChannelRelay()
    relay.channel_data(frame(request_bytes))
    assert relay.data_for_agent() == b""  # nothing reaches the local agent
    assert relay.data_for_channel() == frame(bytes([5]))  # FAILURE, answered by the relay


@pytest.mark.parametrize(
    "request_bytes",
    [
        bytes([11]),  # list identities
        bytes([27]) + b"\x00\x00\x00\x05query",
        bytes([27]) + b"\x00\x00\x00\x18session-bind@openssh.com" + bytes(12),  # next hop
    ],
)
def test_relay_passes_listing_and_the_allowed_extensions(request_bytes):
    relay = AgentChannelRelay()
    relay.channel_data(frame(request_bytes))
    assert relay.data_for_agent() == frame(request_bytes)


def test_unfiltered_relay_passes_changes_to_the_agent():
    """filtered=False: the local agent alone decides (here it adds and locks)."""
    store = KeyStore()
    agent = AgentServerCore(store)
    relay = AgentChannelRelay(filtered=False)
    remote = AgentClientCore()
    add = remote.add_identity(generate_private_key("ed25519"))
    lock = remote.lock(b"pw")
    _pump(relay, agent, remote)
    add.result()
    lock.result()
    assert len(store) == 1
    assert store.locked


@pytest.mark.parametrize("request_bytes", [bytes([9]), bytes([200]), bytes([19])])
def test_unfiltered_relay_sends_any_request_on(request_bytes):
    relay = AgentChannelRelay(filtered=False)
    relay.channel_data(frame(request_bytes))
    assert relay.data_for_agent() == frame(request_bytes)
    assert relay.data_for_channel() == b""
