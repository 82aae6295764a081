"""Writer and the encode_* helpers: exact bytes, bounds, and clean failures."""

from __future__ import annotations

import array

import pytest

from ssh_wire import (
    Reader,
    Writer,
    encode_mpint,
    encode_name_list,
    encode_string,
    encode_uint32,
    encode_uint64,
)


def test_methods_chain_and_write_big_endian() -> None:
    w = Writer().byte(20).boolean(True).boolean(False).uint32(0x01020304).uint64(5)
    assert w.getvalue() == b"\x14\x01\x00\x01\x02\x03\x04" + b"\x00" * 7 + b"\x05"
    assert len(w) == 15


def test_initial_bytes_and_buffer() -> None:
    w = Writer(b"\x5e").uint32(1)
    assert w.buffer() == bytearray(b"\x5e\x00\x00\x00\x01")
    assert isinstance(w.buffer(), bytearray)


def test_string_text_raw() -> None:
    w = Writer().string(b"testing").text("h\u00e9").raw(b"!!")
    assert w.getvalue() == b"\x00\x00\x00\x07testing" + b"\x00\x00\x00\x03h\xc3\xa9" + b"!!"


def test_string_of_a_non_byte_memoryview_prefixes_its_byte_length() -> None:
    words = memoryview(array.array("I", [1, 2]))
    encoded = Writer().string(words).getvalue()
    assert encoded[:4] == b"\x00\x00\x00\x08"
    assert Reader(encoded).string() == bytes(words)
    assert encode_string(words) == encoded


@pytest.mark.parametrize(
    ("names", "body"),
    [((), b""), (("zlib",), b"zlib"), (["zlib", "none"], b"zlib,none")],
)
def test_name_list(names: tuple[str, ...], body: bytes) -> None:
    expected = len(body).to_bytes(4, "big") + body
    assert Writer().name_list(names).getvalue() == expected
    assert encode_name_list(names) == expected
    assert encode_name_list(iter(names)) == expected


@pytest.mark.parametrize("bad", ["", "a,b", "nul\x00", "z\u00fcrich"])
def test_name_list_rejects_names_that_cannot_round_trip(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid name"):
        Writer().name_list(["ok", bad])


def test_name_list_refuses_a_bare_string() -> None:
    # Iterating "zlib" would give the names z, l, i, b.
    with pytest.raises(TypeError):
        Writer().name_list("zlib")
    with pytest.raises(TypeError):
        encode_name_list("zlib")


@pytest.mark.parametrize("value", [-1, 1 << 32])
def test_uint32_out_of_range_is_value_error(value: int) -> None:
    with pytest.raises(ValueError, match="uint32"):
        Writer().uint32(value)
    with pytest.raises(ValueError, match="uint32"):
        encode_uint32(value)


@pytest.mark.parametrize("value", [-1, 1 << 64])
def test_uint64_out_of_range_is_value_error(value: int) -> None:
    with pytest.raises(ValueError, match="uint64"):
        Writer().uint64(value)
    with pytest.raises(ValueError, match="uint64"):
        encode_uint64(value)


def test_uint_bounds_are_inclusive() -> None:
    assert encode_uint32(0xFFFF_FFFF) == b"\xff" * 4
    assert encode_uint64(0xFFFF_FFFF_FFFF_FFFF) == b"\xff" * 8
    assert encode_uint32(0) == b"\x00" * 4


@pytest.mark.parametrize("value", [-1, 256])
def test_byte_out_of_range_is_value_error(value: int) -> None:
    with pytest.raises(ValueError, match="range"):
        Writer().byte(value)


def test_failed_string_leaves_the_buffer_unchanged() -> None:
    w = Writer().byte(1)
    with pytest.raises(TypeError):
        w.string("not bytes")  # type: ignore[arg-type]
    assert w.getvalue() == b"\x01"


def test_text_refuses_bytes() -> None:
    with pytest.raises(TypeError):
        Writer().text(b"bytes")  # type: ignore[arg-type]


def test_text_refuses_lone_surrogates() -> None:
    with pytest.raises(UnicodeEncodeError, match="surrogate"):
        Writer().text("\ud800")


def test_encode_string_accepts_str_as_utf8() -> None:
    assert encode_string("\u2603") == b"\x00\x00\x00\x03\xe2\x98\x83"
    assert encode_string(b"ab") == b"\x00\x00\x00\x02ab"


def test_helpers_match_the_writer() -> None:
    assert encode_mpint(-1) == Writer().mpint(-1).getvalue()
    assert encode_uint32(7) == Writer().uint32(7).getvalue()
    assert encode_uint64(7) == Writer().uint64(7).getvalue()
    assert encode_string(b"x") == Writer().string(b"x").getvalue()
