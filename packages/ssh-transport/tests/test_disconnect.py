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


def test_close_by_application_is_a_clean_end() -> None:
    from ssh_transport.events import ConnectionTerminated

    pair = connected()
    pair.client.close()
    pair.collect()
    assert pair.of_type(Role.CLIENT, ConnectionTerminated) == [ConnectionTerminated(None)]


def test_close_with_an_error_reason_reports_that_reason() -> None:
    pair = connected()
    pair.client.close(DisconnectReason.PROTOCOL_ERROR, "auth layer gave up")
    pair.collect()
    error = pair.terminated(Role.CLIENT).error
    assert error is not None
    assert error.reason == DisconnectReason.PROTOCOL_ERROR
    assert error.description == "auth layer gave up"
    assert error.local is True


def test_close_with_an_error_reason_sends_it_to_the_peer() -> None:
    pair = connected()
    pair.server.close(DisconnectReason.TOO_MANY_CONNECTIONS, "full")
    pair.pump()
    error = pair.terminated(Role.CLIENT).error
    assert error is not None and error.reason == DisconnectReason.TOO_MANY_CONNECTIONS
    assert error.local is False


def test_stream_end_is_a_lost_connection_not_a_received_disconnect() -> None:
    from ssh_transport import ConnectionLost

    pair = connected()
    pair.client.receive_data(b"")
    pair.collect()
    error = pair.terminated(Role.CLIENT).error
    assert isinstance(error, ConnectionLost)
    assert error.reason == DisconnectReason.CONNECTION_LOST
    assert error.local is False
    assert "received" not in str(error) and "lost" in str(error)


def test_stream_end_sends_no_disconnect() -> None:
    pair = connected()
    pair.client.receive_data(b"")
    assert pair.client.data_to_send() == b""


def test_stream_end_before_the_banner_is_a_lost_connection_too() -> None:
    from ssh_transport import ConnectionLost, Transport
    from ssh_transport.events import ConnectionTerminated

    client = Transport(Role.CLIENT)
    client.receive_data(b"")
    event = client.next_event()
    assert isinstance(event, ConnectionTerminated)
    assert isinstance(event.error, ConnectionLost)
    assert "received" not in str(event.error)


def test_a_received_disconnect_still_says_received() -> None:
    pair = connected()
    pair.server.close(DisconnectReason.BY_APPLICATION, "bye")
    pair.pump()
    error = pair.terminated(Role.CLIENT).error
    assert error is not None and "received" in str(error)
