"""RFC 4250 assigned numbers and the layer each message number belongs to."""

from __future__ import annotations

import pytest

from ssh_wire import ChannelOpenFailure, DisconnectReason, ExtendedDataType, MessageNumber, layer_of


def test_some_message_numbers() -> None:
    assert MessageNumber.DISCONNECT.value == 1
    assert MessageNumber.KEXINIT.value == 20
    assert MessageNumber.NEWKEYS.value == 21
    assert MessageNumber.USERAUTH_REQUEST.value == 50
    assert MessageNumber.CHANNEL_DATA.value == 94
    assert MessageNumber.CHANNEL_FAILURE.value == 100


def test_message_numbers_fit_a_byte_and_are_unique() -> None:
    values = [m.value for m in MessageNumber]
    assert all(0 < v < 256 for v in values)
    assert len(values) == len(set(values))


def test_reason_codes() -> None:
    assert DisconnectReason.HOST_NOT_ALLOWED_TO_CONNECT.value == 1
    assert DisconnectReason.ILLEGAL_USER_NAME.value == 15
    assert [int(r) for r in DisconnectReason] == list(range(1, 16))
    assert [int(r) for r in ChannelOpenFailure] == [1, 2, 3, 4]
    assert ExtendedDataType.STDERR.value == 1


@pytest.mark.parametrize(
    ("number", "layer"),
    [
        (1, "transport"),
        (20, "transport"),
        (49, "transport"),
        (50, "userauth"),
        (79, "userauth"),
        (80, "connection"),
        (127, "connection"),
        (128, "reserved"),
        (191, "reserved"),
        (192, "local"),
        (255, "local"),
        (0, "reserved"),
    ],
)
def test_layer_of(number: int, layer: str) -> None:
    assert layer_of(number) == layer
