"""The (state, message number) table that routes every message the core receives."""

from __future__ import annotations

import pytest
from transport_pair import Pair, server_config

from ssh_transport.config import TransportConfig
from ssh_transport.state import Role, State
from ssh_transport.transport import MESSAGE_TABLES
from ssh_wire import DisconnectReason, MessageNumber

KEX_METHOD = set(range(30, 50))


def fast_config() -> TransportConfig:
    return TransportConfig(kex_algorithms="curve25519-sha256")


def fast_server_config() -> TransportConfig:
    return server_config(kex_algorithms="curve25519-sha256")


@pytest.mark.parametrize("role", list(Role))
def test_every_state_has_a_table(role: Role) -> None:
    assert set(MESSAGE_TABLES[role]) == set(State)


@pytest.mark.parametrize("role", list(Role))
def test_after_the_exchange_every_number_has_a_handler(role: Role) -> None:
    assert set(MESSAGE_TABLES[role][State.OPEN]) == set(range(256))


@pytest.mark.parametrize("role", list(Role))
def test_during_an_exchange_only_kex_messages_are_listed(role: Role) -> None:
    allowed = {MessageNumber.DISCONNECT, MessageNumber.IGNORE, MessageNumber.UNIMPLEMENTED,
               MessageNumber.DEBUG, MessageNumber.NEWKEYS} | KEX_METHOD  # fmt: skip
    assert set(MESSAGE_TABLES[role][State.KEX]) == allowed


@pytest.mark.parametrize("role", list(Role))
def test_before_the_first_kexinit_little_is_listed(role: Role) -> None:
    allowed = {MessageNumber.KEXINIT, MessageNumber.DISCONNECT, MessageNumber.IGNORE,
               MessageNumber.DEBUG}  # fmt: skip
    assert set(MESSAGE_TABLES[role][State.KEXINIT]) == allowed


@pytest.mark.parametrize("state", [State.VERSION, State.HOST_KEY, State.CLOSED])
def test_states_that_read_no_packets_list_nothing(state: State) -> None:
    assert MESSAGE_TABLES[Role.CLIENT][state] == {} == MESSAGE_TABLES[Role.SERVER][state]


def test_a_message_missing_from_the_table_is_a_protocol_error() -> None:
    pair = Pair(fast_config(), fast_server_config())
    for role in Role:  # both KEXINITs delivered: both sides are now in State.KEX
        pair.peer(role).receive_data(pair.side(role).data_to_send())
    pair.collect()
    assert pair.server._state is State.KEX
    pair.client._send_packet(bytes([MessageNumber.SERVICE_REQUEST]) + bytes(4))
    pair.pump()
    error = pair.terminated(Role.SERVER).error
    assert error is not None and error.reason == DisconnectReason.PROTOCOL_ERROR
    assert "message 5 not allowed in a key exchange" in error.description


def test_the_receive_state_follows_the_exchange() -> None:
    pair = Pair(fast_config(), fast_server_config(), auto_accept=False)
    assert pair.client._state is State.VERSION
    pair.pump()
    assert pair.client._state is State.HOST_KEY
    pair.client.accept_host_key()
    assert pair.client._state is State.OPEN
    pair.client.start_rekey()
    pair.pump()
    assert pair.client._state is State.OPEN and pair.server._state is State.OPEN
