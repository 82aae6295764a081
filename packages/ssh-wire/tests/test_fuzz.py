"""Every decoder is total: mutated or random input gives a value or a DecodeError.

Mutations are exhaustive for a valid example of each schema (every truncation,
every 1-bit flip, every replacement of one byte by each other value); random
bytes come from hypothesis. Whenever a mutated input does decode in strict mode,
re-encoding the value must give the same bytes back: strict decoding is canonical.
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wire_samples import EXAMPLES, SCHEMAS, TABLE, instances

from ssh_wire import DecodeError, Message, Reader, Struct, decode_message

SETTINGS = settings(max_examples=200, deadline=None)


def _name(cls: type[Struct]) -> str:
    return cls.__name__


def has_rest(cls: type[Struct]) -> bool:
    return any(wire.name == "rest" for _, wire in cls._plan)


def decode_total(cls: type[Struct], data: bytes) -> None:
    """Decode strictly and leniently; only DecodeError may escape, and strict is canonical."""
    try:
        value = cls.decode(data)
    except DecodeError:
        pass
    else:
        assert value.encode() == data
    with contextlib.suppress(DecodeError):
        cls.decode(data, strict=False)
    if issubclass(cls, Message):
        with contextlib.suppress(DecodeError):
            decode_message(data, TABLE)


@pytest.mark.parametrize("cls", SCHEMAS, ids=_name)
def test_every_truncation(cls: type[Struct]) -> None:
    encoded = EXAMPLES[cls].encode()
    for end in range(len(encoded)):
        if has_rest(cls):
            decode_total(cls, encoded[:end])
        else:
            # Without Rest the encoding fixes its own length, so a prefix never decodes.
            with pytest.raises(DecodeError):
                cls.decode(encoded[:end])


@pytest.mark.parametrize("cls", SCHEMAS, ids=_name)
def test_every_leading_cut(cls: type[Struct]) -> None:
    encoded = EXAMPLES[cls].encode()
    for start in range(1, len(encoded) + 1):
        decode_total(cls, encoded[start:])


@pytest.mark.parametrize("cls", SCHEMAS, ids=_name)
def test_every_bit_flip(cls: type[Struct]) -> None:
    encoded = EXAMPLES[cls].encode()
    for i in range(len(encoded)):
        for bit in range(8):
            mutated = bytearray(encoded)
            mutated[i] ^= 1 << bit
            decode_total(cls, bytes(mutated))


@pytest.mark.parametrize("cls", SCHEMAS, ids=_name)
def test_every_byte_replacement(cls: type[Struct]) -> None:
    encoded = EXAMPLES[cls].encode()
    for i in range(len(encoded)):
        for value in range(256):
            if value != encoded[i]:
                mutated = bytearray(encoded)
                mutated[i] = value
                decode_total(cls, bytes(mutated))


@pytest.mark.parametrize("cls", SCHEMAS, ids=_name)
def test_appended_bytes(cls: type[Struct]) -> None:
    encoded = EXAMPLES[cls].encode()
    for extra in (b"\x00", b"\xff" * 4, b"\x00\x00\x00\x01x"):
        if has_rest(cls):
            decode_total(cls, encoded + extra)
        else:
            with pytest.raises(DecodeError, match="trailing"):
                cls.decode(encoded + extra)


@pytest.mark.parametrize("cls", SCHEMAS, ids=_name)
@SETTINGS
@given(data=st.binary(max_size=512))
def test_random_bytes(cls: type[Struct], data: bytes) -> None:
    decode_total(cls, data)


@pytest.mark.parametrize("cls", [c for c in SCHEMAS if issubclass(c, Message)], ids=_name)
@SETTINGS
@given(data=st.binary(max_size=256))
def test_random_bytes_after_the_right_number(cls: type[Message], data: bytes) -> None:
    # Random bytes rarely start with the right number; this gets past that check.
    decode_total(cls, bytes([cls.NUMBER]) + data)


@pytest.mark.parametrize("cls", SCHEMAS, ids=_name)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_mutated_random_instances(cls: type[Struct], data: st.DataObject) -> None:
    encoded = bytearray(data.draw(instances(cls)).encode())
    if not encoded:
        return
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(encoded) - 1))
        encoded[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(encoded)))
    decode_total(cls, bytes(encoded[:cut]))


READS = [
    "byte",
    "boolean",
    "uint32",
    "uint64",
    "string",
    "text",
    "ascii",
    "mpint",
    "positive_mpint",
    "name_list",
]


@SETTINGS
@given(st.binary(max_size=64), st.lists(st.sampled_from(READS), min_size=1, max_size=8))
def test_reader_on_random_bytes(data: bytes, reads: list[str]) -> None:
    for strict in (True, False):
        r = Reader(data, strict=strict)
        error: DecodeError | None = None
        try:
            for read in reads:
                before = r.offset
                getattr(r, read)()
                assert r.offset > before
        except DecodeError as exc:
            error = exc
        if error is not None:
            assert error.offset is not None
            assert 0 <= error.offset <= len(data)
        assert 0 <= r.offset <= len(data)
