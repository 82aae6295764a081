"""The error hierarchy every package builds on."""

from __future__ import annotations

import pytest

from ssh_wire import (
    DecodeError,
    DisconnectError,
    DisconnectReason,
    LocalProtocolError,
    RemoteProtocolError,
    SSHError,
)


def test_hierarchy() -> None:
    assert issubclass(DecodeError, SSHError)
    assert issubclass(DecodeError, ValueError)
    assert issubclass(LocalProtocolError, SSHError)
    assert issubclass(RemoteProtocolError, SSHError)
    assert issubclass(DisconnectError, RemoteProtocolError)
    assert not issubclass(LocalProtocolError, RemoteProtocolError)


def test_decode_error_attributes_and_text() -> None:
    err = DecodeError("truncated", field="cookie", offset=1, message="KexInit")
    assert (err.reason, err.field, err.offset, err.message) == ("truncated", "cookie", 1, "KexInit")
    assert str(err) == "truncated (KexInit, field 'cookie', offset 1)"


def test_decode_error_without_context_is_just_the_reason() -> None:
    err = DecodeError("bad")
    assert (err.field, err.offset, err.message) == (None, None, None)
    assert str(err) == "bad"


def test_decode_error_offset_zero_is_reported() -> None:
    assert str(DecodeError("bad", offset=0)) == "bad (offset 0)"


def test_within_names_the_enclosing_message() -> None:
    inner = DecodeError("truncated", field="data", offset=5)
    outer = inner.within("ChannelData")
    assert (outer.reason, outer.field, outer.offset, outer.message) == (
        "truncated",
        "data",
        5,
        "ChannelData",
    )
    assert inner.message is None


def test_decode_error_is_caught_as_value_error() -> None:
    with pytest.raises(ValueError, match="bad"):
        raise DecodeError("bad")


def test_disconnect_error() -> None:
    err = DisconnectError(DisconnectReason.MAC_ERROR, "corrupt MAC")
    assert err.reason == 5
    assert err.description == "corrupt MAC"
    assert err.local is False
    assert "received" in str(err)
    assert "corrupt MAC" in str(err)
    assert "sent" in str(DisconnectError(11, "bye", local=True))
