"""mpint (RFC 4251 section 5): the RFC's examples, minimal form, sign and bounds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssh_wire import MAX_MPINT_BITS, DecodeError, Reader, Writer, encode_mpint, mpint_bytes

# The examples of RFC 4251 section 5; the RFC writes the values in hexadecimal.
RFC_EXAMPLES = [
    (0, "00000000"),
    (0x9A378F9B2E332A7, "0000000809a378f9b2e332a7"),
    (0x80, "000000020080"),
    (-0x1234, "00000002edcc"),
    (-0xDEADBEEF, "00000005ff21524111"),
]


@pytest.mark.parametrize(("value", "wire"), RFC_EXAMPLES)
def test_rfc4251_examples_encode(value: int, wire: str) -> None:
    assert encode_mpint(value) == bytes.fromhex(wire)
    assert Writer().mpint(value).getvalue() == bytes.fromhex(wire)


@pytest.mark.parametrize(("value", "wire"), RFC_EXAMPLES)
def test_rfc4251_examples_decode(value: int, wire: str) -> None:
    r = Reader(bytes.fromhex(wire))
    assert r.mpint() == value
    assert r.at_end()


@pytest.mark.parametrize(
    ("value", "body"),
    [
        (1, "01"),
        (0x7F, "7f"),
        (0xFF, "00ff"),
        (-1, "ff"),
        (-0x80, "80"),
        (-0x81, "ff7f"),
        (0x8000, "008000"),
    ],
)
def test_sign_boundaries(value: int, body: str) -> None:
    assert mpint_bytes(value) == bytes.fromhex(body)
    assert Reader(encode_mpint(value)).mpint() == value


@pytest.mark.parametrize(
    ("wire", "value"),
    [
        ("0000000100", 0),  # zero must be the empty string
        ("00000002007f", 0x7F),  # needless leading 00
        ("00000003000080", 0x80),  # two leading 00 where one is needed
        ("00000002ff80", -0x80),  # needless leading ff
        ("00000002ffff", -1),
    ],
)
def test_non_minimal_mpints(wire: str, value: int) -> None:
    with pytest.raises(DecodeError, match="not minimal") as info:
        Reader(bytes.fromhex(wire)).mpint("e")
    assert (info.value.field, info.value.offset) == ("e", 0)
    # Lenient readers take what old peers send.
    assert Reader(bytes.fromhex(wire), strict=False).mpint() == value


def test_positive_mpint() -> None:
    assert Reader(encode_mpint(5)).positive_mpint() == 5
    for bad in (0, -5):
        with pytest.raises(DecodeError, match="positive"):
            Reader(encode_mpint(bad)).positive_mpint("p")


def test_max_bits() -> None:
    big = 1 << 100  # 101 bits: 13 bytes plus a sign byte of 00 is 14
    assert Reader(encode_mpint(big)).mpint(max_bits=104) == big
    with pytest.raises(DecodeError, match="over the limit"):
        Reader(encode_mpint(1 << 200)).mpint(max_bits=104)


def test_default_bound_takes_a_16384_bit_modulus() -> None:
    modulus = (1 << 16384) - 1
    assert Reader(encode_mpint(modulus)).mpint() == modulus
    with pytest.raises(DecodeError):
        Reader(encode_mpint(1 << (MAX_MPINT_BITS + 16))).mpint()


def test_mpint_bytes_refuses_non_integers() -> None:
    with pytest.raises(TypeError):
        mpint_bytes(1.5)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-(1 << 2048), max_value=1 << 2048))
def test_mpint_round_trip_is_minimal(value: int) -> None:
    body = mpint_bytes(value)
    assert int.from_bytes(body, "big", signed=True) == value
    # Minimal: one byte fewer no longer holds the value with its sign.
    if body:
        shorter = body[1:]
        assert int.from_bytes(shorter, "big", signed=True) != value
    assert Reader(encode_mpint(value)).mpint() == value
