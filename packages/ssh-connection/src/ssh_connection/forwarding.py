"""Forwarding: channel-open payloads and global requests (RFC 4254 6.3.2, 7; OpenSSH PROTOCOL).

Open payloads are picked by channel type (:data:`OPEN_PAYLOADS`), global request payloads by
request name (:data:`GLOBAL_REQUESTS`). hostkeys-00 and hostkeys-prove-00 carry a list of
strings; only their encoding and a plain list decoder are here (checking the keys and
signatures is a front end's job, with the session id).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping

from ssh_wire import DecodeError, Reader, String, Struct, Text, UInt32, encode_string

__all__ = [
    # channel types
    "SESSION",
    "DIRECT_TCPIP",
    "FORWARDED_TCPIP",
    "DIRECT_STREAMLOCAL",
    "FORWARDED_STREAMLOCAL",
    "X11",
    "AUTH_AGENT",
    "DirectTcpip",
    "ForwardedTcpip",
    "DirectStreamlocal",
    "ForwardedStreamlocal",
    "X11Open",
    "AgentOpen",
    "SessionOpen",
    "OPEN_PAYLOADS",
    "decode_open",
    # global requests
    "TCPIP_FORWARD",
    "CANCEL_TCPIP_FORWARD",
    "STREAMLOCAL_FORWARD",
    "CANCEL_STREAMLOCAL_FORWARD",
    "KEEPALIVE",
    "NO_MORE_SESSIONS",
    "HOSTKEYS",
    "HOSTKEYS_PROVE",
    "TcpipForward",
    "CancelTcpipForward",
    "TcpipForwardReply",
    "StreamlocalForward",
    "CancelStreamlocalForward",
    "Empty",
    "GLOBAL_REQUESTS",
    "decode_global",
    "encode_strings",
    "decode_strings",
    "forwarded_port_reply",
    # checking what a peer asks for
    "MAX_HOST_NAME",
    "MAX_SOCKET_PATH",
    "destination_error",
    "socket_path_error",
]

SESSION = "session"
DIRECT_TCPIP = "direct-tcpip"
FORWARDED_TCPIP = "forwarded-tcpip"
DIRECT_STREAMLOCAL = "direct-streamlocal@openssh.com"
FORWARDED_STREAMLOCAL = "forwarded-streamlocal@openssh.com"
X11 = "x11"
AUTH_AGENT = "auth-agent@openssh.com"

TCPIP_FORWARD = "tcpip-forward"
CANCEL_TCPIP_FORWARD = "cancel-tcpip-forward"
STREAMLOCAL_FORWARD = "streamlocal-forward@openssh.com"
CANCEL_STREAMLOCAL_FORWARD = "cancel-streamlocal-forward@openssh.com"
KEEPALIVE = "keepalive@openssh.com"
NO_MORE_SESSIONS = "no-more-sessions@openssh.com"
HOSTKEYS = "hostkeys-00@openssh.com"
HOSTKEYS_PROVE = "hostkeys-prove-00@openssh.com"


# -- checking a peer's destinations ----------------------------------------------------------

#: The longest host name taken (RFC 1035 2.3.4: 255 bytes).
MAX_HOST_NAME = 255
#: The longest Unix socket path taken, in bytes: sun_path holds 108 bytes on Linux, 104 on
#: the BSDs and macOS, the terminating NUL included.
MAX_SOCKET_PATH = 107 if sys.platform.startswith("linux") else 103


def _text_error(what: str, value: str, limit: int) -> str | None:
    if "\0" in value:
        return f"{what} contains NUL"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return f"{what} contains control characters"
    if len(value.encode("utf-8", "surrogatepass")) > limit:
        return f"{what} is longer than {limit} bytes"
    return None


def destination_error(host: str, port: int) -> str | None:
    """Why a peer's host and port (a forward's destination, listen address or originator)
    must not reach getaddrinfo, connect or bind, or None if they may. Those raise
    ValueError, UnicodeError or OverflowError rather than OSError on such input, so every
    front end checks first and refuses the request cleanly."""
    return _text_error("host name", host, MAX_HOST_NAME) or (
        None if 0 <= port <= 0xFFFF else f"port {port} is out of range"
    )


def socket_path_error(path: str) -> str | None:
    """Why a peer's Unix socket path must not reach bind or connect, or None if it may."""
    if not path:
        return "empty socket path"
    return _text_error("socket path", path, MAX_SOCKET_PATH)


