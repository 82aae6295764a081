"""The server side of a SOCKS4, SOCKS4a or SOCKS5 handshake, sans-I/O: ssh's -D.

A dynamic forward listens locally; each accepted connection starts with a SOCKS request
naming where to go, which becomes a direct-tcpip channel. :class:`SocksHandshake` reads
the client's bytes until it knows the target (``target``), then the front end opens the
channel and calls :meth:`~SocksHandshake.succeed` or :meth:`~SocksHandshake.fail`; the
bytes after the request (``rest``) belong to the tunnel.

Only CONNECT without authentication is offered, as OpenSSH does. Everything is bounded:
a request longer than :data:`MAX_REQUEST` bytes, a name over 255 bytes, an unknown
version, command or address type ends the handshake with a :class:`SocksError`, after
the refusal the protocol has for it: SOCKS5 answers an empty name or an unknown address
type "address type not supported" (0x08), and a name we will not look up (NUL, control
characters, spaces, not ASCII) "connection not allowed by ruleset" (0x02), as it answers
a destination the server refused by policy (:func:`reason_for_open_failure`).
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass

from ssh_wire import ChannelOpenFailure, SSHError

__all__ = [
    "SocksError",
    "SocksTarget",
    "SocksHandshake",
    "MAX_REQUEST",
    "reason_for_open_failure",
]

#: The longest request taken: a SOCKS5 greeting (257) and request (262), or a SOCKS4a one.
MAX_REQUEST = 1024

_V4_GRANTED, _V4_REJECTED = 0x5A, 0x5B
_V5_SUCCEEDED, _V5_FAILURE, _V5_NOT_ALLOWED = 0x00, 0x01, 0x02
_V5_UNREACHABLE, _V5_REFUSED = 0x04, 0x05
_V5_COMMAND_UNSUPPORTED, _V5_ADDRESS_UNSUPPORTED = 0x07, 0x08
_NO_AUTH, _NO_ACCEPTABLE = 0x00, 0xFF


def reason_for_open_failure(reason: int, description: str = "") -> str:
    """The :meth:`SocksHandshake.fail` reason for a refused direct-tcpip channel (RFC 4254
    5.1 ``reason``): a refusal by the server's policy (ADMINISTRATIVELY_PROHIBITED, as
    ``permitopen`` or ``forwarding_check`` give) is SOCKS5's "not allowed by ruleset"."""
    if reason == ChannelOpenFailure.ADMINISTRATIVELY_PROHIBITED:
        return "not allowed"
    if reason == ChannelOpenFailure.CONNECT_FAILED and "refused" in description.lower():
        return "refused"
    return "unreachable"


class SocksError(SSHError):
    """The client's SOCKS request is malformed or asks for what we do not offer."""


@dataclass(frozen=True, slots=True)
class SocksTarget:
    """Where the client wants to go: a host name or address, and a port."""

    host: str
    port: int
    version: int


class _Need(enum.Enum):
    VERSION = "version"
    V5_GREETING = "SOCKS5 greeting"
    V5_REQUEST = "SOCKS5 request"
    V4_REQUEST = "SOCKS4 request"
    ANSWER = "our answer"
    DONE = "done"


