"""Declarative schemas: definition-time checks, decoding, errors, message tables."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import pytest

from ssh_wire import (
    Boolean,
    Byte,
    DecodeError,
    Fixed,
    Message,
    MessageNumber,
    MessageTable,
    MPInt,
    Name,
    NameList,
    Reader,
    Rest,
    String,
    Struct,
    Text,
    UInt32,
    Writer,
    decode_message,
)


class Disconnect(Message):
    NUMBER = MessageNumber.DISCONNECT
    reason: UInt32
    description: Text
    language: Text


class ChannelData(Message):
    NUMBER = MessageNumber.CHANNEL_DATA
    recipient: UInt32
    data: String


class ChannelEof(Message):
    NUMBER = MessageNumber.CHANNEL_EOF
    recipient: UInt32


class ServiceRequest(Message):
    NUMBER = MessageNumber.SERVICE_REQUEST
    service: Name


class GlobalRequest(Message):
    NUMBER = MessageNumber.GLOBAL_REQUEST
    name: Name
    want_reply: Boolean
    data: Rest


class Point(Struct):
    x: UInt32
    y: UInt32


class Point3(Point):
    z: UInt32


class Cookie(Struct):
    cookie: Annotated[bytes, Fixed(16)]
    flag: Byte


# -- encoding and decoding ---------------------------------------------------------


def test_message_encodes_number_then_fields() -> None:
    msg = Disconnect(11, "bye", "")
    wire = b"\x01\x00\x00\x00\x0b\x00\x00\x00\x03bye\x00\x00\x00\x00"
    assert msg.encode() == wire
    assert Disconnect.decode(wire) == msg


def test_struct_has_no_number_byte() -> None:
    assert Point(1, 2).encode() == b"\x00\x00\x00\x01\x00\x00\x00\x02"


def test_subclass_appends_fields() -> None:
    p = Point3(1, 2, 3)
    assert Point3.decode(p.encode()) == p
    assert [f.name for f in dataclasses.fields(Point3)] == ["x", "y", "z"]


def test_fixed_field() -> None:
    c = Cookie(bytes(range(16)), 9)
    assert c.encode() == bytes(range(16)) + b"\x09"
    assert Cookie.decode(c.encode()) == c


def test_rest_takes_the_remainder_and_may_be_empty() -> None:
    req = GlobalRequest("tcpip-forward", True, b"\x00\x00\x00\x00\x00\x00\x00\x16")
    assert GlobalRequest.decode(req.encode()) == req
    empty = GlobalRequest("keepalive@openssh.com", False, b"")
    assert GlobalRequest.decode(empty.encode()) == empty


def test_empty_message_is_its_number() -> None:
    class NewKeys(Message):
        NUMBER = 21

    assert NewKeys().encode() == b"\x15"
    assert NewKeys.decode(b"\x15") == NewKeys()


def test_decode_accepts_bytearray_and_memoryview() -> None:
    wire = ChannelEof(3).encode()
    assert ChannelEof.decode(bytearray(wire)) == ChannelEof(3)
    assert ChannelEof.decode(memoryview(wire)) == ChannelEof(3)


def test_read_from_leaves_the_rest_for_the_caller() -> None:
    r = Reader(Point(1, 2).encode() + Point(3, 4).encode() + b"!")
    assert Point.read_from(r) == Point(1, 2)
    assert Point.read_from(r) == Point(3, 4)
    assert r.rest() == b"!"


def test_encode_into_appends_to_a_writer() -> None:
    w = Writer().uint32(99)
    Point(1, 2).encode_into(w)
    assert w.getvalue() == b"\x00\x00\x00\x63" + Point(1, 2).encode()


def test_decode_rejects_trailing_bytes() -> None:
    with pytest.raises(DecodeError, match="2 trailing bytes") as info:
        ChannelEof.decode(ChannelEof(1).encode() + b"xx")
    assert info.value.message == "ChannelEof"
    assert info.value.offset == 5


def test_decode_error_names_message_field_and_offset() -> None:
    wire = ChannelData(7, b"payload").encode()[:-1]
    with pytest.raises(DecodeError) as info:
        ChannelData.decode(wire)
    err = info.value
    assert (err.message, err.field, err.offset) == ("ChannelData", "data", 5)
    assert "ChannelData" in str(err)
    assert "'data'" in str(err)
    assert "offset 5" in str(err)


def test_wrong_message_number() -> None:
    with pytest.raises(DecodeError, match="message number 96, expected 94") as info:
        ChannelData.decode(ChannelEof(1).encode())
    assert (info.value.message, info.value.offset) == ("ChannelData", 0)


def test_empty_input_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="truncated") as info:
        ChannelData.decode(b"")
    assert info.value.field == "message number"


def test_strict_flag_reaches_the_reader() -> None:
    wire = b"\x50" + b"\x00\x00\x00\x01x" + b"\x02"
    with pytest.raises(DecodeError, match="boolean"):
        GlobalRequest.decode(wire)
    assert GlobalRequest.decode(wire, strict=False) == GlobalRequest("x", True, b"")


def test_name_field_rejects_non_ascii_on_decode() -> None:
    with pytest.raises(DecodeError, match="non-ASCII") as info:
        ServiceRequest.decode(b"\x05\x00\x00\x00\x02\xc3\xa9")
    assert info.value.field == "service"


# -- instances -----------------------------------------------------------------------


def test_instances_are_frozen() -> None:
    msg = ChannelEof(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        msg.recipient = 2  # type: ignore[misc]


def test_instances_are_slotted() -> None:
    msg = ChannelEof(1)
    assert not hasattr(msg, "__dict__")
    assert "recipient" in type(msg).__slots__
    with pytest.raises((AttributeError, TypeError)):
        msg.extra = 1  # type: ignore[attr-defined]


def test_instances_compare_hash_and_repr_by_value() -> None:
    assert ChannelEof(1) == ChannelEof(1)
    assert ChannelEof(1) != ChannelEof(2)
    assert len({ChannelEof(1), ChannelEof(1)}) == 1
    assert repr(ChannelEof(1)) == "ChannelEof(recipient=1)"


def test_keyword_construction_and_replace() -> None:
    msg = Disconnect(reason=2, description="bad", language="en")
    assert dataclasses.replace(msg, reason=3).reason == 3


# -- encode errors are ValueError -------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        lambda: ChannelEof(-1),
        lambda: ChannelEof(1 << 32),
        lambda: ChannelEof("1"),  # type: ignore[arg-type]
        lambda: ChannelData(1, "text, not bytes"),  # type: ignore[arg-type]
        lambda: Disconnect(1, b"bytes", ""),  # type: ignore[arg-type]
        lambda: ServiceRequest("ssh-\u00e9"),
        lambda: ServiceRequest(None),  # type: ignore[arg-type]
        lambda: Cookie(b"short", 1),
        lambda: Cookie(bytes(16), 256),
    ],
)
def test_encode_errors_are_value_errors(bad: object) -> None:
    msg = bad()  # type: ignore[operator]
    with pytest.raises(ValueError, match=type(msg).__name__):
        msg.encode()


def test_encode_error_names_the_field() -> None:
    with pytest.raises(ValueError, match=r"ChannelEof\.recipient"):
        ChannelEof(-1).encode()


def test_name_list_and_mpint_encode_errors() -> None:
    class Lists(Struct):
        names: NameList
        n: MPInt

    with pytest.raises(ValueError, match=r"Lists\.names"):
        Lists(("a,b",), 1).encode()
    with pytest.raises(ValueError, match=r"Lists\.names"):
        Lists("abc", 1).encode()  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Lists\.n"):
        Lists((), 1.5).encode()  # type: ignore[arg-type]


# -- definition-time checks ------------------------------------------------------------


def test_plain_annotation_is_refused() -> None:
    with pytest.raises(TypeError, match="no wire type"):

        class Bad(Struct):
            x: int


def test_annotated_without_wire_type_is_refused() -> None:
    with pytest.raises(TypeError, match="no wire type"):

        class Bad(Struct):
            x: Annotated[int, "uint32"]


def test_two_wire_types_are_refused() -> None:
    with pytest.raises(TypeError, match="no wire type"):

        class Bad(Struct):
            x: Annotated[UInt32, Fixed(4)]


def test_unknown_annotation_name_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="cannot resolve"):

        class Bad(Struct):
            x: NoSuchType  # type: ignore[name-defined]  # noqa: F821


def test_rest_must_be_last() -> None:
    with pytest.raises(TypeError, match="Rest must be the last field"):

        class Bad(Struct):
            data: Rest
            after: UInt32


def test_fixed_size_must_be_non_negative() -> None:
    with pytest.raises(TypeError):
        Fixed(-1)


@pytest.mark.parametrize("number", [None, -1, 256, "20", True])
def test_message_needs_a_byte_number(number: object) -> None:
    namespace: dict[str, object] = {"__annotations__": {"x": UInt32}}
    if number is not None:
        namespace["NUMBER"] = number
    metaclass: Any = type(Message)
    with pytest.raises(TypeError, match="NUMBER"):
        metaclass("Bad", (Message,), namespace)


# -- message tables -----------------------------------------------------------------


TABLE = MessageTable(Disconnect, ChannelData, ChannelEof)


def test_decode_message_dispatches_on_the_number() -> None:
    assert decode_message(ChannelEof(5).encode(), TABLE) == ChannelEof(5)
    assert decode_message(Disconnect(2, "x", "").encode(), TABLE) == Disconnect(2, "x", "")


def test_decode_message_unknown_number() -> None:
    with pytest.raises(DecodeError, match="unexpected message number 5") as info:
        decode_message(ServiceRequest("ssh-userauth").encode(), TABLE)
    assert info.value.offset == 0


def test_decode_message_empty_payload() -> None:
    with pytest.raises(DecodeError, match="empty message"):
        decode_message(b"", TABLE)


def test_decode_message_rejects_trailing_bytes_and_honours_strict() -> None:
    with pytest.raises(DecodeError, match="trailing"):
        decode_message(ChannelEof(5).encode() + b"\x00", TABLE)
    table = MessageTable(GlobalRequest)
    wire = b"\x50\x00\x00\x00\x01x\x05"
    with pytest.raises(DecodeError):
        decode_message(wire, table)
    assert decode_message(wire, table, strict=False) == GlobalRequest("x", True, b"")


def test_table_lookup() -> None:
    assert 96 in TABLE
    assert 5 not in TABLE
    assert TABLE.get(94) is ChannelData
    assert TABLE.get(5) is None
    assert set(TABLE.numbers) == {1, 94, 96}


def test_table_refuses_duplicate_numbers() -> None:
    class OtherEof(Message):
        NUMBER = 96
        recipient: UInt32

    with pytest.raises(ValueError, match="two messages numbered 96"):
        MessageTable(ChannelEof, OtherEof)
    with pytest.raises(ValueError, match="two messages numbered 96"):
        TABLE.extended(OtherEof)


def test_extended_table_is_a_new_table() -> None:
    bigger = TABLE.extended(ServiceRequest)
    assert 5 in bigger
    assert 5 not in TABLE