# -- channel-open payloads --------------------------------------------------------------------


class SessionOpen(Struct):
    pass


class DirectTcpip(Struct):
    """Client asks the server to connect to host:port (ssh -L)."""

    host: Text
    port: UInt32
    originator_host: Text
    originator_port: UInt32


class ForwardedTcpip(Struct):
    """Server reports a connection to a port the client had forwarded (ssh -R)."""

    connected_host: Text
    connected_port: UInt32
    originator_host: Text
    originator_port: UInt32


class DirectStreamlocal(Struct):
    path: Text
    reserved: String  # empty
    reserved_port: UInt32  # 0


class ForwardedStreamlocal(Struct):
    path: Text
    reserved: String  # empty


class X11Open(Struct):
    originator_host: Text
    originator_port: UInt32


class AgentOpen(Struct):
    pass


OPEN_PAYLOADS: Mapping[str, type[Struct]] = {
    SESSION: SessionOpen,
    DIRECT_TCPIP: DirectTcpip,
    FORWARDED_TCPIP: ForwardedTcpip,
    DIRECT_STREAMLOCAL: DirectStreamlocal,
    FORWARDED_STREAMLOCAL: ForwardedStreamlocal,
    X11: X11Open,
    AUTH_AGENT: AgentOpen,
}


def decode_open(kind: str, data: bytes) -> Struct | None:
    """The typed payload of a known channel type, or None for an unknown one."""
    schema = OPEN_PAYLOADS.get(kind)
    if schema is None:
        return None
    try:
        return schema.decode(data)
    except DecodeError as exc:
        raise exc.within(f"{kind} channel open") from None


# -- global requests --------------------------------------------------------------------------


class TcpipForward(Struct):
    """Port 0 asks the server to pick one; it answers with :class:`TcpipForwardReply`."""

    address: Text
    port: UInt32


class CancelTcpipForward(Struct):
    address: Text
    port: UInt32


class TcpipForwardReply(Struct):
    port: UInt32


class StreamlocalForward(Struct):
    path: Text


class CancelStreamlocalForward(Struct):
    path: Text


class Empty(Struct):
    """No request data (keepalive@openssh.com, no-more-sessions@openssh.com)."""


GLOBAL_REQUESTS: Mapping[str, type[Struct]] = {
    TCPIP_FORWARD: TcpipForward,
    CANCEL_TCPIP_FORWARD: CancelTcpipForward,
    STREAMLOCAL_FORWARD: StreamlocalForward,
    CANCEL_STREAMLOCAL_FORWARD: CancelStreamlocalForward,
    KEEPALIVE: Empty,
    NO_MORE_SESSIONS: Empty,
}


def decode_global(name: str, data: bytes) -> Struct | None:
    """The typed payload of a known global request (None for hostkeys and unknown names)."""
    schema = GLOBAL_REQUESTS.get(name)
    if schema is None:
        return None
    try:
        return schema.decode(data)
    except DecodeError as exc:
        raise exc.within(f"{name} global request") from None


def forwarded_port_reply(port: int) -> bytes:
    """REQUEST_SUCCESS data for a tcpip-forward that asked for port 0."""
    return TcpipForwardReply(port).encode()


def encode_strings(items: Iterable[bytes]) -> bytes:
    """A ``string[]`` as in hostkeys-00: strings back to back until the end of the message."""
    return b"".join(encode_string(item) for item in items)


def decode_strings(data: bytes, *, limit: int = 1024) -> list[bytes]:
    """Read a ``string[]`` (at most ``limit`` strings)."""
    r = Reader(data)
    items: list[bytes] = []
    while not r.at_end():
        if len(items) >= limit:
            raise DecodeError(f"more than {limit} strings", offset=r.offset)
        items.append(r.string(f"string {len(items)}"))
    return items
