"""The SSH transport layer (RFC 4253) as a sans-I/O state machine.

Feed it the bytes that arrive (``receive_data``), send what ``data_to_send``
returns, and read ``next_event`` until it gives None. Time comes in as
arguments (``now``), randomness from the injected ``rng``. Upper layers send
their messages with ``send_message`` and receive them as
:class:`~ssh_transport.events.MessageReceived` events.

This module is the packet core: framing, the (state, message number) dispatch
table, the transport's own messages and the queue of messages held back while
keys change. The key exchange itself lives in :mod:`ssh_transport.handshake`.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable

from ssh_keys import PublicKey
from ssh_wire import (
    DecodeError,
    DisconnectError,
    DisconnectReason,
    LocalProtocolError,
    MessageNumber,
    Reader,
)

from . import ciphers, compression
from .config import TransportConfig
from .errors import ConnectionLost, PacketError, ProtocolError
from .events import (
    ConnectionTerminated,
    DebugReceived,
    Event,
    ExtInfoReceived,
    MessageReceived,
    PongReceived,
    ServiceAccepted,
    ServiceRequested,
)
from .handshake import EXT_INFO_IN_AUTH, Handshake
from .kex import KexFailed
from .messages import (
    MAX_EXTENSIONS,
    Debug,
    Disconnect,
    ExtInfo,
    Ignore,
    Ping,
    Pong,
    ServiceAccept,
    ServiceRequest,
    Unimplemented,
)
from .negotiation import Algorithms
from .packet import PacketOpener, PacketSealer
from .state import Role, State
from .version import VersionReader, version_line

__all__ = [
    "Role",
    "Transport",
    "MAX_QUEUED_MESSAGES",
    "MAX_QUEUED_BYTES",
    "MESSAGE_TABLES",
]

log = logging.getLogger("ssh_transport")

Rng = Callable[[int], bytes]
#: Handles one message: (core, payload, its sequence number).
Handler = Callable[["Transport", bytes, int], None]

_USERAUTH_SUCCESS = MessageNumber.USERAUTH_SUCCESS
_MAX_SEQ = 0xFFFFFFFF
#: Messages held back while a key exchange runs (see ``queued_bytes``), at most this many
#: and this many payload bytes. A kex lasts a round trip or two, and a layer above that
#: honours its channel windows (a few MiB each) stays far below; the bound caps what a
#: runaway local sender, or a peer making us answer it, can pin in memory meanwhile.
MAX_QUEUED_MESSAGES = 4096
MAX_QUEUED_BYTES = 32 * 1024 * 1024


class Transport:
    """One end of an SSH transport connection."""

    #: The key exchange engine; tests substitute their own.
    _handshake_type: type[Handshake] = Handshake

    def __init__(
        self,
        role: Role,
        config: TransportConfig | None = None,
        *,
        rng: Rng = os.urandom,
        now: float = 0.0,
    ) -> None:
        self.role = role
        self.config = config or TransportConfig()
        self._rng = rng
        self._now = now
        self._state = State.VERSION
        self._table = MESSAGE_TABLES[role]
        self._events: deque[Event] = deque()
        self._out: list[bytes] = []
        self._in = bytearray()  # bytes received but not yet processed
        self._version_reader = VersionReader(allow_pre_lines=role is Role.CLIENT)
        self.local_version = version_line(self.config.software_version)
        self.peer_version: str | None = None
        self.session_id: bytes | None = None
        self.algorithms: Algorithms | None = None
        #: The server's host key from the first key exchange (either role).
        self.host_key: PublicKey | None = None
        #: The host key's signature of the first exchange hash (what session-bind@openssh.com
        #: hands an agent, so it knows which host a forwarded connection comes from).
        self.host_key_signature: bytes | None = None
        self.peer_extensions: dict[str, bytes] = {}
        self.strict_kex = False
        self._send_seq = 0
        self._recv_seq = 0
        self._sealer = PacketSealer(ciphers.NONE_CIPHER, b"", b"", None, b"", rng=rng)
        self._opener = PacketOpener(
            ciphers.NONE_CIPHER, b"", b"", max_packet_length=self.config.max_packet_length
        )
        self._compressor: compression.Compressor | None = None
        self._decompressor: compression.Decompressor | None = None
        self._delayed: tuple[compression.CompressionSpec, compression.CompressionSpec] | None = None
        self._packet_size = -1  # wire size of the packet being received, once known
        self._queued: deque[bytes] = deque()  # upper-layer messages held during kex
        self._queued_bytes = 0
        # Traffic since the last exchange: the handshake's rekey rules read and reset it.
        self._packets_since_kex = 0
        self._bytes_sent = self._bytes_received = 0
        self._service_requested: str | None = None
        self._service: str | None = None
        self._ext_info_allowed = False
        self._authenticated = False
        self._handshake = self._handshake_type(self)
        self._out.append(self.local_version)
        self._handshake.start()

    # -- public API: input --------------------------------------------------

    def receive_data(self, data: bytes, now: float | None = None) -> None:
        """Feed bytes from the peer; ``b""`` means the peer closed the stream."""
        if now is not None:
            self._now = now
        if self._state is State.CLOSED:
            return
        if not data:
            error: DisconnectError = ConnectionLost()
            if self._state is State.VERSION:
                error = self._version_reader.closed_early(self._in)
                if error.reason == DisconnectReason.CONNECTION_LOST:
                    error = ConnectionLost(error.description)
            self._terminate(error)
            return
        if self._state is State.HOST_KEY:
            self._in += data
            if len(self._in) > 2 * self.config.max_packet_length:
                # Nothing is read while the application decides; a legitimate server has
                # sent at most NEWKEYS and EXT_INFO by now, so refuse to buffer without limit.
                self._fail(ProtocolError("too much data while the host key decision is pending"))
            return
        self._process(data)

    def handle_timer(self, now: float) -> None:
        """Let time-based work happen: handshake timeout, rekeying by time."""
        self._now = now
        if self._state is State.CLOSED:
            return
        try:
            self._handshake.on_timer(now)
        except DisconnectError as exc:
            self._fail(exc)

    # -- public API: output -------------------------------------------------

    def data_to_send(self) -> bytes:
        """Everything queued for the peer, as one buffer (possibly empty)."""
        if not self._out:
            return b""
        data = b"".join(self._out)
        self._out.clear()
        return data

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        """The earliest time ``handle_timer`` should be called, or None."""
        if self._state is State.CLOSED:
            return None
        return self._handshake.deadline()

    @property
    def queued_bytes(self) -> int:
        """Payload bytes held back until the running key exchange ends. A driver that
        sends in a loop should wait for KexComplete while this is high: past
        MAX_QUEUED_BYTES (or MAX_QUEUED_MESSAGES), sending raises LocalProtocolError."""
        return self._queued_bytes

    @property
    def queued_messages(self) -> int:
        """Messages held back until the running key exchange ends (see ``queued_bytes``)."""
        return len(self._queued)

    @property
    def closed(self) -> bool:
        return self._state is State.CLOSED

    @property
    def is_established(self) -> bool:
        """True once the first key exchange has completed (keys are in use)."""
        return self._handshake.first_done and self._state is not State.CLOSED

    # -- public API: actions ------------------------------------------------

    def accept_host_key(self) -> None:
        """Client: trust the key of the pending :class:`HostKeyReceived`."""
        if self._state is not State.HOST_KEY:
            raise LocalProtocolError("no host key is waiting for a decision")
        self._state = State.KEX  # until the server's NEWKEYS
        self._handshake.send_newkeys()
        self._process()

    def _answer_host_key(self, trusted: bool) -> None:
        if trusted:
            self.accept_host_key()
        else:
            self.reject_host_key()

    def reject_host_key(self, description: str = "host key not trusted") -> None:
        if self._state is not State.HOST_KEY:
            raise LocalProtocolError("no host key is waiting for a decision")
        self._fail(
            DisconnectError(DisconnectReason.HOST_KEY_NOT_VERIFIABLE, description, local=True)
        )

    def request_service(self, service: str) -> None:
        """Client: ask for a service (``ssh-userauth``); sent once keys are in place."""
        if self.role is not Role.CLIENT:
            raise LocalProtocolError("only a client requests services")
        if self._service_requested is not None:
            raise LocalProtocolError("a service was already requested")
        self._service_requested = service
        self._send_or_queue(ServiceRequest(service).encode())

    def send_message(self, payload: bytes) -> None:
        """Send an upper-layer message (numbers 50 and up); held back during kex."""
        if self._state is State.CLOSED:
            raise LocalProtocolError("the connection is closed")
        if not payload or payload[0] < 50:
            raise LocalProtocolError("upper layers send message numbers 50 and up")
        if self._service is None:
            raise LocalProtocolError("no service has been accepted yet")
        self._send_or_queue(payload)

    def send_ignore(self, data: bytes = b"") -> None:
        self._send_or_queue(Ignore(data).encode())

    def send_ping(self, data: bytes = b"") -> None:
        """ping@openssh.com, if the peer announced it."""
        if "ping@openssh.com" not in self.peer_extensions:
            raise LocalProtocolError("the peer does not support ping@openssh.com")
        self._send_or_queue(Ping(data).encode())

    def start_rekey(self) -> None:
        """Start a new key exchange now (no-op while one is running)."""
        if self._state is not State.OPEN or self._handshake.running:
            return
        self._handshake.start()

    def close(self, reason: int = DisconnectReason.BY_APPLICATION, description: str = "") -> None:
        """Send DISCONNECT and end the connection.

        BY_APPLICATION is an orderly close (``ConnectionTerminated(None)``); any other
        reason is reported as the local DisconnectError it is, so a layer above that
        closes on an error does not read back as a clean end."""
        if self._state is State.CLOSED:
            return
        self._send_packet(Disconnect(reason, description, "").encode())
        self._state = State.CLOSED
        error = None
        if reason != DisconnectReason.BY_APPLICATION:
            error = DisconnectError(reason, description, local=True)
        self._events.append(ConnectionTerminated(error))

    # -- receiving ----------------------------------------------------------

    def _process(self, data: bytes = b"") -> None:
        try:
            self._process_input(data)
        except DisconnectError as exc:
            self._fail(exc)
        except DecodeError as exc:
            self._fail(
                DisconnectError(
                    DisconnectReason.PROTOCOL_ERROR, f"malformed message: {exc}", local=True
                ),
                cause=exc,
            )

    def _process_input(self, data: bytes) -> None:
        # In the common case nothing is left over from the last call, and the new bytes
        # are processed where they are, without first copying them into the buffer.
        if self._in or self._state is State.VERSION:
            self._in += data
            buf: bytes | bytearray = self._in
        else:
            buf = data
        pos = 0
        try:
            if self._state is State.VERSION:
                found = self._version_reader.feed(buf)
                if found is None:
                    return
                self.peer_version, pos = found
                self._state = State.KEXINIT
                log.debug("peer version %s", self.peer_version)
            pos = self._read_packets(buf, pos)
        finally:
            self._keep_rest(buf, pos)

    def _read_packets(self, buf: bytes | bytearray, pos: int) -> int:
        """Open and dispatch every complete packet in ``buf`` from ``pos``; return where
        the unread rest starts."""
        opener = self._opener
        view = memoryview(buf)
        try:
            while self._state not in (State.CLOSED, State.HOST_KEY):
                available = len(buf) - pos
                if self._packet_size < 0:
                    if available < opener.header_size:
                        break
                    header = view[pos : pos + opener.header_size]
                    self._packet_size = opener.packet_length(self._recv_seq, header)
                if available < self._packet_size:
                    break
                size = self._packet_size
                payload = opener.open(self._recv_seq, view[pos : pos + size])
                pos += size
                self._bytes_received += size
                self._packet_size = -1
                seq = self._recv_seq
                self._recv_seq = (seq + 1) & _MAX_SEQ
                first_kex = not self._handshake.first_done
                if self._recv_seq == 0 and self.strict_kex and first_kex:
                    raise PacketError("sequence number wrapped during the first key exchange")
                if self._decompressor is not None:
                    payload = self._decompressor.decompress(payload)
                if not payload:
                    raise PacketError("empty payload")
                self._dispatch(payload, seq)
                opener = self._opener  # NEWKEYS may have switched it
        finally:
            view.release()
        return pos

    def _keep_rest(self, buf: bytes | bytearray, pos: int) -> None:
        # A new buffer rather than resizing the old one: a view into it may still be alive
        # (in a traceback), and only the unread tail, usually small, is copied.
        if pos or buf is not self._in:
            # From a view: slicing bytes first would copy the tail twice.
            with memoryview(buf) as view, view[pos:] as rest:
                self._in = bytearray(rest)

    def _dispatch(self, payload: bytes, seq: int) -> None:
        """Route one message through MESSAGE_TABLES: what a state does not list is a
        protocol error."""
        number = payload[0]
        handler = self._table[self._state].get(number)
        if handler is None:
            raise ProtocolError(f"message {number} not allowed {self._state.value}")
        handler(self, payload, seq)

    # -- the handlers of MESSAGE_TABLES ----------------------------------------

    def _on_kexinit(self, payload: bytes, seq: int) -> None:
        self._handshake.on_kexinit(payload)

    def _on_kex_message(self, payload: bytes, seq: int) -> None:
        self._handshake.on_kex_message(payload)

    def _on_newkeys(self, payload: bytes, seq: int) -> None:
        self._handshake.on_newkeys(payload)

    def _on_noise_before_kex(self, payload: bytes, seq: int) -> None:
        # IGNORE and DEBUG before the peer's first KEXINIT are dropped; under strict kex
        # the KEXINIT then refuses to be anything but the first packet.
        pass

    def _on_noise_in_kex(self, payload: bytes, seq: int) -> None:
        if self.strict_kex and not self._handshake.first_done:
            raise ProtocolError(f"message {payload[0]} during strict key exchange")

    def _on_disconnect(self, payload: bytes, seq: int) -> None:
        # Read leniently: the peer is leaving anyway, and its reason code matters more than
        # whether its description is valid UTF-8 or the language tag is present.
        r = Reader(payload[1:])
        reason = r.uint32("reason code")
        description = bytes(r.string_view("description", max_length=65536)).decode(
            "utf-8", "replace"
        )
        self._state = State.CLOSED
        self._events.append(ConnectionTerminated(DisconnectError(reason, description, local=False)))

    def _on_upper_layer(self, payload: bytes, seq: int) -> None:
        number = payload[0]
        if self._service is None:
            raise ProtocolError(f"message {number} before a service was accepted")
        if self.role is Role.CLIENT and number == _USERAUTH_SUCCESS:
            self._ext_info_allowed = False
            self._start_delayed_compression()
        self._events.append(MessageReceived(payload))

    def _on_ignore(self, payload: bytes, seq: int) -> None:
        Ignore.decode(payload)

    def _on_debug(self, payload: bytes, seq: int) -> None:
        msg = Debug.decode(payload, strict=False)
        self._events.append(DebugReceived(msg.always_display, msg.message))

    def _on_unimplemented(self, payload: bytes, seq: int) -> None:
        sequence = Unimplemented.decode(payload).sequence
        if self._handshake.refused(sequence):
            # OpenSSH answers a rekey before authentication this way: waiting is futile.
            raise KexFailed("peer refused the key exchange (UNIMPLEMENTED)")
        log.debug("peer did not implement our message %d", sequence)

    def _on_ping(self, payload: bytes, seq: int) -> None:
        self._reply(Pong(Ping.decode(payload).data).encode())

    def _on_pong(self, payload: bytes, seq: int) -> None:
        self._events.append(PongReceived(Pong.decode(payload).data))

    def _on_unknown(self, payload: bytes, seq: int) -> None:
        self._reply(Unimplemented(seq).encode())

    def _on_kex_outside_kex(self, payload: bytes, seq: int) -> None:
        raise ProtocolError(f"message {payload[0]} outside a key exchange")

    def _on_service_request(self, payload: bytes, seq: int) -> None:
        service = ServiceRequest.decode(payload).service
        if service == self._service and not self._authenticated:
            # Paramiko asks again before every authentication attempt; sshd accepts that
            # until the user is authenticated, and so do we (the auth layer is unchanged).
            self._reply(ServiceAccept(service).encode())
            return
        if self._service is not None or service not in self.config.services:
            raise DisconnectError(
                DisconnectReason.SERVICE_NOT_AVAILABLE, f"service {service!r} not available",
                local=True,
            )  # fmt: skip
        self._service = service
        self._reply(ServiceAccept(service).encode())
        self._events.append(ServiceRequested(service))

    def _on_service_accept(self, payload: bytes, seq: int) -> None:
        service = ServiceAccept.decode(payload).service
        if self._service_requested is None or self._service is not None:
            raise ProtocolError("SERVICE_ACCEPT without a request")
        if service != self._service_requested:
            raise ProtocolError(f"server accepted {service!r}, not the service we asked for")
        self._service = service
        self._events.append(ServiceAccepted(service))

    def _on_ext_info(self, payload: bytes, seq: int) -> None:
        if not self._ext_info_allowed:
            raise ProtocolError("EXT_INFO at the wrong time")
        extensions = ExtInfo.decode(payload).extensions()
        self.peer_extensions.update(extensions)
        if len(self.peer_extensions) > MAX_EXTENSIONS:
            # Each EXT_INFO is bounded; a peer sending ever new names in many is not.
            raise ProtocolError("too many extensions in EXT_INFO messages")
        self._ext_info_allowed = self.role is Role.CLIENT and not self._authenticated
        self._events.append(ExtInfoReceived(extensions))

    def _start_delayed_compression(self) -> None:
        self._authenticated = True
        if self._delayed is None:
            return
        out_spec, in_spec = self._delayed
        self._delayed = None
        if out_spec.delayed:
            self._compressor = out_spec.compressor()
        if in_spec.delayed:
            self._decompressor = in_spec.decompressor(self.config.max_packet_length)

    # -- sending ------------------------------------------------------------

    def _send_or_queue(self, payload: bytes) -> None:
        if self._state is State.CLOSED:
            raise LocalProtocolError("the connection is closed")
        if self._handshake.running:
            if self._queue_full(payload):
                # The local application is over-sending while keys change: its error,
                # not the peer's, so it is told and the connection goes on (the message
                # is not taken; it may retry after KexComplete). Disconnecting would
                # punish the peer for our caller's loop.
                raise LocalProtocolError(
                    f"more than {MAX_QUEUED_MESSAGES} messages or {MAX_QUEUED_BYTES} bytes"
                    " held back during a key exchange; wait for KexComplete"
                )
            self._queued.append(payload)
            self._queued_bytes += len(payload)
            return
        self._send_packet(payload)
        self._packets_since_kex += 1
        self._handshake.maybe_rekey()

    def _reply(self, payload: bytes) -> None:
        """Answer a peer's message (PONG, UNIMPLEMENTED, SERVICE_ACCEPT)."""
        if self._handshake.running and self._queue_full(payload):
            # Here the peer makes us queue (a PING flood while our KEXINIT waits for its).
            raise ProtocolError("too many messages to answer during a key exchange")
        self._send_or_queue(payload)

    def _queue_full(self, payload: bytes) -> bool:
        return (
            len(self._queued) >= MAX_QUEUED_MESSAGES
            or self._queued_bytes + len(payload) > MAX_QUEUED_BYTES
        )

    def _release_queued(self) -> None:
        """After an exchange: send what waited, unless another exchange started."""
        while self._queued and not self._handshake.running:
            payload = self._queued.popleft()
            self._queued_bytes -= len(payload)
            self._send_packet(payload)

    def _send_packet(self, payload: bytes) -> None:
        number = payload[0]
        if (
            number == _USERAUTH_SUCCESS
            and self.role is Role.SERVER
            and EXT_INFO_IN_AUTH in self.peer_extensions
        ):
            # The client takes EXT_INFO again right before USERAUTH_SUCCESS.
            self._send_packet(ExtInfo.from_dict(self._server_extensions()).encode())
        if self._compressor is not None:
            payload = self._compressor.compress(payload)
        packet = self._sealer.seal(self._send_seq, payload)
        self._send_seq = (self._send_seq + 1) & _MAX_SEQ
        self._bytes_sent += len(packet)
        self._out.append(packet)
        if number == _USERAUTH_SUCCESS and self.role is Role.SERVER:
            # zlib@openssh.com starts right after USERAUTH_SUCCESS, in both directions.
            self._start_delayed_compression()

    def _server_extensions(self) -> dict[str, bytes]:
        extensions = {
            "server-sig-algs": ",".join(self.config.server_sig_algs).encode(),
            "publickey-hostbound@openssh.com": b"0",
            "ping@openssh.com": b"0",
        }
        extensions.update(self.config.extra_extensions)
        return extensions

    # -- failure ------------------------------------------------------------

    def _fail(self, error: DisconnectError, cause: BaseException | None = None) -> None:
        if self._state is State.CLOSED:
            return
        if cause is not None:
            error.__cause__ = cause
        log.debug("disconnecting: %s", error)
        if error.local:
            try:
                self._send_packet(Disconnect(error.reason, error.description[:200], "").encode())
            except Exception:
                log.debug("could not send DISCONNECT", exc_info=True)
        self._state = State.CLOSED
        self._events.append(ConnectionTerminated(error))

    def _terminate(self, error: DisconnectError) -> None:
        self._state = State.CLOSED
        self._events.append(ConnectionTerminated(error))


