"""X11 forwarding, the parts without I/O (RFC 4254 6.3; how OpenSSH does it).

The client never gives the server its real X cookie: it sends a random *fake* cookie in
``x11-req``; each ``x11`` channel the server opens must begin with an X connection setup
carrying that fake cookie, which the client swaps for the real one (from ``xauth list``)
before the bytes reach the display (:class:`X11AuthSpoofer`). The server listens on
``localhost:6000+N`` for display N and records the fake cookie with ``xauth`` for its
session (:func:`xauth_script`).
"""

from __future__ import annotations

import hmac
import os
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass

from ssh_wire import SSHError

__all__ = [
    "MIT_MAGIC_COOKIE",
    "X11Error",
    "X11Display",
    "parse_display",
    "parse_xauth_list",
    "fake_cookie",
    "X11AuthSpoofer",
    "ServerX11",
    "xauth_script",
    "X11_BASE_PORT",
]

MIT_MAGIC_COOKIE = "MIT-MAGIC-COOKIE-1"
X11_BASE_PORT = 6000
_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2}){1,256}")
_SETUP = struct.Struct("<BxHHHH2x")  # byte order, major, minor, name length, data length


class X11Error(SSHError):
    """A bad DISPLAY, or an X11 channel whose setup does not carry our fake cookie."""


@dataclass(frozen=True)
class X11Display:
    """Where a DISPLAY points: a Unix socket (``path``) or TCP ``host``:``port``."""

    number: int
    screen: int
    path: str | None = None
    host: str | None = None

    @property
    def port(self) -> int:
        return X11_BASE_PORT + self.number


def parse_display(display: str) -> X11Display:
    """``:0``, ``unix:0.1``, ``host:10.0``, ``[::1]:2`` or ``/path/to/socket:0``, as Xlib."""
    host, sep, rest = display.rpartition(":")
    number_text, _, screen_text = rest.partition(".")
    if not sep or not number_text.isdigit() or (screen_text and not screen_text.isdigit()):
        raise X11Error(f"cannot parse DISPLAY {display!r}")
    number, screen = int(number_text), int(screen_text or 0)
    if host.startswith("/"):  # launchd-style: the socket's own path
        return X11Display(number, screen, path=host)
    if host in ("", "unix"):
        # The X server's own well-known socket, not a file we create: S108 does not apply.
        return X11Display(number, screen, path=f"/tmp/.X11-unix/X{number}")  # noqa: S108
    return X11Display(number, screen, host=host.strip("[]"))


def parse_xauth_list(output: str) -> tuple[str, bytes] | None:
    """The first MIT-MAGIC-COOKIE-1 entry of ``xauth list DISPLAY`` output."""
    for line in output.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[1] == MIT_MAGIC_COOKIE:
            try:
                return fields[1], bytes.fromhex(fields[2])
            except ValueError:
                continue
    return None


def fake_cookie(rng: Callable[[int], bytes] = os.urandom, size: int = 16) -> bytes:
    return rng(size)


def _pad(n: int) -> int:
    return (4 - n % 4) % 4


class X11AuthSpoofer:
    """Client side: checks the first X message of an x11 channel and swaps the cookie.

    Feed the channel's bytes to :meth:`feed`; it returns what to send to the display
    (``b""`` while the setup message is incomplete, then everything as it comes).
    A setup with another protocol or cookie raises :class:`X11Error`: close the channel.
    """

    def __init__(self, protocol: str, fake: bytes, real: bytes) -> None:
        self.protocol = protocol.encode()
        self.fake, self.real = fake, real
        self._buffer = bytearray()
        self.done = False

    def feed(self, data: bytes) -> bytes:
        if self.done:
            return data
        self._buffer += data
        if len(self._buffer) < _SETUP.size:
            return b""
        order = self._buffer[0]
        if order == 0x42:  # "B": most significant byte first
            fmt = struct.Struct(">BxHHHH2x")
        elif order == 0x6C:  # "l": least significant byte first
            fmt = _SETUP
        else:
            raise X11Error("not an X11 connection setup")
        _, major, minor, name_len, data_len = fmt.unpack_from(self._buffer)
        name_end = _SETUP.size + name_len + _pad(name_len)
        data_end = name_end + data_len + _pad(data_len)
        if len(self._buffer) < data_end:  # 16-bit lengths: at most 128 KiB buffered
            return b""
        name = bytes(self._buffer[_SETUP.size : _SETUP.size + name_len])
        cookie = bytes(self._buffer[name_end : name_end + data_len])
        if name != self.protocol:
            raise X11Error("X11 connection uses a different authentication protocol")
        if not hmac.compare_digest(cookie, self.fake):
            raise X11Error("X11 authentication data does not match the fake data")
        real_name = self.protocol + b"\0" * _pad(len(self.protocol))
        header = fmt.pack(order, major, minor, len(self.protocol), len(self.real))
        out = header + real_name + self.real + b"\0" * _pad(len(self.real))
        out += bytes(self._buffer[data_end:])
        self._buffer.clear()
        self.done = True
        return out


@dataclass(frozen=True)
class ServerX11:
    """Server side: one session's forwarded display, after an accepted x11-req."""

    number: int
    screen: int
    auth_protocol: str
    auth_cookie_hex: str
    single_connection: bool

    def __post_init__(self) -> None:
        # Both end up on xauth's command line: nothing but a name and hex digits.
        if not _NAME.fullmatch(self.auth_protocol) or not _HEX.fullmatch(self.auth_cookie_hex):
            raise ValueError("x11-req: malformed authentication protocol or cookie")

    @property
    def display(self) -> str:
        """DISPLAY for the session: TCP on loopback, as sshd's X11UseLocalhost yes."""
        return f"localhost:{self.number}.{self.screen}"


def xauth_script(x11: ServerX11) -> bytes:
    """What ``xauth -q -`` reads to record the session's (fake) cookie, as sshd does:
    under ``unix:N``, the name Xlib looks up for a display on localhost."""
    name = f"unix:{x11.number}.{x11.screen}"
    return f"remove {name}\nadd {name} {x11.auth_protocol} {x11.auth_cookie_hex}\n".encode()
