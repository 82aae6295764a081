"""Declarative message schemas: a message is declared once, as the RFC lays it out.

    class Disconnect(Message):
        NUMBER = MSG_DISCONNECT
        reason: UInt32
        description: Text
        language: Text

A subclass becomes a frozen, slotted dataclass whose encode/decode plan is
compiled once, when the class is created; an annotation the schema does not
understand fails right there. Decoding is strict: every read is bounded,
trailing bytes are rejected unless the last field is :data:`Rest`, and errors
name the message, field and offset.

Schemas made of the builtin wire types also get specialised encode/decode
functions generated when the class is created (see :mod:`.codegen`); the
generic methods below stay the reference behaviour those fall back to.
"""

from __future__ import annotations

import dataclasses
import struct
import typing
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeVar

from .codegen import FieldKind, build_codecs
from .errors import DecodeError
from .reader import Buffer, Reader
from .writer import Writer

if TYPE_CHECKING:
    from typing_extensions import Self, dataclass_transform
else:

    def dataclass_transform(**_: object) -> Callable[[type], type]:
        return lambda cls: cls


__all__ = [
    "WireType",
    "Fixed",
    "Byte",
    "Boolean",
    "UInt32",
    "UInt64",
    "String",
    "Text",
    "Name",
    "MPInt",
    "NameList",
    "Rest",
    "Struct",
    "Message",
    "MessageTable",
    "decode_message",
]


@dataclasses.dataclass(frozen=True)
class WireType:
    """How one field is read and written. Used as an ``Annotated`` marker."""

    name: str
    read: Callable[[Reader, str], Any]
    write: Callable[[Writer, Any], object]


# Fixed's reader and writer are small classes, not closures, so the code generator
# can recognise them and learn the size.
@dataclasses.dataclass(frozen=True)
class _ReadFixed:
    size: int

    def __call__(self, r: Reader, field: str) -> bytes:
        return r.raw(self.size, field)


@dataclasses.dataclass(frozen=True)
class _WriteFixed:
    size: int

    def __call__(self, w: Writer, value: bytes) -> None:
        if len(value) != self.size:
            raise ValueError(f"expected {self.size} bytes, got {len(value)}")
        w.raw(value)


def Fixed(size: int) -> WireType:  # a function that reads as a type in annotations
    """Exactly ``size`` raw bytes with no length prefix (e.g. the KEXINIT cookie)."""
    if not isinstance(size, int) or size < 0:
        raise TypeError(f"Fixed() takes a size >= 0, not {size!r}")
    return WireType(f"byte[{size}]", _ReadFixed(size), _WriteFixed(size))


def _write_names(w: Writer, value: tuple[str, ...]) -> None:
    w.name_list(value)


def _write_name(w: Writer, value: str) -> None:
    if not isinstance(value, str):
        raise TypeError(f"name must be a str, not {type(value).__name__}")
    w.string(value.encode("ascii"))


BYTE = WireType("byte", Reader.byte, Writer.byte)
BOOLEAN = WireType("boolean", Reader.boolean, Writer.boolean)
UINT32 = WireType("uint32", Reader.uint32, Writer.uint32)
UINT64 = WireType("uint64", Reader.uint64, Writer.uint64)
STRING = WireType("string", Reader.string, Writer.string)
TEXT = WireType("text", Reader.text, Writer.text)
NAME = WireType("name", Reader.ascii, _write_name)
MPINT = WireType("mpint", Reader.mpint, Writer.mpint)
NAME_LIST = WireType("name-list", Reader.name_list, _write_names)
REST = WireType("rest", lambda r, f: r.rest(), Writer.raw)

Byte = Annotated[int, BYTE]
Boolean = Annotated[bool, BOOLEAN]
UInt32 = Annotated[int, UINT32]
UInt64 = Annotated[int, UINT64]
String = Annotated[bytes, STRING]
#: UTF-8 text in a ``string``.
Text = Annotated[str, TEXT]
#: US-ASCII text in a ``string`` (algorithm, method and request names).
Name = Annotated[str, NAME]
MPInt = Annotated[int, MPINT]
NameList = Annotated[tuple[str, ...], NAME_LIST]
#: Everything after the other fields; only allowed last.
Rest = Annotated[bytes, REST]


_Plan = tuple[tuple[str, WireType], ...]

# The wire types the code generator knows, by identity (a user-made WireType is opaque
# to it, and a schema using one keeps the generic methods).
_KINDS: dict[int, str] = {
    id(w): w.name
    for w in (BYTE, BOOLEAN, UINT32, UINT64, STRING, TEXT, NAME, MPINT, NAME_LIST, REST)
}


