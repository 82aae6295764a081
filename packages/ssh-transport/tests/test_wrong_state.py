"""Every message number in every state, properly sealed: handled, UNIMPLEMENTED, or a disconnect.

Messages accepted in the wrong state are how SSH implementations have been broken
(authentication bypasses, Terrapin). Whatever arrives, the core must not raise, and
must never hand an upper-layer message up before a service was accepted.
"""

from __future__ import annotations

import pytest
from transport_pair import Pair, connected, record

from ssh_transport.config import TransportConfig
from ssh_transport.events import ConnectionTerminated, MessageReceived
from ssh_transport.transport import Role
from ssh_wire import DisconnectReason

STATES = ["before-kex", "during-kex", "after-kex", "after-service"]
ALLOWED = {
    DisconnectReason.PROTOCOL_ERROR,
    DisconnectReason.KEY_EXCHANGE_FAILED,
    DisconnectReason.SERVICE_NOT_AVAILABLE,
}
NUMBERS = range(1, 256)


def payload_for(number: int) -> bytes:
    # Zero bytes parse as empty strings and zero counts: many messages are well-formed.
    return bytes([number]) + bytes(8)


def fast() -> TransportConfig:
    return TransportConfig(kex_algorithms="curve25519-sha256")


def server_fast() -> TransportConfig:
    from transport_pair import server_config

    return server_config(kex_algorithms="curve25519-sha256")


def setup(state: str, sender: Role, payload: bytes) -> Pair:
    if state in ("after-kex", "after-service"):
        pair = connected(fast(), server_fast(), service=state == "after-service")
        pair.side(sender)._send_packet(payload)
        return pair
    pair = Pair(fast(), server_fast())
    s = pair.side(sender)
    if state == "before-kex":
        # Sealed after the version line and before our KEXINIT.
        kexinit = s._out.pop()
        s._send_packet(payload)
        s._out.append(kexinit)
    else:
        # Both KEXINITs delivered, then the message, before any kex method message.
        for role in Role:
            pair.peer(role).receive_data(pair.side(role).data_to_send())
        pair.collect()
        pair.side(sender)._send_packet(payload)
    return pair


def check(pair: Pair, receiver: Role, state: str, number: int) -> None:
    pair.pump()
    t = pair.side(receiver)
    for event in pair.events[receiver]:
        if isinstance(event, MessageReceived):
            assert state == "after-service", (state, number)
            assert 50 <= event.number <= 127
        if isinstance(event, ConnectionTerminated):
            assert event.error is not None
            if event.error.local:
                assert event.error.reason in ALLOWED, (number, event.error)
    if state != "after-service" and 50 <= number <= 127:
        assert t.closed, (state, number)
    if 30 <= number <= 49 and state in ("after-kex", "after-service"):
        assert t.closed  # kex messages outside a key exchange


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("receiver", list(Role))
def test_every_number(state: str, receiver: Role) -> None:
    sender = Role.SERVER if receiver is Role.CLIENT else Role.CLIENT
    outcomes: dict[str, list[int]] = {"closed": [], "open": []}
    for number in NUMBERS:
        pair = setup(state, sender, payload_for(number))
        check(pair, receiver, state, number)
        outcomes["closed" if pair.side(receiver).closed else "open"].append(number)
    if state == "after-service":
        assert set(range(50, 128)) <= set(outcomes["open"])
    if state in ("before-kex", "during-kex"):
        # Strict kex: nothing but the kex itself (and DISCONNECT) is allowed.
        assert outcomes["open"] == [], outcomes["open"]


@pytest.mark.parametrize("state", ["after-kex", "after-service"])
def test_unknown_numbers_get_unimplemented(state: str) -> None:
    expected_unimplemented = [n for n in (9, 15, 19, 29, 128, 150, 191, 194, 255)]
    for number in expected_unimplemented:
        pair = connected(fast(), server_fast(), service=state == "after-service")
        log = record(pair.client)
        pair.client._send_packet(bytes([number]))
        pair.pump()
        assert not pair.server.closed
        assert [p[0] for _, p in log] == [3], number


def test_upper_layer_before_service_closes_both_roles() -> None:
    for receiver in Role:
        sender = Role.SERVER if receiver is Role.CLIENT else Role.CLIENT
        pair = connected(fast(), server_fast(), service=False)
        pair.side(sender)._send_packet(b"\x34")  # USERAUTH_SUCCESS before any service
        pair.pump()
        assert not pair.of_type(receiver, MessageReceived)
        error = pair.terminated(receiver).error
        assert error is not None and error.reason == DisconnectReason.PROTOCOL_ERROR


def test_client_gets_no_messages_while_service_request_is_pending() -> None:
    pair = connected(fast(), server_fast(), service=False)
    pair.client.request_service("ssh-userauth")
    # A malicious server answers with an upper-layer message instead of SERVICE_ACCEPT.
    pair.server._send_packet(b"\x34")
    pair.client.receive_data(pair.server.data_to_send())
    pair.collect()
    assert not pair.of_type(Role.CLIENT, MessageReceived)
    assert pair.client.closed