# -- the allowed-message table ---------------------------------------------------------------


def _after_kex(handler: Handler) -> Handler:
    """Wrap a handler of the OPEN state with what every message there is counted for:
    the rekey rules' traffic count, and EXT_INFO's "only as the first message" on the
    server."""

    def counted(t: Transport, payload: bytes, seq: int) -> None:
        t._packets_since_kex += 1
        handler(t, payload, seq)
        if t.role is Role.SERVER:
            t._ext_info_allowed = False
        t._handshake.maybe_rekey()

    return counted


def _tables(role: Role) -> dict[State, dict[int, Handler]]:
    M = MessageNumber
    T = Transport
    kex_method = range(30, 50)
    noise: dict[int, Handler] = dict.fromkeys(
        (M.IGNORE, M.DEBUG, M.UNIMPLEMENTED), T._on_noise_in_kex
    )
    in_kex: dict[int, Handler] = {
        M.DISCONNECT: T._on_disconnect,
        M.NEWKEYS: T._on_newkeys,
        **noise,
        **dict.fromkeys(kex_method, T._on_kex_message),
    }
    before_kex: dict[int, Handler] = {
        M.KEXINIT: T._on_kexinit,
        M.DISCONNECT: T._on_disconnect,
        M.IGNORE: T._on_noise_before_kex,
        M.DEBUG: T._on_noise_before_kex,
    }
    # After the exchange every number has an entry: unknown ones get UNIMPLEMENTED.
    opened: dict[int, Handler] = dict.fromkeys(range(256), _after_kex(T._on_unknown))
    opened.update(dict.fromkeys(range(50, 128), _after_kex(T._on_upper_layer)))
    opened.update(dict.fromkeys((M.NEWKEYS, *kex_method), _after_kex(T._on_kex_outside_kex)))
    service: dict[int, Handler] = (
        {M.SERVICE_REQUEST: T._on_service_request}
        if role is Role.SERVER
        else {M.SERVICE_ACCEPT: T._on_service_accept}
    )
    opened.update(
        {number: _after_kex(handler) for number, handler in {
            M.IGNORE: T._on_ignore,
            M.DEBUG: T._on_debug,
            M.UNIMPLEMENTED: T._on_unimplemented,
            M.EXT_INFO: T._on_ext_info,
            M.PING: T._on_ping,
            M.PONG: T._on_pong,
            **service,
        }.items()}
    )  # fmt: skip
    # KEXINIT (it resets the count) and DISCONNECT are not counted traffic.
    opened.update({M.KEXINIT: T._on_kexinit, M.DISCONNECT: T._on_disconnect})
    return {
        State.VERSION: {},
        State.KEXINIT: before_kex,
        State.KEX: in_kex,
        State.HOST_KEY: {},  # nothing is read while the application decides
        State.OPEN: opened,
        State.CLOSED: {},
    }


#: The allowed-message table of each role: state -> message number -> handler. A number
#: missing from a state's table is a protocol error there.
MESSAGE_TABLES: dict[Role, dict[State, dict[int, Handler]]] = {role: _tables(role) for role in Role}