def _field_kinds(plan: _Plan) -> list[FieldKind] | None:
    kinds: list[FieldKind] = []
    for name, wire in plan:
        if isinstance(wire.read, _ReadFixed) and isinstance(wire.write, _WriteFixed):
            if wire.read.size != wire.write.size:
                return None
            kinds.append((name, "fixed", wire.read.size))
        elif id(wire) in _KINDS:
            kinds.append((name, _KINDS[id(wire)], 0))
        else:
            return None
    return kinds


def _compile(cls: type) -> _Plan:
    try:
        hints = typing.get_type_hints(cls, include_extras=True)
    except NameError as exc:
        # Postponed annotations resolve here; an unknown name is a bad annotation too.
        raise TypeError(f"{cls.__name__}: cannot resolve an annotation: {exc}") from None
    plan: list[tuple[str, WireType]] = []
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        markers = [m for m in getattr(hint, "__metadata__", ()) if isinstance(m, WireType)]
        if len(markers) != 1:
            raise TypeError(f"{cls.__name__}.{f.name}: annotation {hint!r} has no wire type")
        plan.append((f.name, markers[0]))
    for name, wire in plan[:-1]:
        if wire is REST:
            raise TypeError(f"{cls.__name__}.{name}: Rest must be the last field")
    if getattr(cls, "_numbered", False):
        number = getattr(cls, "NUMBER", None)
        if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= 255:
            raise TypeError(f"{cls.__name__}: NUMBER must be an int 0-255, not {number!r}")
    return tuple(plan)


@dataclass_transform(frozen_default=True)
class _StructMeta(type):
    def __new__(
        mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any
    ) -> _StructMeta:
        cls = super().__new__(mcs, name, bases, namespace, **kwargs)
        if namespace.get("_abstract", False) or "__slots__" in namespace:
            # The bases themselves, or the class dataclass() rebuilds with slots.
            if "__slots__" in namespace and not namespace.get("_abstract", False):
                cls._plan = _compile(cls)  # type: ignore[attr-defined]
            return cls
        # slots=True builds a new class, which comes back through here to compile its plan.
        made = dataclasses.dataclass(frozen=True, slots=True)(typing.cast(Any, cls))
        # The class dict of `made` holds dataclass's own __init__ unless this body defined one.
        _install_codecs(made, own_init="__init__" in namespace)
        return typing.cast(_StructMeta, made)


_T = TypeVar("_T", bound="Struct")


class Struct(metaclass=_StructMeta):
    """A wire structure without a message number (a key blob, a request body)."""

    __slots__ = ()
    _abstract: ClassVar[bool] = True
    _plan: ClassVar[_Plan]

    def encode(self) -> bytes:
        w = Writer()
        self.encode_into(w)
        return w.getvalue()

    def encode_into(self, w: Writer) -> None:
        for name, wire in self._plan:
            try:
                wire.write(w, getattr(self, name))
            except (ValueError, TypeError, OverflowError, struct.error) as exc:
                raise ValueError(f"{type(self).__name__}.{name}: {exc}") from None

    @classmethod
    def read_from(cls, r: Reader) -> Self:
        """Read this structure from the reader's position, leaving the rest."""
        try:
            values = [wire.read(r, name) for name, wire in cls._plan]
        except DecodeError as exc:
            raise exc.within(cls.__name__) from None
        return cls(*values)

    @classmethod
    def decode(cls, data: Buffer, *, strict: bool = True) -> Self:
        """Decode exactly one structure; trailing bytes are an error."""
        return _decode_generic(cls, data, strict)


def _decode_generic(cls: type[_T], data: Buffer, strict: bool) -> _T:
    r = Reader(data, strict=strict)
    value = cls.read_from(r)
    if not r.at_end():
        raise DecodeError(f"{r.remaining} trailing bytes", offset=r.offset, message=cls.__name__)
    return value


class Message(Struct):
    """A message: its number byte, then its fields."""

    __slots__ = ()
    _abstract: ClassVar[bool] = True
    _numbered: ClassVar[bool] = True
    NUMBER: ClassVar[int]

    def encode_into(self, w: Writer) -> None:
        w.byte(self.NUMBER)
        super().encode_into(w)

    @classmethod
    def read_from(cls, r: Reader) -> Self:
        start = r.offset
        number = r.byte("message number")
        if number != cls.NUMBER:
            raise DecodeError(
                f"message number {number}, expected {cls.NUMBER}",
                offset=start,
                message=cls.__name__,
            )
        return super().read_from(r)


_CODEC_NAMES = ("encode", "encode_into", "read_from", "decode")
_CLASSMETHODS = ("read_from", "decode")


