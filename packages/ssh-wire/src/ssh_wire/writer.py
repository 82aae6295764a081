"""A writer for RFC 4251 types that appends into one growing buffer.

Appending to a ``bytearray`` is amortised O(1), so building a packet field by
field never copies what was already written.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

__all__ = [
    "Writer",
    "encode_uint32",
    "encode_uint64",
    "encode_string",
    "encode_mpint",
    "encode_name_list",
    "mpint_bytes",
]

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_pack_u32 = _U32.pack
_pack_u64 = _U64.pack

Buffer = bytes | bytearray | memoryview


def _u32(value: int) -> bytes:
    try:
        return _pack_u32(value)
    except struct.error:
        # struct.error is no ValueError; callers catch ValueError for bad values.
        raise ValueError(f"uint32 out of range: {value!r}") from None


def _u64(value: int) -> bytes:
    try:
        return _pack_u64(value)
    except struct.error:
        raise ValueError(f"uint64 out of range: {value!r}") from None


def _nbytes(data: Buffer) -> int:
    """Byte length of a buffer; ``len`` of a memoryview counts items, not bytes."""
    if isinstance(data, (bytes, bytearray)):
        return len(data)
    # memoryview() also rejects str and other non-buffers with a TypeError.
    return memoryview(data).nbytes


def mpint_bytes(value: int) -> bytes:
    """The minimal two's complement body of an mpint (empty for zero)."""
    if not isinstance(value, int):
        raise TypeError(f"mpint must be an int, not {type(value).__name__}")
    if value == 0:
        return b""
    if value > 0:
        # One spare bit for the sign: a set top bit needs a leading zero byte.
        return value.to_bytes(value.bit_length() // 8 + 1, "big")
    return value.to_bytes((value + 1).bit_length() // 8 + 1, "big", signed=True)


def _check_name(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, not {type(name).__name__}")
    if not name or "," in name or "\x00" in name or not name.isascii():
        raise ValueError(f"invalid name for a name-list: {name!r}")
    return name


def _join_names(names: Iterable[str]) -> bytes:
    if isinstance(names, (str, bytes)):
        # A lone string would otherwise be split into one name per character.
        raise TypeError("name-list takes an iterable of names, not a single string")
    return ",".join(_check_name(n) for n in names).encode("ascii")


def encode_uint32(value: int) -> bytes:
    return _u32(value)


def encode_uint64(value: int) -> bytes:
    return _u64(value)


def encode_string(data: Buffer | str) -> bytes:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return _u32(_nbytes(data)) + bytes(data)


def encode_mpint(value: int) -> bytes:
    body = mpint_bytes(value)
    return _u32(len(body)) + body


def encode_name_list(names: Iterable[str]) -> bytes:
    return encode_string(_join_names(names))


class Writer:
    """Builds a byte string from SSH wire types. Methods return ``self``."""

    __slots__ = ("_buf",)

    def __init__(self, initial: Buffer = b"") -> None:
        self._buf = bytearray(initial)

    def __len__(self) -> int:
        return len(self._buf)

    def getvalue(self) -> bytes:
        return bytes(self._buf)

    def buffer(self) -> bytearray:
        """The underlying buffer, for callers that want to avoid a final copy."""
        return self._buf

    def byte(self, value: int) -> Writer:
        self._buf.append(value)
        return self

    def boolean(self, value: bool) -> Writer:
        self._buf.append(1 if value else 0)
        return self

    def uint32(self, value: int) -> Writer:
        self._buf += _u32(value)
        return self

    def uint64(self, value: int) -> Writer:
        self._buf += _u64(value)
        return self

    def raw(self, data: Buffer) -> Writer:
        self._buf += data
        return self

    def string(self, data: Buffer) -> Writer:
        # Everything that can fail runs before the first append: no half-written field.
        prefix = _u32(_nbytes(data))
        self._buf += prefix
        self._buf += data
        return self

    def text(self, value: str) -> Writer:
        if not isinstance(value, str):
            raise TypeError(f"text must be a str, not {type(value).__name__}")
        return self.string(value.encode("utf-8"))

    def mpint(self, value: int) -> Writer:
        return self.string(mpint_bytes(value))

    def name_list(self, names: Iterable[str]) -> Writer:
        return self.string(_join_names(names))
