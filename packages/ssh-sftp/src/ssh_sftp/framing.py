"""Splitting a byte stream into SFTP packets, with a bound on what a peer can make us buffer."""

from __future__ import annotations

from .errors import SFTPProtocolError
from .messages import MAX_PACKET_LENGTH

__all__ = ["PacketBuffer"]


class PacketBuffer:
    """Collects stream bytes and yields whole packets (without their length prefix).

    A declared length over ``max_packet`` (or of 0: a packet has at least its type byte)
    raises :class:`SFTPProtocolError` as soon as the 4 length bytes arrive, so a hostile
    peer cannot make us hold more than one packet plus one read.
    """

    __slots__ = ("_buf", "_max", "_pos")

    def __init__(self, max_packet: int = MAX_PACKET_LENGTH) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._max = max_packet

    @property
    def max_packet(self) -> int:
        return self._max

    @property
    def buffered(self) -> int:
        """Bytes received and not yet returned as packets."""
        return len(self._buf) - self._pos

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        self._buf += data

    def next_packet(self) -> bytes | None:
        """The next whole packet, or None until more bytes arrive."""
        buf, pos = self._buf, self._pos
        avail = len(buf) - pos
        if avail < 4:
            self._compact()
            return None
        length = int.from_bytes(buf[pos : pos + 4], "big")
        if length == 0 or length > self._max:
            raise SFTPProtocolError(f"SFTP packet length {length} outside 1..{self._max}")
        if avail < 4 + length:
            self._compact()
            return None
        start = pos + 4
        self._pos = start + length
        return bytes(buf[start : self._pos])

    def _compact(self) -> None:
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
