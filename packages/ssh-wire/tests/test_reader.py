"""Reader: RFC 4251 section 5 types, bounds, limits and the errors it raises."""

from __future__ import annotations

import array
import tracemalloc

import pytest

from ssh_wire import MAX_NAME, MAX_STRING, DecodeError, Reader


def u32(n: int) -> bytes:
    return n.to_bytes(4, "big")


def s(data: bytes) -> bytes:
    return u32(len(data)) + data


# -- fixed-size types ----------------------------------------------------------------


def test_byte_uint32_uint64_read_big_endian() -> None:
    r = Reader(b"\x07" + b"\x01\x02\x03\x04" + b"\x00\x00\x00\x01\x00\x00\x00\x02")
    assert r.byte() == 7
    assert r.uint32() == 0x01020304
    assert r.uint64() == (1 << 32) + 2
    assert r.at_end()


def test_uint32_and_uint64_bounds() -> None:
    r = Reader(b"\x00" * 4 + b"\xff" * 4 + b"\x00" * 8 + b"\xff" * 8)
    assert r.uint32() == 0
    assert r.uint32() == 0xFFFF_FFFF
    assert r.uint64() == 0
    assert r.uint64() == 0xFFFF_FFFF_FFFF_FFFF


@pytest.mark.parametrize(("data", "value"), [(b"\x00", False), (b"\x01", True)])
def test_boolean_zero_and_one(data: bytes, value: bool) -> None:
    assert Reader(data).boolean() is value


@pytest.mark.parametrize("raw", [2, 0x7F, 0xFF])
def test_strict_boolean_rejects_other_values(raw: int) -> None:
    with pytest.raises(DecodeError, match="boolean must be 0 or 1") as info:
        Reader(bytes([raw]), strict=True).boolean("want_reply")
    assert info.value.field == "want_reply"
    assert info.value.offset == 0


@pytest.mark.parametrize("raw", [2, 0x7F, 0xFF])
def test_lenient_boolean_reads_nonzero_as_true(raw: int) -> None:
    # RFC 4251 5: "all non-zero values MUST be interpreted as TRUE".
    assert Reader(bytes([raw]), strict=False).boolean() is True


@pytest.mark.parametrize(
    ("method", "size"), [("byte", 1), ("boolean", 1), ("uint32", 4), ("uint64", 8)]
)
def test_fixed_size_reads_refuse_short_input(method: str, size: int) -> None:
    r = Reader(b"\x00" * (size - 1))
    with pytest.raises(DecodeError, match="truncated") as info:
        getattr(r, method)("f")
    assert info.value.field == "f"
    assert info.value.offset == 0
    assert r.offset == 0


def test_raw_reads_exactly_n_bytes() -> None:
    r = Reader(b"abcdef")
    assert r.raw(4) == b"abcd"
    assert r.raw(0) == b""
    with pytest.raises(DecodeError, match="truncated"):
        r.raw(3, "cookie")
    assert r.rest() == b"ef"


def test_raw_refuses_a_negative_length() -> None:
    r = Reader(b"abcdef")
    r.raw(2)
    with pytest.raises(DecodeError, match="negative"):
        r.raw(-1)
    assert r.offset == 2


def test_rest_takes_everything_left() -> None:
    r = Reader(b"\x05tail")
    r.byte()
    assert r.rest() == b"tail"
    assert r.at_end()
    assert r.rest() == b""


# -- strings -------------------------------------------------------------------------


def test_string_reads_length_then_bytes() -> None:
    r = Reader(s(b"testing") + s(b""))
    assert r.string() == b"testing"
    assert r.string() == b""
    assert r.at_end()


def test_string_view_shares_the_buffer() -> None:
    data = bytearray(s(b"abc"))
    view = Reader(data).string_view()
    assert isinstance(view, memoryview)
    assert bytes(view) == b"abc"


def test_string_truncated_body_is_refused_and_position_kept() -> None:
    r = Reader(b"\x01" + u32(5) + b"abc")
    r.byte()
    with pytest.raises(DecodeError, match="truncated") as info:
        r.string("payload")
    assert info.value.field == "payload"
    assert info.value.offset == 1
    assert r.offset == 1


def test_huge_length_with_nothing_behind_is_refused_at_once() -> None:
    # Even with the limit lifted, the length is checked against what is there,
    # before anything is allocated.
    r = Reader(b"\xff\xff\xff\xff", max_string=1 << 40)
    tracemalloc.start()
    try:
        with pytest.raises(DecodeError, match="truncated"):
            r.string()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024


@pytest.mark.parametrize("method", ["string", "text", "ascii", "mpint", "name_list"])
def test_every_length_prefixed_type_refuses_0xffffffff(method: str) -> None:
    with pytest.raises(DecodeError):
        getattr(Reader(b"\xff\xff\xff\xff" + b"x" * 16), method)()


def test_max_string_limit() -> None:
    data = s(b"x" * 11)
    assert Reader(data, max_string=11).string() == b"x" * 11
    with pytest.raises(DecodeError, match="over the limit 10") as info:
        Reader(data, max_string=10).string("blob")
    assert info.value.field == "blob"