class SocksHandshake:
    """One SOCKS handshake, server side. Feed :meth:`receive_data`; when ``target`` is set,
    open the channel and answer with :meth:`succeed` or :meth:`fail`."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._out = bytearray()
        self._need = _Need.VERSION
        self._version = 0
        self.target: SocksTarget | None = None
        #: Bytes the client sent after its request: the start of the tunnelled stream.
        self.rest = b""

    def receive_data(self, data: bytes) -> None:
        """Bytes from the SOCKS client. Raises SocksError (after queueing the refusal the
        protocol has for it, if any) when the request cannot be served."""
        if self._need in (_Need.ANSWER, _Need.DONE):
            self.rest += data  # the client did not wait for our answer: tunnel data
            return
        self._buffer += data
        if len(self._buffer) > MAX_REQUEST:
            self._need = _Need.DONE
            raise SocksError("SOCKS request too long")
        while self._step():
            pass

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    def succeed(self, bound_host: str = "0.0.0.0", bound_port: int = 0) -> None:  # noqa: S104
        """The channel is open: tell the client so; what follows is the tunnel."""
        self._answer(True, bound_host, bound_port)

    def fail(self, reason: str = "failure") -> None:
        """The channel could not be opened: refuse. ``reason`` is ``"refused"``,
        ``"unreachable"``, ``"not allowed"`` or anything else for a general failure."""
        code = {"refused": _V5_REFUSED, "unreachable": _V5_UNREACHABLE,
                "not allowed": _V5_NOT_ALLOWED}.get(reason, _V5_FAILURE)  # fmt: skip
        self._answer(False, "0.0.0.0", 0, code)  # noqa: S104

    # -- parsing ---------------------------------------------------------------------------

    def _step(self) -> bool:
        buf = self._buffer
        if self._need is _Need.VERSION:
            if not buf:
                return False
            if buf[0] == 5:
                self._need = _Need.V5_GREETING
            elif buf[0] == 4:
                self._need = _Need.V4_REQUEST
            else:
                self._need = _Need.DONE
                raise SocksError(f"not a SOCKS4 or SOCKS5 request (first byte {buf[0]})")
            self._version = buf[0]
            return True
        if self._need is _Need.V5_GREETING:
            return self._v5_greeting()
        if self._need is _Need.V5_REQUEST:
            return self._v5_request()
        if self._need is _Need.V4_REQUEST:
            return self._v4_request()
        return False

    def _v5_greeting(self) -> bool:
        buf = self._buffer
        if len(buf) < 2 or len(buf) < 2 + buf[1]:
            return False
        methods = bytes(buf[2 : 2 + buf[1]])
        del buf[: 2 + len(methods)]
        if _NO_AUTH not in methods:
            self._out += bytes([5, _NO_ACCEPTABLE])
            self._need = _Need.DONE
            raise SocksError("the SOCKS5 client offers no method without authentication")
        self._out += bytes([5, _NO_AUTH])
        self._need = _Need.V5_REQUEST
        return True

    def _v5_refuse(self, code: int, why: str) -> SocksError:
        self._out += bytes([5, code, 0, 1, 0, 0, 0, 0, 0, 0])
        self._need = _Need.DONE
        return SocksError(why)

    def _v5_request(self) -> bool:
        buf = self._buffer
        if len(buf) < 5:
            return False
        version, command, _, kind = buf[0], buf[1], buf[2], buf[3]
        if version != 5:
            raise self._v5_refuse(_V5_FAILURE, f"SOCKS5 request with version {version}")
        if kind == 1:
            size, start = 4, 4
        elif kind == 4:
            size, start = 16, 4
        elif kind == 3:
            size, start = buf[4], 5
            if size == 0:
                raise self._v5_refuse(_V5_ADDRESS_UNSUPPORTED, "empty host name")
        else:
            raise self._v5_refuse(_V5_ADDRESS_UNSUPPORTED, f"address type {kind}")
        end = start + size + 2
        if len(buf) < end:
            return False
        raw = bytes(buf[start : start + size])
        port = int.from_bytes(buf[start + size : end], "big")
        self.rest = bytes(buf[end:])
        buf.clear()
        if command != 1:
            raise self._v5_refuse(_V5_COMMAND_UNSUPPORTED, f"SOCKS5 command {command}")
        host = self._name(raw) if kind == 3 else str(ipaddress.ip_address(raw))
        self.target = SocksTarget(host, port, 5)
        self._need = _Need.ANSWER
        return False

    def _v4_request(self) -> bool:
        buf = self._buffer
        if len(buf) < 9:
            return False
        user_end = buf.find(0, 8)
        if user_end < 0:
            return False
        command = buf[1]
        port = int.from_bytes(buf[2:4], "big")
        address = bytes(buf[4:8])
        end = user_end + 1
        if address[:3] == b"\0\0\0" and address[3] != 0:  # SOCKS4a: a name follows
            name_end = buf.find(0, end)
            if name_end < 0:
                return False
            host = self._name(bytes(buf[end:name_end]))
            end = name_end + 1
        else:
            host = str(ipaddress.IPv4Address(address))
        self.rest = bytes(buf[end:])
        buf.clear()
        if command != 1:
            self._out += bytes([0, _V4_REJECTED]) + bytes(6)
            self._need = _Need.DONE
            raise SocksError(f"SOCKS4 command {command}")
        self.target = SocksTarget(host, port, 4)
        self._need = _Need.ANSWER
        return False

    def _name(self, raw: bytes) -> str:
        if not raw or len(raw) > 255:
            raise self._refuse_name(
                _V5_ADDRESS_UNSUPPORTED, "SOCKS host name empty or over 255 bytes"
            )
        try:
            name = raw.decode("ascii")
        except UnicodeDecodeError:
            raise self._refuse_name(_V5_NOT_ALLOWED, "SOCKS host name is not ASCII") from None
        if not name.isprintable() or any(c.isspace() for c in name):
            raise self._refuse_name(
                _V5_NOT_ALLOWED, "SOCKS host name has NUL, control characters or spaces"
            )
        return name

    def _refuse_name(self, code: int, why: str) -> SocksError:
        """A name we will not look up: SOCKS5 says why (``code``), SOCKS4a rejects."""
        if self._version == 5:
            return self._v5_refuse(code, why)
        self._out += bytes([0, _V4_REJECTED]) + bytes(6)
        self._need = _Need.DONE
        return SocksError(why)

    # -- answering -------------------------------------------------------------------------

    def _answer(self, ok: bool, host: str, port: int, code: int = _V5_SUCCEEDED) -> None:
        if self._need is not _Need.ANSWER:
            raise SocksError("no SOCKS request is waiting for an answer")
        self._need = _Need.DONE
        if self._version == 4:
            status = _V4_GRANTED if ok else _V4_REJECTED
            self._out += bytes([0, status]) + port.to_bytes(2, "big") + bytes(4)
            return
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = ipaddress.IPv4Address(0)
        kind = 1 if address.version == 4 else 4
        self._out += bytes([5, code if not ok else _V5_SUCCEEDED, 0, kind])
        self._out += address.packed + port.to_bytes(2, "big")
