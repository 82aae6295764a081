"""The generated codecs behave exactly like the generic schema methods.

Every outcome (value, or exception type, text, field and offset) of the fast
encode/decode functions is compared with the generic Reader/Writer path they
replace, on valid values, unusual-but-valid values, bad values and every
single-byte mutation of a valid encoding.
"""

from __future__ import annotations

import array
from collections.abc import Callable
from typing import Annotated, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wire_samples import EXAMPLES, SCHEMAS, instances

from ssh_wire import (
    Boolean,
    DecodeError,
    Fixed,
    Message,
    Name,
    NameList,
    Reader,
    String,
    Struct,
    Text,
    UInt32,
    WireType,
    Writer,
)

SETTINGS = settings(max_examples=100, deadline=None)


def _name(cls: type[Struct]) -> str:
    return cls.__name__


def _base(cls: type[Struct]) -> type[Struct]:
    return Message if issubclass(cls, Message) else Struct


# -- the reference: the generic methods, called directly --------------------------------


def reference_read_from(cls: type[Struct], r: Reader) -> Struct:
    return _base(cls).__dict__["read_from"].__func__(cls, r)  # type: ignore[no-any-return]


def reference_decode(cls: type[Struct], data: Any, strict: bool = True) -> Struct:
    r = Reader(data, strict=strict)
    value = reference_read_from(cls, r)
    if not r.at_end():
        raise DecodeError(f"{r.remaining} trailing bytes", offset=r.offset, message=cls.__name__)
    return value


def reference_encode_into(value: Struct, w: Writer) -> None:
    _base(type(value)).__dict__["encode_into"](value, w)


def reference_encode(value: Struct) -> bytes:
    w = Writer()
    reference_encode_into(value, w)
    return w.getvalue()


def outcome(fn: Callable[[], object]) -> tuple[object, ...]:
    """What a call did, comparable across implementations."""
    try:
        result = fn()
    except DecodeError as exc:
        return ("DecodeError", str(exc), exc.reason, exc.field, exc.offset, exc.message)
    except Exception as exc:  # the exact type is what is compared
        return (type(exc).__name__, str(exc))
    return ("ok", type(result).__name__, result)


def assert_decodes_alike(cls: type[Struct], data: bytes) -> None:
    for strict in (True, False):
        expected = outcome(lambda s=strict: reference_decode(cls, data, s))  # type: ignore[misc]
        for buf in (data, bytearray(data), memoryview(data)):
            got = outcome(lambda b=buf, s=strict: cls.decode(b, strict=s))  # type: ignore[misc]
            assert got == expected
    # read_from inside a larger buffer, with a tighter string limit, leaves the same position.
    for max_string in (1 << 20, 8):
        wire = b"\xaa\xbb" + data + b"\xcc"

        def read(how: Callable[[Reader], object]) -> tuple[object, ...]:
            r = Reader(wire, max_string=max_string)  # noqa: B023
            r.raw(2)
            return (*outcome(lambda: how(r)), r.offset)

        assert read(cls.read_from) == read(lambda r: reference_read_from(cls, r))


def mutations(data: bytes) -> list[bytes]:
    out = [data[:end] for end in range(len(data))]
    out += [data + b"\x00", data + b"\xff\xff"]
    for i in range(len(data)):
        for value in {0, 1, 2, 0x2C, 0x7F, 0x80, 0xFF, data[i] ^ 1}:
            out.append(data[:i] + bytes([value]) + data[i + 1 :])
    return out


# -- decoding -----------------------------------------------------------------------------


@pytest.mark.parametrize("cls", SCHEMAS, ids=_name)
def test_generated_codecs_are_installed(cls: type[Struct]) -> None:
    # Generated on first use.
    cls.decode(EXAMPLES[cls].encode())
    EXAMPLES[cls].encode()
    for name in ("decode", "read_from"):
        assert hasattr(getattr(cls, name).__func__, "__ssh_wire_source__")
    for name in ("encode", "encode_into"):
        assert hasattr(getattr(cls, name), "__ssh_wire_source__")


@pytest.mark.parametrize("cls", SCHEMAS, ids=_name)
def test_mutated_encodings_decode_alike(cls: type[Struct]) -> None:
    for data in mutations(EXAMPLES[cls].encode()):
        assert_decodes_alike(cls, data)


