"""Session channel requests (RFC 4254 6, RFC 4335 break, OpenSSH PROTOCOL) and terminal modes.

Each request's type-specific data is a :class:`~ssh_wire.Struct`; :data:`SESSION_REQUESTS`
maps request names to them, and :func:`decode_request` picks the schema by name.
Commands and environment values are bytes (they are bytes to the operating system too);
names and terminal types are text.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from enum import IntEnum

from ssh_wire import Boolean, DecodeError, Name, String, Struct, Text, UInt32

__all__ = [
    # request names
    "SESSION",
    "PTY_REQ",
    "X11_REQ",
    "ENV",
    "SHELL",
    "EXEC",
    "SUBSYSTEM",
    "WINDOW_CHANGE",
    "XON_XOFF",
    "SIGNAL",
    "EXIT_STATUS",
    "EXIT_SIGNAL",
    "BREAK",
    "AUTH_AGENT_REQ",
    "EOW",
    # payloads
    "PtyRequest",
    "X11Request",
    "EnvRequest",
    "ShellRequest",
    "ExecRequest",
    "SubsystemRequest",
    "WindowChange",
    "XonXoff",
    "SignalRequest",
    "ExitStatus",
    "ExitSignal",
    "BreakRequest",
    "AgentForwardingRequest",
    "EndOfWrite",
    "SESSION_REQUESTS",
    "decode_request",
    # terminal modes
    "TerminalMode",
    "encode_terminal_modes",
    "decode_terminal_modes",
]

SESSION = "session"  # the channel type

PTY_REQ = "pty-req"
X11_REQ = "x11-req"
ENV = "env"
SHELL = "shell"
EXEC = "exec"
SUBSYSTEM = "subsystem"
WINDOW_CHANGE = "window-change"
XON_XOFF = "xon-xoff"
SIGNAL = "signal"
EXIT_STATUS = "exit-status"
EXIT_SIGNAL = "exit-signal"
BREAK = "break"  # RFC 4335
AUTH_AGENT_REQ = "auth-agent-req@openssh.com"
EOW = "eow@openssh.com"  # OpenSSH PROTOCOL 2.1: end of write


class PtyRequest(Struct):
    term: Text  # the TERM value, e.g. "xterm-256color"
    width_chars: UInt32
    height_rows: UInt32
    width_pixels: UInt32
    height_pixels: UInt32
    modes: String  # see encode_terminal_modes


class X11Request(Struct):
    single_connection: Boolean
    auth_protocol: Text  # "MIT-MAGIC-COOKIE-1"
    auth_cookie: Text  # hexadecimal
    screen: UInt32


class EnvRequest(Struct):
    name: String
    value: String


class ShellRequest(Struct):
    pass


class ExecRequest(Struct):
    command: String


class SubsystemRequest(Struct):
    name: Text


class WindowChange(Struct):
    width_chars: UInt32
    height_rows: UInt32
    width_pixels: UInt32
    height_pixels: UInt32


class XonXoff(Struct):
    client_can_do: Boolean


class SignalRequest(Struct):
    name: Name  # without the "SIG" prefix: "TERM", "INT", ...


class ExitStatus(Struct):
    status: UInt32


class ExitSignal(Struct):
    signal: Name  # without "SIG"
    core_dumped: Boolean
    message: Text
    language: Text


class BreakRequest(Struct):
    length_ms: UInt32


class AgentForwardingRequest(Struct):
    pass


class EndOfWrite(Struct):
    pass


SESSION_REQUESTS: Mapping[str, type[Struct]] = {
    PTY_REQ: PtyRequest,
    X11_REQ: X11Request,
    ENV: EnvRequest,
    SHELL: ShellRequest,
    EXEC: ExecRequest,
    SUBSYSTEM: SubsystemRequest,
    WINDOW_CHANGE: WindowChange,
    XON_XOFF: XonXoff,
    SIGNAL: SignalRequest,
    EXIT_STATUS: ExitStatus,
    EXIT_SIGNAL: ExitSignal,
    BREAK: BreakRequest,
    AUTH_AGENT_REQ: AgentForwardingRequest,
    EOW: EndOfWrite,
}


def decode_request(name: str, data: bytes) -> Struct | None:
    """The typed payload of a known session request, or None for an unknown name."""
    schema = SESSION_REQUESTS.get(name)
    if schema is None:
        return None
    try:
        return schema.decode(data)
    except DecodeError as exc:
        raise exc.within(f"{name} request") from None


# -- terminal modes (RFC 4254 8) --------------------------------------------------------------


class TerminalMode(IntEnum):
    """Opcodes of the encoded terminal modes; 1-159 carry a uint32 argument."""

    TTY_OP_END = 0
    VINTR = 1
    VQUIT = 2
    VERASE = 3
    VKILL = 4
    VEOF = 5
    VEOL = 6
    VEOL2 = 7
    VSTART = 8
    VSTOP = 9
    VSUSP = 10
    VDSUSP = 11
    VREPRINT = 12
    VWERASE = 13
    VLNEXT = 14
    VFLUSH = 15
    VSWTCH = 16
    VSTATUS = 17
    VDISCARD = 18
    IGNPAR = 30
    PARMRK = 31
    INPCK = 32
    ISTRIP = 33
    INLCR = 34
    IGNCR = 35
    ICRNL = 36
    IUCLC = 37
    IXON = 38
    IXANY = 39
    IXOFF = 40
    IMAXBEL = 41
    IUTF8 = 42  # RFC 8160
    ISIG = 50
    ICANON = 51
    XCASE = 52
    ECHO = 53
    ECHOE = 54
    ECHOK = 55
    ECHONL = 56
    NOFLSH = 57
    TOSTOP = 58
    IEXTEN = 59
    ECHOCTL = 60
    ECHOKE = 61
    PENDIN = 62
    OPOST = 70
    OLCUC = 71
    ONLCR = 72
    OCRNL = 73
    ONOCR = 74
    ONLRET = 75
    CS7 = 90
    CS8 = 91
    PARENB = 92
    PARODD = 93
    TTY_OP_ISPEED = 128
    TTY_OP_OSPEED = 129


_MODE = struct.Struct(">BI")
_LAST_WITH_ARGUMENT = 159  # 160-255 are undefined and stop parsing (RFC 4254 8)


def encode_terminal_modes(modes: Mapping[int, int] | Iterable[tuple[int, int]] = ()) -> bytes:
    """Encode opcode -> value pairs, ending with TTY_OP_END."""
    items = modes.items() if isinstance(modes, Mapping) else modes
    out = bytearray()
    for opcode, value in items:
        if not 1 <= opcode <= _LAST_WITH_ARGUMENT:
            raise ValueError(f"terminal mode opcode {opcode} takes no argument or is undefined")
        if not 0 <= value <= 0xFFFFFFFF:
            raise ValueError(f"terminal mode {opcode}: value {value} is not a uint32")
        out += _MODE.pack(opcode, value)
    out.append(TerminalMode.TTY_OP_END)
    return bytes(out)


def decode_terminal_modes(data: bytes) -> dict[int, int]:
    """Decode encoded terminal modes into opcode -> value (a later repeat wins).

    Parsing stops at TTY_OP_END, at the end of the data (some clients omit TTY_OP_END), or
    at an opcode of 160 and up, as RFC 4254 8 prescribes. A truncated argument is an error.
    """
    modes: dict[int, int] = {}
    pos, end = 0, len(data)
    while pos < end:
        opcode = data[pos]
        if opcode == TerminalMode.TTY_OP_END or opcode > _LAST_WITH_ARGUMENT:
            break
        if end - pos < 5:
            raise DecodeError(
                f"terminal mode {opcode}: truncated argument", field="modes", offset=pos
            )
        modes[opcode] = _MODE.unpack_from(data, pos)[1]
        pos += 5
    return modes