def _is_ours(cls: type, name: str) -> bool:
    """Whether ``cls.<name>`` is this module's (generic or generated), not a user override."""
    for k in cls.__mro__:
        if name in k.__dict__:
            attr = k.__dict__[name]
            return k in (Struct, Message) or hasattr(
                getattr(attr, "__func__", attr), "__ssh_wire_codec__"
            )
    return False


def _install_codecs(cls: type[Struct], *, own_init: bool) -> None:
    """Give ``cls`` generated codecs where it does not override the generic methods.

    What is installed now are stubs that generate the real functions on first use:
    compiling them costs about a millisecond per schema, and a program imports
    many schemas it never sends or receives.
    """
    kinds = _field_kinds(cls._plan)
    if kinds is None:
        return  # a user-made WireType: the generic methods serve
    ours = {name: _is_ours(cls, name) for name in _CODEC_NAMES}
    # encode calls encode_into and decode calls read_from: a user override of the
    # inner one must keep being called, so the outer one stays generic too.
    names = [
        name
        for name, inner in (
            ("encode_into", "encode_into"),
            ("encode", "encode_into"),
            ("read_from", "read_from"),
            ("decode", "read_from"),
        )
        if ours[name] and ours[inner]
    ]
    if not names:
        return
    base: type[Struct] = Message if issubclass(cls, Message) else Struct
    done: list[bool] = []

    def materialise() -> None:
        if done:
            return
        codecs = build_codecs(
            cls,
            kinds,
            cls.NUMBER if issubclass(cls, Message) else None,
            # Bypassing __init__ is only the same as calling it when it is dataclass's own.
            plain_init=not own_init
            and not hasattr(cls, "__post_init__")
            and cls.__new__ is object.__new__,
            generic={
                "encode": Struct.encode,
                # The base's own methods, not cls's: those are the ones being replaced.
                "encode_into": base.__dict__["encode_into"],
                "read_from": base.__dict__["read_from"].__func__,
                "decode": _decode_generic,
            },
        )
        for name in names:
            fn = codecs[name]
            setattr(cls, name, classmethod(fn) if name in _CLASSMETHODS else fn)
        done.append(True)

    # The stubs hand over to whatever materialise() installed, which checks the class.
    def encode(self: Struct) -> bytes:
        materialise()
        return cls.__dict__["encode"](self)  # type: ignore[no-any-return]

    def encode_into(self: Struct, w: Writer) -> None:
        materialise()
        cls.__dict__["encode_into"](self, w)

    def read_from(klass: type[Struct], r: Reader) -> Struct:
        materialise()
        return cls.__dict__["read_from"].__func__(klass, r)  # type: ignore[no-any-return]

    def decode(klass: type[Struct], data: Buffer, *, strict: bool = True) -> Struct:
        materialise()
        return cls.__dict__["decode"].__func__(klass, data, strict=strict)  # type: ignore[no-any-return]

    stubs: dict[str, Callable[..., Any]] = {
        "encode": encode,
        "encode_into": encode_into,
        "read_from": read_from,
        "decode": decode,
    }
    for name in names:
        stub = stubs[name]
        stub.__qualname__ = f"{cls.__qualname__}.{name}"
        stub.__ssh_wire_codec__ = True  # type: ignore[attr-defined]
        setattr(cls, name, classmethod(stub) if name in _CLASSMETHODS else stub)


class MessageTable:
    """Maps message numbers to schemas for one protocol state.

    Numbers 30-49 (kex) and 60-79 (userauth) mean different things in different
    states, so each state decodes through its own table.
    """

    __slots__ = ("_by_number",)

    def __init__(self, *messages: type[Message]) -> None:
        by_number: dict[int, type[Message]] = {}
        for m in messages:
            if m.NUMBER in by_number:
                raise ValueError(f"two messages numbered {m.NUMBER}")
            by_number[m.NUMBER] = m
        self._by_number = by_number

    def __contains__(self, number: int) -> bool:
        return number in self._by_number

    def get(self, number: int) -> type[Message] | None:
        return self._by_number.get(number)

    @property
    def numbers(self) -> Mapping[int, type[Message]]:
        return self._by_number

    def extended(self, *messages: type[Message]) -> MessageTable:
        return MessageTable(*self._by_number.values(), *messages)


def decode_message(data: Buffer, table: MessageTable, *, strict: bool = True) -> Message:
    """Decode a whole message payload using the schema its number selects."""
    if not data:
        raise DecodeError("empty message", offset=0)
    number = data[0]
    cls = table.get(number)
    if cls is None:
        raise DecodeError(f"unexpected message number {number}", offset=0)
    return cls.decode(data, strict=strict)