@pytest.mark.parametrize("cls", SCHEMAS, ids=_name)
@SETTINGS
@given(data=st.data())
def test_random_instances_decode_alike(cls: type[Struct], data: st.DataObject) -> None:
    wire = reference_encode(data.draw(instances(cls)))
    assert_decodes_alike(cls, wire)
    cut = data.draw(st.integers(0, len(wire)))
    assert_decodes_alike(cls, wire[:cut])


class Lists(Struct):
    names: NameList
    text: Text


@pytest.mark.parametrize(
    "body",
    [
        "a,,b",
        ",a",
        "a,",
        "a\x00b",
        "x" * 300,
        "a," + "x" * 257,
        ",".join(["n"] * 1025),
        ",".join(["n"] * 1024),
    ],
)
def test_name_list_rules_decode_alike(body: str) -> None:
    raw = body.encode("ascii")
    assert_decodes_alike(Lists, len(raw).to_bytes(4, "big") + raw + b"\x00\x00\x00\x00")


def test_bad_text_and_names_decode_alike() -> None:
    assert_decodes_alike(Lists, b"\x00\x00\x00\x01\xe9\x00\x00\x00\x00")
    assert_decodes_alike(Lists, b"\x00\x00\x00\x01a\x00\x00\x00\x02\xc3(")


# -- encoding -------------------------------------------------------------------------------


def assert_encodes_alike(value: Struct) -> None:
    assert outcome(value.encode) == outcome(lambda: reference_encode(value))
    # encode_into appends after what is there, and leaves the same bytes behind on failure.
    fast, slow = Writer(b"head"), Writer(b"head")
    assert outcome(lambda: value.encode_into(fast)) == outcome(
        lambda: reference_encode_into(value, slow)
    )
    assert fast.getvalue() == slow.getvalue()


@pytest.mark.parametrize("cls", SCHEMAS, ids=_name)
@SETTINGS
@given(data=st.data())
def test_random_instances_encode_alike(cls: type[Struct], data: st.DataObject) -> None:
    assert_encodes_alike(data.draw(instances(cls)))


class Everything(Message):
    NUMBER = 200
    flag: Boolean
    n: UInt32
    cookie: Annotated[bytes, Fixed(4)]
    blob: String
    text: Text
    name: Name
    names: NameList


GOOD: dict[str, object] = {
    "flag": True,
    "n": 7,
    "cookie": b"abcd",
    "blob": b"xyz",
    "text": "t\u00e9",
    "name": "ssh",
    "names": ("a", "b"),
}


class Str(str):
    pass


def _noncontiguous() -> memoryview:
    return memoryview(b"abcdef")[::2]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        # unusual but valid
        ("flag", 2),
        ("flag", []),
        ("n", True),
        ("cookie", bytearray(b"abcd")),
        ("cookie", memoryview(b"abcd")),
        ("blob", bytearray(b"xyz")),
        ("blob", memoryview(b"xyz")),
        ("blob", array.array("I", [1, 2])),
        ("blob", memoryview(array.array("H", [1, 2, 3]))),
        ("text", Str("sub")),
        ("name", Str("sub")),
        ("names", ["a", "b"]),
        ("names", iter(["a", "b"])),
        ("names", (Str("a"), "b")),
        ("names", ()),
        # invalid
        ("flag", None),
        ("n", -1),
        ("n", 1 << 32),
        ("n", 1.0),
        ("cookie", b"abc"),
        ("cookie", "abcd"),
        ("blob", "text"),
        ("blob", None),
        ("blob", _noncontiguous()),
        ("text", b"bytes"),
        ("text", "\ud800"),
        ("name", "\u00e9"),
        ("name", None),
        ("names", ("a,b",)),
        ("names", ("",)),
        ("names", ("a", "")),
        ("names", ("a\x00",)),
        ("names", ("\u00e9",)),
        ("names", ("a", 1)),
        ("names", "ab"),
        ("names", None),
    ],
)
def test_odd_values_encode_alike(field: str, value: object) -> None:
    values = dict(GOOD, **{field: value})
    if isinstance(value, type(iter([]))):
        # A one-shot iterator: each implementation gets its own.
        items = list(value)
        for encode in (lambda m: m.encode(), reference_encode):
            values[field] = iter(items)
            fresh = Everything(**values)  # type: ignore[arg-type]
            assert encode(fresh) == reference_encode(Everything(**dict(values, names=items)))  # type: ignore[arg-type]
        return
    assert_encodes_alike(Everything(**values))  # type: ignore[arg-type]


