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
