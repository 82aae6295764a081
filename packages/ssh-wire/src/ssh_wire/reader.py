"""A bounded reader for RFC 4251 section 5 data types.

Every read checks the remaining length first, so a hostile length field
(0xFFFFFFFF with nothing behind it) fails at once and allocates nothing.
Every failure is a :class:`DecodeError` naming the field and offset.
"""

from __future__ import annotations

import struct

from .errors import DecodeError
from .limits import MAX_MPINT_BITS, MAX_NAME, MAX_NAME_LIST, MAX_NAMES, MAX_STRING

__all__ = ["Reader"]

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")

Buffer = bytes | bytearray | memoryview


class Reader:
    """Reads SSH wire types from a buffer, front to back, never past the end.

    ``strict`` (the default) rejects non-canonical encodings: non-minimal
    mpints and booleans other than 0 or 1. Set it to False to read what lenient
    peers and old files produce.
    """

    __slots__ = ("_buf", "_end", "_pos", "max_string", "strict")

    def __init__(
        self,
        data: Buffer,
        *,
        strict: bool = True,
        max_string: int = MAX_STRING,
    ) -> None:
        self._buf = memoryview(data).cast("B") if not isinstance(data, bytes) else memoryview(data)
        self._pos = 0
        self._end = len(self._buf)
        self.strict = strict
        self.max_string = max_string

    # -- position -----------------------------------------------------------

    @property
    def offset(self) -> int:
        """Bytes consumed so far."""
        return self._pos

    @property
    def remaining(self) -> int:
        return self._end - self._pos

    def at_end(self) -> bool:
        return self._pos >= self._end

    def expect_end(self, what: str = "message") -> None:
        """Raise if bytes are left where the structure must end."""
        if self._pos != self._end:
            raise DecodeError(
                f"{self._end - self._pos} trailing bytes after {what}", offset=self._pos
            )

    def _need(self, n: int, field: str) -> int:
        pos = self._pos
        if n < 0:
            # A computed length gone negative would otherwise move the position backwards.
            raise DecodeError(f"negative length {n}", field=field, offset=pos)
        if n > self._end - pos:
            raise DecodeError(
                f"truncated: need {n} bytes, {self._end - pos} left", field=field, offset=pos
            )
        self._pos = pos + n
        return pos

    # -- fixed-size types ---------------------------------------------------

    def byte(self, field: str = "byte") -> int:
        pos = self._need(1, field)
        return self._buf[pos]

    def boolean(self, field: str = "boolean") -> bool:
        pos = self._need(1, field)
        value = self._buf[pos]
        if value > 1 and self.strict:
            raise DecodeError(f"boolean must be 0 or 1, got {value}", field=field, offset=pos)
        return value != 0

    def uint32(self, field: str = "uint32") -> int:
        pos = self._need(4, field)
        return _U32.unpack_from(self._buf, pos)[0]  # type: ignore[no-any-return]

    def uint64(self, field: str = "uint64") -> int:
        pos = self._need(8, field)
        return _U64.unpack_from(self._buf, pos)[0]  # type: ignore[no-any-return]

    def raw(self, n: int, field: str = "bytes") -> bytes:
        """Exactly ``n`` bytes."""
        pos = self._need(n, field)
        return bytes(self._buf[pos : pos + n])

    def rest(self) -> bytes:
        """Everything left (for structures that end in unparsed data)."""
        pos, self._pos = self._pos, self._end
        return bytes(self._buf[pos : self._end])

    # -- length-prefixed types ----------------------------------------------

    def string_view(self, field: str = "string", *, max_length: int | None = None) -> memoryview:
        """A ``string`` as a view into the buffer, without copying."""
        start = self._pos
        length = self.uint32(field)
        limit = self.max_string if max_length is None else max_length
        if length > limit:
            self._pos = start
            raise DecodeError(f"length {length} over the limit {limit}", field=field, offset=start)
        if length > self._end - self._pos:
            self._pos = start
            raise DecodeError(
                f"truncated: length {length}, {self._end - start - 4} bytes left",
                field=field,
                offset=start,
            )
        pos = self._pos
        self._pos = pos + length
        return self._buf[pos : pos + length]

    def string(self, field: str = "string", *, max_length: int | None = None) -> bytes:
        return bytes(self.string_view(field, max_length=max_length))

    def text(self, field: str = "text", *, max_length: int | None = None) -> str:
        """A ``string`` holding UTF-8 text (RFC 4251 5: ISO-10646 UTF-8)."""
        start = self._pos
        data = self.string_view(field, max_length=max_length)
        try:
            return str(data, "utf-8")
        except UnicodeDecodeError as exc:
            raise DecodeError(f"invalid UTF-8: {exc.reason}", field=field, offset=start) from None

    def ascii(self, field: str = "ascii", *, max_length: int | None = None) -> str:
        """A ``string`` that must be US-ASCII (algorithm and request names)."""
        start = self._pos
        data = self.string_view(field, max_length=max_length)
        try:
            return str(data, "ascii")
        except UnicodeDecodeError:
            raise DecodeError("non-ASCII bytes", field=field, offset=start) from None

    def mpint(self, field: str = "mpint", *, max_bits: int = MAX_MPINT_BITS) -> int:
        """A two's complement multiple precision integer."""
        start = self._pos
        data = self.string_view(field, max_length=(max_bits + 7) // 8 + 1)
        if not data:
            return 0
        if self.strict:
            # RFC 4251 5: zero is the empty string, and no unnecessary leading 00 or ff byte.
            first = data[0]
            second = data[1] if len(data) > 1 else None
            if (first == 0 and (second is None or second < 0x80)) or (
                first == 0xFF and second is not None and second >= 0x80
            ):
                raise DecodeError("mpint is not minimal", field=field, offset=start)
        return int.from_bytes(data, "big", signed=True)

    def positive_mpint(self, field: str = "mpint", *, max_bits: int = MAX_MPINT_BITS) -> int:
        """An mpint that must be greater than zero (key parameters, DH values)."""
        start = self._pos
        value = self.mpint(field, max_bits=max_bits)
        if value <= 0:
            raise DecodeError("mpint must be positive", field=field, offset=start)
        return value

    def name_list(
        self,
        field: str = "name-list",
        *,
        max_length: int = MAX_NAME_LIST,
        max_names: int = MAX_NAMES,
    ) -> tuple[str, ...]:
        """A comma-separated list of non-empty US-ASCII names."""
        start = self._pos
        data = self.string_view(field, max_length=max_length)
        if not data:
            return ()
        try:
            text = str(data, "ascii")
        except UnicodeDecodeError:
            raise DecodeError("name-list is not US-ASCII", field=field, offset=start) from None
        names = text.split(",", max_names)
        if len(names) > max_names:
            raise DecodeError(f"more than {max_names} names", field=field, offset=start)
        for name in names:
            if not name or len(name) > MAX_NAME or "\x00" in name:
                raise DecodeError(f"invalid name {name[:64]!r}", field=field, offset=start)
        return tuple(names)