def test_rest_takes_any_buffer() -> None:
    class Tail(Struct):
        data: Annotated[bytes, WireType("rest", lambda r, f: r.rest(), Writer.raw)]

    class FastTail(Struct):
        n: UInt32
        data: Annotated[bytes, Fixed(0)]

    for data in (b"x", bytearray(b"x"), memoryview(b"x"), "x", _noncontiguous()):
        assert_encodes_alike(Tail(data))  # a user-made WireType keeps the generic path
    assert_encodes_alike(FastTail(1, b""))


# -- overrides and construction keep their meaning ---------------------------------------


class Point(Struct):
    x: UInt32
    y: UInt32


def test_user_override_of_encode_into_is_still_used() -> None:
    class Tagged(Point):
        def encode_into(self, w: Writer) -> None:
            w.raw(b"T")
            # Not super(): dataclass(slots=True) rebuilds the class, which breaks its cell.
            Point.encode_into(self, w)

    assert Tagged(1, 2).encode() == b"T" + Point(1, 2).encode()
    # Tagged keeps Point's generated encode, which defers to the generic one for Tagged.
    assert "encode" not in Tagged.__dict__

    class TaggedChild(Tagged):
        z: UInt32

    assert TaggedChild(1, 2, 3).encode() == b"T" + b"".join(n.to_bytes(4, "big") for n in (1, 2, 3))


def test_user_override_of_read_from_is_still_used() -> None:
    class Swapped(Point):
        @classmethod
        def read_from(cls, r: Reader) -> Swapped:
            p = Point.read_from.__func__(cls, r)  # type: ignore[attr-defined]
            return cls(p.y, p.x)

    assert Swapped.decode(Point(1, 2).encode()) == Swapped(2, 1)


def test_post_init_still_runs_on_decode() -> None:
    seen: list[object] = []

    class Checked(Point):
        def __post_init__(self) -> None:
            seen.append(self)

    value = Checked.decode(Point(1, 2).encode())
    assert value == Checked(1, 2)
    assert len(seen) == 2


def test_custom_init_still_runs_on_decode() -> None:
    class Doubled(Struct):
        x: UInt32

        def __init__(self, x: int) -> None:
            object.__setattr__(self, "x", x * 2)

    assert Doubled.decode(b"\x00\x00\x00\x02").x == 4


def test_decoded_instances_are_normal_instances() -> None:
    p = Point.decode(Point(1, 2).encode())
    assert p == Point(1, 2)
    assert hash(p) == hash(Point(1, 2))
    assert repr(p) == "Point(x=1, y=2)"
    with pytest.raises(AttributeError):
        p.x = 3  # type: ignore[misc]


def test_inherited_codecs_serve_the_subclass_generically() -> None:
    class Point3(Point):
        z: UInt32

    wire = Point3(1, 2, 3).encode()
    # Point's own generated functions, called for the subclass, fall back to its plan.
    assert Point.decode.__func__(Point3, wire) == Point3(1, 2, 3)  # type: ignore[attr-defined]
    assert Point.__dict__["encode"](Point3(1, 2, 3)) == wire


def test_codecs_are_generated_on_first_use() -> None:
    class Late(Struct):
        x: UInt32

    stub_encode, stub_decode = Late(5).encode, Late.decode  # captured before first use
    assert not hasattr(Late.__dict__["encode"], "__ssh_wire_source__")
    assert stub_encode() == b"\x00\x00\x00\x05"
    assert hasattr(Late.__dict__["encode"], "__ssh_wire_source__")
    for _ in range(2):  # the stubs keep working, and do not regenerate
        assert stub_encode() == b"\x00\x00\x00\x05"
        assert stub_decode(b"\x00\x00\x00\x05") == Late(5)
    with pytest.raises(DecodeError, match="trailing"):
        stub_decode(b"\x00\x00\x00\x05!")
