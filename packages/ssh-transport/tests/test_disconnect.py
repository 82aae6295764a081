"""A peer's DISCONNECT always reaches the application with its reason code."""

from __future__ import annotations

from transport_pair import connected, inject

from ssh_transport import Role
from ssh_wire import DisconnectReason, Writer


def test_disconnect_with_invalid_utf8_keeps_the_reason_code() -> None:
    pair = connected()
    payload = (
        Writer().byte(1).uint32(DisconnectReason.TOO_MANY_CONNECTIONS).string(b"bad \xff text")
    ).getvalue()  # no language tag either
    inject(pair.server, payload)
    pair.pump()
    error = pair.terminated(Role.CLIENT).error
    assert error is not None
    assert error.reason == DisconnectReason.TOO_MANY_CONNECTIONS
    assert error.description == "bad \ufffd text"
    assert error.local is False


def test_eof_after_garbage_names_a_non_ssh_peer() -> None:
    from ssh_transport import ProtocolVersionError, Transport
    from ssh_transport.events import ConnectionTerminated

    client = Transport(Role.CLIENT)
    client.receive_data(b"220 smtp.example.org ESMTP ready\r\n")
    client.receive_data(b"")
    event = client.next_event()
    assert isinstance(event, ConnectionTerminated)
    assert isinstance(event.error, ProtocolVersionError)
    assert "220 smtp" in event.error.description


def test_eof_after_nothing_is_a_lost_connection() -> None:
    from ssh_transport import Transport
    from ssh_transport.events import ConnectionTerminated

    client = Transport(Role.CLIENT)
    client.receive_data(b"")
    event = client.next_event()
    assert isinstance(event, ConnectionTerminated)
    assert event.error is not None
    assert event.error.reason == DisconnectReason.CONNECTION_LOST


def test_repeated_service_request_is_accepted_until_authenticated() -> None:
    from ssh_transport.events import ServiceRequested
    from ssh_transport.messages import ServiceRequest

    pair = connected()
    inject(pair.client, ServiceRequest("ssh-userauth").encode())
    pair.server.receive_data(pair.client.data_to_send())
    assert not pair.server.closed
    assert pair.server.data_to_send()  # a second SERVICE_ACCEPT, as Paramiko expects
    assert pair.server.next_event() is None  # and no second ServiceRequested
    assert not [e for e in pair.events[Role.SERVER] if isinstance(e, ServiceRequested)]

    pair = connected()
    pair.server.send_message(bytes([52]))  # USERAUTH_SUCCESS
    pair.pump()
    inject(pair.client, ServiceRequest("ssh-userauth").encode())
    pair.pump()
    error = pair.terminated(Role.SERVER).error
    assert error is not None
    assert error.reason == DisconnectReason.SERVICE_NOT_AVAILABLE