def test_max_length_argument_overrides_max_string() -> None:
    data = s(b"x" * 11)
    with pytest.raises(DecodeError, match="over the limit"):
        Reader(data).string(max_length=10)
    assert Reader(data, max_string=1).string(max_length=11) == b"x" * 11


def test_default_string_limit_is_max_string() -> None:
    over = u32(MAX_STRING + 1) + b"\x00" * (MAX_STRING + 1)
    with pytest.raises(DecodeError, match="over the limit"):
        Reader(over).string()


# -- text ------------------------------------------------------------------------


def test_text_decodes_utf8() -> None:
    word = "gr\u00fc\u00dfe \u2603 \U0001f511"
    assert Reader(s(word.encode())).text() == word


@pytest.mark.parametrize(
    "bad",
    [
        b"\xff",  # never valid in UTF-8
        b"\xc0\x80",  # overlong NUL
        b"\xed\xa0\x80",  # an encoded surrogate
        b"\xe2\x82",  # truncated sequence
        b"ok\x80",  # stray continuation byte
    ],
)
def test_text_rejects_invalid_utf8(bad: bytes) -> None:
    with pytest.raises(DecodeError, match="invalid UTF-8") as info:
        Reader(s(bad)).text("x")
    assert info.value.field == "x"


def test_text_error_names_field_and_offset() -> None:
    r = Reader(b"\x00\x00" + s(b"\xff"))
    r.raw(2)
    with pytest.raises(DecodeError) as info:
        r.text("description")
    assert (info.value.field, info.value.offset) == ("description", 2)


def test_ascii_accepts_ascii_and_rejects_the_rest() -> None:
    assert Reader(s(b"ssh-userauth")).ascii() == "ssh-userauth"
    with pytest.raises(DecodeError, match="non-ASCII"):
        Reader(s("ssh-\u00e9".encode())).ascii("service")


# -- name-lists --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "names"),
    [
        (b"", ()),
        (b"zlib", ("zlib",)),
        (b"zlib,none", ("zlib", "none")),
        (
            b"curve25519-sha256@libssh.org,ext-info-c",
            ("curve25519-sha256@libssh.org", "ext-info-c"),
        ),
    ],
)
def test_name_list_rfc4251_examples(body: bytes, names: tuple[str, ...]) -> None:
    assert Reader(s(body)).name_list() == names


@pytest.mark.parametrize(
    "body",
    [b",", b"a,", b",a", b"a,,b", b"a,\x00", b"a\x00b", "z\u00fcrich".encode(), b"\xff"],
)
def test_name_list_rejects_empty_names_nul_and_non_ascii(body: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        Reader(s(body)).name_list("kex_algorithms")
    assert info.value.field == "kex_algorithms"
    assert info.value.offset == 0


def test_name_list_max_names() -> None:
    assert Reader(s(b"a,b,c")).name_list(max_names=3) == ("a", "b", "c")
    with pytest.raises(DecodeError, match="more than 3 names"):
        Reader(s(b"a,b,c,d")).name_list(max_names=3)


def test_name_list_max_length() -> None:
    with pytest.raises(DecodeError, match="over the limit 4"):
        Reader(s(b"a,b,c")).name_list(max_length=4)


def test_name_list_rejects_over_long_name() -> None:
    assert Reader(s(b"n" * MAX_NAME)).name_list() == ("n" * MAX_NAME,)
    with pytest.raises(DecodeError, match="invalid name"):
        Reader(s(b"n" * (MAX_NAME + 1))).name_list()


# -- position and end ------------------------------------------------------------------


def test_offset_remaining_and_at_end() -> None:
    r = Reader(b"\x00\x01\x02")
    assert (r.offset, r.remaining, r.at_end()) == (0, 3, False)
    r.byte()
    assert (r.offset, r.remaining, r.at_end()) == (1, 2, False)
    r.raw(2)
    assert (r.offset, r.remaining, r.at_end()) == (3, 0, True)


def test_expect_end_passes_at_the_end() -> None:
    r = Reader(b"\x01")
    r.byte()
    r.expect_end()


def test_expect_end_reports_trailing_bytes() -> None:
    r = Reader(b"\x01\x02\x03")
    r.byte()
    with pytest.raises(DecodeError, match="2 trailing bytes after ed25519 key") as info:
        r.expect_end("ed25519 key")
    assert info.value.offset == 1


@pytest.mark.parametrize(
    "data",
    [b"\x00\x00\x00\x02hi", bytearray(b"\x00\x00\x00\x02hi"), memoryview(b"\x00\x00\x00\x02hi")],
)
def test_reader_accepts_any_byte_buffer(data: bytes | bytearray | memoryview) -> None:
    assert Reader(data).string() == b"hi"


def test_reader_reads_bytes_of_a_non_byte_memoryview() -> None:
    words = array.array("H", [0x0100, 0x0302])
    r = Reader(memoryview(words))
    assert r.remaining == 4
    assert sorted(r.raw(4)) == [0, 1, 2, 3]
