"""Typed shortcuts over the core's generic actions: one per RFC 4254 / OpenSSH request.

Each builds the request-specific payload with its schema and calls one of the three
generic actions the core implements (:meth:`open_channel`, :meth:`request`,
:meth:`global_request`), so the protocol logic stays in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ssh_wire import ExtendedDataType, Struct

from . import forwarding as fw
from . import session as se

__all__ = ["RequestHelpers"]


def _bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


class RequestHelpers:
    """Mixed into :class:`~ssh_connection.ConnectionCore`."""

    __slots__ = ()

    # -- implemented by the core ------------------------------------------------------------

    def open_channel(
        self,
        kind: str,
        payload: bytes | Struct = b"",
        *,
        window: int | None = None,
        max_packet: int | None = None,
    ) -> int:
        raise NotImplementedError

    def request(
        self, channel_id: int, name: str, data: bytes | Struct = b"", *, want_reply: bool = False
    ) -> None:
        raise NotImplementedError

    def global_request(
        self, name: str, data: bytes | Struct = b"", *, want_reply: bool = False
    ) -> None:
        raise NotImplementedError

    def send(self, channel_id: int, data: bytes | bytearray | memoryview) -> int:
        raise NotImplementedError

    def send_extended(
        self,
        channel_id: int,
        data: bytes | bytearray | memoryview,
        data_type: int = ExtendedDataType.STDERR,
    ) -> int:
        raise NotImplementedError

    # -- opening channels -------------------------------------------------------------------

    def open_session(self) -> int:
        return self.open_channel(fw.SESSION)

    def open_direct_tcpip(
        self, host: str, port: int, originator_host: str = "127.0.0.1", originator_port: int = 0
    ) -> int:
        """ssh -L: ask the server to connect to host:port."""
        return self.open_channel(
            fw.DIRECT_TCPIP, fw.DirectTcpip(host, port, originator_host, originator_port)
        )

    def open_forwarded_tcpip(
        self, connected_host: str, connected_port: int, originator_host: str, originator_port: int
    ) -> int:
        """Server: report a connection to a port the client asked to forward (ssh -R)."""
        return self.open_channel(
            fw.FORWARDED_TCPIP,
            fw.ForwardedTcpip(connected_host, connected_port, originator_host, originator_port),
        )

    def open_direct_streamlocal(self, path: str) -> int:
        return self.open_channel(fw.DIRECT_STREAMLOCAL, fw.DirectStreamlocal(path, b"", 0))

    def open_forwarded_streamlocal(self, path: str) -> int:
        return self.open_channel(fw.FORWARDED_STREAMLOCAL, fw.ForwardedStreamlocal(path, b""))

    def open_x11(self, originator_host: str, originator_port: int) -> int:
        return self.open_channel(fw.X11, fw.X11Open(originator_host, originator_port))

    def open_agent(self) -> int:
        """Server: a channel to the client's forwarded agent (auth-agent@openssh.com)."""
        return self.open_channel(fw.AUTH_AGENT)

    # -- session requests -------------------------------------------------------------------

    def request_pty(
        self,
        channel_id: int,
        term: str = "xterm",
        width_chars: int = 80,
        height_rows: int = 24,
        width_pixels: int = 0,
        height_pixels: int = 0,
        modes: Mapping[int, int] | None = None,
        *,
        want_reply: bool = True,
    ) -> None:
        payload = se.PtyRequest(
            term,
            width_chars,
            height_rows,
            width_pixels,
            height_pixels,
            se.encode_terminal_modes(modes or {}),
        )
        self.request(channel_id, se.PTY_REQ, payload, want_reply=want_reply)

    def request_x11(
        self,
        channel_id: int,
        auth_protocol: str,
        auth_cookie: str,
        screen: int = 0,
        *,
        single_connection: bool = False,
        want_reply: bool = True,
    ) -> None:
        payload = se.X11Request(single_connection, auth_protocol, auth_cookie, screen)
        self.request(channel_id, se.X11_REQ, payload, want_reply=want_reply)

    def request_env(
        self, channel_id: int, name: str | bytes, value: str | bytes, *, want_reply: bool = False
    ) -> None:
        payload = se.EnvRequest(_bytes(name), _bytes(value))
        self.request(channel_id, se.ENV, payload, want_reply=want_reply)

    def request_shell(self, channel_id: int, *, want_reply: bool = True) -> None:
        self.request(channel_id, se.SHELL, want_reply=want_reply)

    def request_exec(
        self, channel_id: int, command: str | bytes, *, want_reply: bool = True
    ) -> None:
        self.request(channel_id, se.EXEC, se.ExecRequest(_bytes(command)), want_reply=want_reply)

    def request_subsystem(self, channel_id: int, name: str, *, want_reply: bool = True) -> None:
        self.request(channel_id, se.SUBSYSTEM, se.SubsystemRequest(name), want_reply=want_reply)

    def request_window_change(
        self,
        channel_id: int,
        width_chars: int,
        height_rows: int,
        width_pixels: int = 0,
        height_pixels: int = 0,
    ) -> None:
        payload = se.WindowChange(width_chars, height_rows, width_pixels, height_pixels)
        self.request(channel_id, se.WINDOW_CHANGE, payload)

    def request_xon_xoff(self, channel_id: int, client_can_do: bool) -> None:
        """Server: tell the client whether it may do flow control itself (^S/^Q)."""
        self.request(channel_id, se.XON_XOFF, se.XonXoff(client_can_do))

    def request_signal(self, channel_id: int, name: str) -> None:
        """Deliver a signal, named without "SIG" ("TERM", "INT", ...)."""
        self.request(channel_id, se.SIGNAL, se.SignalRequest(name.removeprefix("SIG")))

    def request_break(self, channel_id: int, length_ms: int, *, want_reply: bool = False) -> None:
        self.request(channel_id, se.BREAK, se.BreakRequest(length_ms), want_reply=want_reply)

    def request_agent_forwarding(self, channel_id: int, *, want_reply: bool = True) -> None:
        self.request(channel_id, se.AUTH_AGENT_REQ, want_reply=want_reply)

    def send_exit_status(self, channel_id: int, status: int) -> None:
        self.request(channel_id, se.EXIT_STATUS, se.ExitStatus(status))

    def send_exit_signal(
        self,
        channel_id: int,
        signal: str,
        core_dumped: bool = False,
        message: str = "",
        language: str = "",
    ) -> None:
        payload = se.ExitSignal(signal.removeprefix("SIG"), core_dumped, message, language)
        self.request(channel_id, se.EXIT_SIGNAL, payload)

    def send_stderr(self, channel_id: int, data: bytes | bytearray | memoryview) -> int:
        return self.send_extended(channel_id, data, ExtendedDataType.STDERR)

    # -- global requests --------------------------------------------------------------------

    def request_tcpip_forward(self, address: str, port: int) -> None:
        """ssh -R: ask the server to listen; port 0 lets it pick (the reply carries it)."""
        self.global_request(fw.TCPIP_FORWARD, fw.TcpipForward(address, port), want_reply=True)

    def cancel_tcpip_forward(self, address: str, port: int) -> None:
        payload = fw.CancelTcpipForward(address, port)
        self.global_request(fw.CANCEL_TCPIP_FORWARD, payload, want_reply=True)

    def request_streamlocal_forward(self, path: str) -> None:
        payload = fw.StreamlocalForward(path)
        self.global_request(fw.STREAMLOCAL_FORWARD, payload, want_reply=True)

    def cancel_streamlocal_forward(self, path: str) -> None:
        payload = fw.CancelStreamlocalForward(path)
        self.global_request(fw.CANCEL_STREAMLOCAL_FORWARD, payload, want_reply=True)

    def send_keepalive(self) -> None:
        """keepalive@openssh.com: any reply (OpenSSH sends failure) proves the peer alive."""
        self.global_request(fw.KEEPALIVE, want_reply=True)

    def send_no_more_sessions(self) -> None:
        """Client: promise to open no further session channels."""
        self.global_request(fw.NO_MORE_SESSIONS)

    def send_hostkeys(self, host_key_blobs: Iterable[bytes]) -> None:
        """Server: announce all host keys (hostkeys-00@openssh.com)."""
        self.global_request(fw.HOSTKEYS, fw.encode_strings(host_key_blobs))

    def request_hostkeys_prove(self, host_key_blobs: Iterable[bytes]) -> None:
        """Client: ask the server to prove it holds these keys (the reply is signatures)."""
        data = fw.encode_strings(host_key_blobs)
        self.global_request(fw.HOSTKEYS_PROVE, data, want_reply=True)
