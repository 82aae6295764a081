"""The SSH transport layer (RFC 4253) as a sans-I/O state machine.

Feed it the bytes that arrive (``receive_data``), send what ``data_to_send``
returns, and read ``next_event`` until it gives None. Time comes in as
arguments (``now``), randomness from the injected ``rng``. Upper layers send
their messages with ``send_message`` and receive them as
:class:`~ssh_transport.events.MessageReceived` events.
"""

from __future__ import annotations

import enum
import logging
import os
from collections import deque
from collections.abc import Callable

from ssh_keys import KeyFormatError, PublicKey, SignatureInvalid, parse_public_key_blob
from ssh_keys.public import split_signature
from ssh_wire import (
    DecodeError,
    DisconnectError,
    DisconnectReason,
    LocalProtocolError,
    MessageNumber,
    Reader,
)

from . import ciphers, compression, kex, macs
from .config import TransportConfig
from .errors import ConnectionLost, PacketError, ProtocolError
from .events import (
    ConnectionTerminated,
    DebugReceived,
    Event,
    ExtInfoReceived,
    HostKeyReceived,
    KexComplete,
    MessageReceived,
    PongReceived,
    ServiceAccepted,
    ServiceRequested,
)
from .hostkeys import HostKey, host_key_algorithms_for, key_type_for, signature_algorithm_for
from .kex import ExchangeContext, KexFailed, KexResult, KexStep
from .kex.gex import GexServer
from .keys import derive_key
from .messages import (
    MAX_EXTENSIONS,
    Debug,
    Disconnect,
    ExtInfo,
    Ignore,
    KexInit,
    NewKeys,
    Ping,
    Pong,
    ServiceAccept,
    ServiceRequest,
    Unimplemented,
)
from .negotiation import Algorithms, guess_was_right, negotiate
from .packet import PacketOpener, PacketSealer
from .version import VersionReader, version_line

__all__ = ["Role", "Transport", "MAX_QUEUED_MESSAGES", "MAX_QUEUED_BYTES"]

log = logging.getLogger("ssh_transport")

Rng = Callable[[int], bytes]

_STRICT_C = "kex-strict-c-v00@openssh.com"
_STRICT_S = "kex-strict-s-v00@openssh.com"
_EXT_INFO_C = "ext-info-c"
_EXT_INFO_S = "ext-info-s"
_EXT_INFO_IN_AUTH = "ext-info-in-auth@openssh.com"
_USERAUTH_SUCCESS = MessageNumber.USERAUTH_SUCCESS
_MAX_SEQ = 0xFFFFFFFF
#: A peer may start this many key exchanges in a row with almost no traffic between.
_MAX_BACK_TO_BACK_KEX = 8
#: Key exchanges (the first included) a server runs for a client before authentication.
_MAX_PREAUTH_KEX = 4
#: Messages held back while a key exchange runs (see ``queued_bytes``), at most this many
#: and this many payload bytes. A kex lasts a round trip or two, and a layer above that
#: honours its channel windows (a few MiB each) stays far below; the bound caps what a
#: runaway local sender, or a peer making us answer it, can pin in memory meanwhile.
MAX_QUEUED_MESSAGES = 4096
MAX_QUEUED_BYTES = 32 * 1024 * 1024
_AEAD = frozenset(n for n in ciphers.supported_ciphers() if ciphers.cipher_spec(n).aead)


class Role(enum.Enum):
    CLIENT = "client"
    SERVER = "server"


class _State(enum.Enum):
    """What the connection expects next."""

    VERSION = "waiting for the peer's identification line"
    FIRST_KEX = "in the first key exchange"
    HOST_KEY = "waiting for the application to accept the host key"
    OPEN = "keys established"
    CLOSED = "closed"


class _Kex:
    """Bookkeeping of one key exchange in progress."""

    def __init__(self, our_kexinit: bytes) -> None:
        self.our_kexinit = our_kexinit
        self.peer_kexinit: bytes | None = None
        self.algorithms: Algorithms | None = None
        self.method: kex.ClientKex | kex.ServerKex | None = None
        self.result: KexResult | None = None
        self.skip_guess = False  # the peer's guessed first packet must be dropped
        self.newkeys_sent = False
        self.newkeys_received = False
        self.our_seq = -1  # sequence number of our KEXINIT, to spot UNIMPLEMENTED for it
        self.pending_opener: PacketOpener | None = None
        self.pending_decompressor: compression.Decompressor | None = None


class Transport:
    """One end of an SSH transport connection."""

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
        self._lists = self.config.algorithm_lists()
        self._host_keys: dict[str, HostKey] = {}
        if role is Role.SERVER:
            if not self.config.host_keys:
                raise ValueError("a server needs at least one host key")
            self._host_keys = host_key_algorithms_for(list(self.config.host_keys))
        self._state = _State.VERSION
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
        self._kex: _Kex | None = None
        self._queued: deque[bytes] = deque()  # upper-layer messages held during kex
        self._queued_bytes = 0
        self._first_kex_done = False
        self._kex_count = 0
        self._back_to_back_kex = 0
        self._packets_since_kex = 0
        self._bytes_sent = self._bytes_received = 0
        self._rekey_at_bytes = self.config.rekey_bytes
        self._rekey_deadline: float | None = None
        self._handshake_deadline = (
            now + self.config.handshake_timeout if self.config.handshake_timeout else None
        )
        self._service_requested: str | None = None
        self._service: str | None = None
        self._ext_info_allowed = False
        self._authenticated = False
        self._out.append(self.local_version)
        self._start_kex()

    # -- public API: input --------------------------------------------------

    def receive_data(self, data: bytes, now: float | None = None) -> None:
        """Feed bytes from the peer; ``b""`` means the peer closed the stream."""
        if now is not None:
            self._now = now
        if self._state is _State.CLOSED:
            return
        if not data:
            error: DisconnectError = ConnectionLost()
            if self._state is _State.VERSION:
                error = self._version_reader.closed_early(self._in)
                if error.reason == DisconnectReason.CONNECTION_LOST:
                    error = ConnectionLost(error.description)
            self._terminate(error)
            return
        if self._state is _State.HOST_KEY:
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
        if self._state is _State.CLOSED:
            return
        if self._handshake_deadline is not None and now >= self._handshake_deadline:
            self._fail(KexFailed("handshake timed out"))
            return
        if (
            self._rekey_deadline is not None
            and now >= self._rekey_deadline
            and self._kex is None
            and self._state is _State.OPEN
            and self._authenticated
        ):
            self._start_kex()

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
        if self._state is _State.CLOSED:
            return None
        if self._handshake_deadline is not None:
            return self._handshake_deadline
        if self._kex is None and self._authenticated:
            return self._rekey_deadline
        return None

    @property
    def queued_bytes(self) -> int:
        """Payload bytes held back until the running key exchange ends. A driver that
        sends in a loop should wait for KexComplete while this is high: past
        MAX_QUEUED_BYTES (or MAX_QUEUED_MESSAGES), sending raises LocalProtocolError."""
        return self._queued_bytes

    @property
    def closed(self) -> bool:
        return self._state is _State.CLOSED

    @property
    def is_established(self) -> bool:
        """True once the first key exchange has completed (keys are in use)."""
        return self._first_kex_done and self._state is _State.OPEN

    # -- public API: actions ------------------------------------------------

    def accept_host_key(self) -> None:
        """Client: trust the key of the pending :class:`HostKeyReceived`."""
        if self._state is not _State.HOST_KEY:
            raise LocalProtocolError("no host key is waiting for a decision")
        self._state = _State.FIRST_KEX
        self._send_newkeys()
        self._process()

    def _answer_host_key(self, trusted: bool) -> None:
        if trusted:
            self.accept_host_key()
        else:
            self.reject_host_key()

    def reject_host_key(self, description: str = "host key not trusted") -> None:
        if self._state is not _State.HOST_KEY:
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
        if self._state is _State.CLOSED:
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
        if self._state is not _State.OPEN or self._kex is not None:
            return
        self._start_kex()

    def close(self, reason: int = DisconnectReason.BY_APPLICATION, description: str = "") -> None:
        """Send DISCONNECT and end the connection.

        BY_APPLICATION is an orderly close (``ConnectionTerminated(None)``); any other
        reason is reported as the local DisconnectError it is, so a layer above that
        closes on an error does not read back as a clean end."""
        if self._state is _State.CLOSED:
            return
        self._send_packet(Disconnect(reason, description, "").encode())
        self._state = _State.CLOSED
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
        if self._in or self._state is _State.VERSION:
            self._in += data
            buf: bytes | bytearray = self._in
        else:
            buf = data
        pos = 0
        try:
            if self._state is _State.VERSION:
                found = self._version_reader.feed(buf)
                if found is None:
                    return
                self.peer_version, pos = found
                self._state = _State.FIRST_KEX
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
            while self._state not in (_State.CLOSED, _State.HOST_KEY):
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
                if self._recv_seq == 0 and self.strict_kex and not self._first_kex_done:
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
            self._in = bytearray(buf[pos:])

    def _dispatch(self, payload: bytes, seq: int) -> None:
        number = payload[0]
        kx = self._kex
        if kx is not None and kx.peer_kexinit is not None and not kx.newkeys_received:
            self._dispatch_in_kex(kx, number, payload)
        elif number == MessageNumber.KEXINIT:
            self._on_kexinit(payload)
        elif number == MessageNumber.DISCONNECT:
            self._on_disconnect(payload)
        elif not self._first_kex_done:
            # Before the peer's first KEXINIT only IGNORE and DEBUG are tolerated, and
            # under strict kex not even those (checked when the KEXINIT arrives).
            if number not in (MessageNumber.IGNORE, MessageNumber.DEBUG):
                raise ProtocolError(f"message {number} before the key exchange")
        else:
            self._packets_since_kex += 1
            self._dispatch_open(number, payload, seq)
            self._check_rekey()

    def _dispatch_in_kex(self, kx: _Kex, number: int, payload: bytes) -> None:
        """After the peer's KEXINIT and before its NEWKEYS: only kex messages."""
        if number == MessageNumber.DISCONNECT:
            self._on_disconnect(payload)
            return
        if 30 <= number <= 49:
            if kx.skip_guess:
                kx.skip_guess = False
                return
            self._on_kex_message(kx, payload)
            return
        if number == MessageNumber.NEWKEYS:
            self._on_newkeys(kx, payload)
            return
        if number in (MessageNumber.IGNORE, MessageNumber.DEBUG, MessageNumber.UNIMPLEMENTED):
            if self.strict_kex and not self._first_kex_done:
                raise ProtocolError(f"message {number} during strict key exchange")
            return
        raise ProtocolError(f"message {number} during key exchange")

    def _dispatch_open(self, number: int, payload: bytes, seq: int) -> None:
        ext_info_allowed = self._ext_info_allowed
        if self.role is Role.SERVER:
            self._ext_info_allowed = False  # only as the first message after NEWKEYS
        if number >= 50:
            if number <= 127:
                if self._service is None:
                    raise ProtocolError(f"message {number} before a service was accepted")
                if self.role is Role.CLIENT and number == _USERAUTH_SUCCESS:
                    self._ext_info_allowed = False
                    self._start_delayed_compression()
                self._events.append(MessageReceived(payload))
                return
            if number == MessageNumber.PING:
                self._reply(Pong(Ping.decode(payload).data).encode())
                return
            if number == MessageNumber.PONG:
                self._events.append(PongReceived(Pong.decode(payload).data))
                return
            self._reply(Unimplemented(seq).encode())
            return
        if number == MessageNumber.IGNORE:
            Ignore.decode(payload)
        elif number == MessageNumber.DEBUG:
            msg = Debug.decode(payload, strict=False)
            self._events.append(DebugReceived(msg.always_display, msg.message))
        elif number == MessageNumber.UNIMPLEMENTED:
            sequence = Unimplemented.decode(payload).sequence
            if self._kex is not None and sequence == self._kex.our_seq:
                # OpenSSH answers a rekey before authentication this way: waiting is futile.
                raise KexFailed("peer refused the key exchange (UNIMPLEMENTED)")
            log.debug("peer did not implement our message %d", sequence)
        elif number == MessageNumber.SERVICE_REQUEST and self.role is Role.SERVER:
            self._on_service_request(payload)
        elif number == MessageNumber.SERVICE_ACCEPT and self.role is Role.CLIENT:
            self._on_service_accept(payload)
        elif number == MessageNumber.EXT_INFO and ext_info_allowed:
            self._on_ext_info(payload)
        elif number in (MessageNumber.NEWKEYS,) or 30 <= number <= 49:
            raise ProtocolError(f"message {number} outside a key exchange")
        elif number == MessageNumber.EXT_INFO:
            raise ProtocolError("EXT_INFO at the wrong time")
        else:
            self._reply(Unimplemented(seq).encode())

    def _on_disconnect(self, payload: bytes) -> None:
        # Read leniently: the peer is leaving anyway, and its reason code matters more than
        # whether its description is valid UTF-8 or the language tag is present.
        r = Reader(payload[1:])
        reason = r.uint32("reason code")
        description = bytes(r.string_view("description", max_length=65536)).decode(
            "utf-8", "replace"
        )
        self._state = _State.CLOSED
        self._events.append(ConnectionTerminated(DisconnectError(reason, description, local=False)))

    def _on_service_request(self, payload: bytes) -> None:
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

    def _on_service_accept(self, payload: bytes) -> None:
        service = ServiceAccept.decode(payload).service
        if self._service_requested is None or self._service is not None:
            raise ProtocolError("SERVICE_ACCEPT without a request")
        if service != self._service_requested:
            raise ProtocolError(f"server accepted {service!r}, not the service we asked for")
        self._service = service
        self._events.append(ServiceAccepted(service))

    def _on_ext_info(self, payload: bytes) -> None:
        extensions = ExtInfo.decode(payload).extensions()
        self.peer_extensions.update(extensions)
        if len(self.peer_extensions) > MAX_EXTENSIONS:
            # Each EXT_INFO is bounded; a peer sending ever new names in many is not.
            raise ProtocolError("too many extensions in EXT_INFO messages")
        self._ext_info_allowed = self.role is Role.CLIENT and not self._authenticated
        self._events.append(ExtInfoReceived(extensions))

    # -- key exchange -------------------------------------------------------

    def _kexinit(self) -> KexInit:
        lists = self._lists
        kex_names = list(lists.kex)
        if not self._first_kex_done:
            # Feature markers go in the first KEXINIT only (RFC 8308, PROTOCOL 1.10).
            if self.role is Role.CLIENT:
                kex_names += [_EXT_INFO_C] + ([_STRICT_C] if self.config.strict_kex else [])
            else:
                kex_names += [_EXT_INFO_S] + ([_STRICT_S] if self.config.strict_kex else [])
        if self.role is Role.SERVER:
            host_key_names = tuple(n for n in lists.host_key if n in self._host_keys)
        else:
            host_key_names = lists.host_key
        return KexInit(
            self._rng(16),
            tuple(kex_names),
            host_key_names,
            lists.ciphers,
            lists.ciphers,
            lists.macs,
            lists.macs,
            lists.compression,
            lists.compression,
            (),
            (),
            False,
            0,
        )

    def _start_kex(self) -> None:
        payload = self._kexinit().encode()
        self._kex = _Kex(payload)
        self._kex.our_seq = self._send_seq
        self._send_packet(payload)

    def _on_kexinit(self, payload: bytes) -> None:
        peer = KexInit.decode(payload)
        first = not self._first_kex_done
        if first:
            theirs = _STRICT_S if self.role is Role.CLIENT else _STRICT_C
            self.strict_kex = self.config.strict_kex and theirs in peer.kex_algorithms
            if self.strict_kex and self._recv_seq != 1:
                raise ProtocolError("strict kex: KEXINIT was not the first packet")
        elif self._kex is None:
            # Only exchanges the peer starts count, and only with little traffic between.
            if self._packets_since_kex > 16 or self._bytes_sent + self._bytes_received >= 1 << 16:
                self._back_to_back_kex = 0
            self._back_to_back_kex += 1
            if self._back_to_back_kex > _MAX_BACK_TO_BACK_KEX:
                raise ProtocolError("peer keeps starting key exchanges")
            preauth = self.role is Role.SERVER and not self._authenticated
            if preauth and self._kex_count >= _MAX_PREAUTH_KEX:
                # Each costs us a signature and traffic between resets the count above: an
                # unauthenticated client gets a few (sshd refuses any).
                raise ProtocolError("too many key exchanges before authentication")
        if self._kex is None:
            self._start_kex()
        kx = self._kex
        assert kx is not None
        kx.peer_kexinit = payload
        ours = KexInit.decode(kx.our_kexinit)
        client, server = (ours, peer) if self.role is Role.CLIENT else (peer, ours)
        algorithms = negotiate(
            client,
            server,
            aead=_AEAD,
            host_key_ok=tuple(self._host_keys) if self.role is Role.SERVER else None,
        )
        kx.algorithms = algorithms
        if peer.first_kex_packet_follows and not guess_was_right(client, server):
            kx.skip_guess = True
        spec = kex.kex_spec(algorithms.kex)
        if self.role is Role.CLIENT:
            context = ExchangeContext(
                self.local_version.rstrip(b"\r\n"),
                (self.peer_version or "").encode(),
                kx.our_kexinit,
                payload,
            )
            client_method = spec.client(spec, context, self._rng)
            kx.method = client_method
            for message in client_method.start():
                self._send_packet(message)
        else:
            context = ExchangeContext(
                (self.peer_version or "").encode(),
                self.local_version.rstrip(b"\r\n"),
                payload,
                kx.our_kexinit,
            )
            host_key = self._host_keys[algorithms.host_key]
            sig_alg = signature_algorithm_for(algorithms.host_key)
            if first:
                # The key of the first exchange identifies this server for the whole
                # connection (publickey-hostbound binds user signatures to it).
                self.host_key = host_key.public_key

            def sign(data: bytes) -> bytes:
                return host_key.signer.sign(data, sig_alg)

            method = spec.server(spec, context, self._rng, host_key.public_key.blob, sign)
            if isinstance(method, GexServer) and self.config.moduli is not None:
                method.moduli = list(self.config.moduli)
            kx.method = method
        log.debug("kex: %s", algorithms)

    def _on_kex_message(self, kx: _Kex, payload: bytes) -> None:
        if kx.method is None or kx.result is not None:
            raise ProtocolError(f"unexpected key exchange message {payload[0]}")
        step: KexStep = kx.method.receive(payload)
        for message in step.send:
            self._send_packet(message)
        if step.result is None:
            return
        kx.result = step.result
        if self.role is Role.CLIENT:
            self._check_server_signature(kx, step.result)
        else:
            self._send_newkeys()

    def _check_server_signature(self, kx: _Kex, result: KexResult) -> None:
        assert kx.algorithms is not None
        host_key_alg = kx.algorithms.host_key
        try:
            key = parse_public_key_blob(result.host_key_blob)
        except KeyFormatError as exc:
            raise KexFailed(f"server sent an unusable host key: {exc}") from None
        if key.algorithm != key_type_for(host_key_alg):
            raise KexFailed(f"server sent a {key.algorithm} key for {host_key_alg}")
        verifier: PublicKey = getattr(key, "key", key)  # a certificate signs with its key
        try:
            verifier.verify(
                result.exchange_hash,
                result.signature,
                allow_sha1=signature_algorithm_for(host_key_alg) in ("ssh-rsa", "ssh-dss"),
            )
            sig_alg, _ = split_signature(result.signature)
        except SignatureInvalid as exc:
            raise KexFailed(f"host key signature does not verify: {exc}") from None
        if sig_alg != signature_algorithm_for(host_key_alg):
            raise KexFailed(f"server signed with {sig_alg}, not {host_key_alg}")
        if self._first_kex_done:
            if self.host_key is not None and key != self.host_key:
                raise KexFailed("the host key changed during rekeying")
            self._send_newkeys()
            return
        self.host_key = key
        self._state = _State.HOST_KEY
        self._events.append(HostKeyReceived(key, host_key_alg, answer_with=self._answer_host_key))

    def _derive(self, kx: _Kex) -> tuple[PacketSealer, PacketOpener, tuple[str, str]]:
        result, algs = kx.result, kx.algorithms
        assert result is not None and algs is not None
        session_id = self.session_id or result.exchange_hash
        hash_name = result.hash_name

        def key(letter: bytes, size: int) -> bytes:
            return derive_key(hash_name, result.shared_secret, result.exchange_hash, letter,
                              session_id, size)  # fmt: skip

        client_side = self.role is Role.CLIENT
        out_cipher_name = (
            algs.cipher_client_to_server if client_side else algs.cipher_server_to_client
        )
        in_cipher_name = (
            algs.cipher_server_to_client if client_side else algs.cipher_client_to_server
        )
        out_mac_name = algs.mac_client_to_server if client_side else algs.mac_server_to_client
        in_mac_name = algs.mac_server_to_client if client_side else algs.mac_client_to_server
        out_letters = (b"A", b"C", b"E") if client_side else (b"B", b"D", b"F")
        in_letters = (b"B", b"D", b"F") if client_side else (b"A", b"C", b"E")
        out_cipher = ciphers.cipher_spec(out_cipher_name)
        in_cipher = ciphers.cipher_spec(in_cipher_name)
        out_mac = None if out_cipher.aead else macs.mac_spec(out_mac_name)
        in_mac = None if in_cipher.aead else macs.mac_spec(in_mac_name)
        sealer = PacketSealer(
            out_cipher,
            key(out_letters[1], out_cipher.key_size),
            key(out_letters[0], out_cipher.iv_size),
            out_mac,
            key(out_letters[2], out_mac.key_size) if out_mac else b"",
            rng=self._rng,
        )
        opener = PacketOpener(
            in_cipher,
            key(in_letters[1], in_cipher.key_size),
            key(in_letters[0], in_cipher.iv_size),
            in_mac,
            key(in_letters[2], in_mac.key_size) if in_mac else b"",
            max_packet_length=self.config.max_packet_length,
        )
        if client_side:
            comp = (algs.compression_client_to_server, algs.compression_server_to_client)
        else:
            comp = (algs.compression_server_to_client, algs.compression_client_to_server)
        return sealer, opener, comp

    def _send_newkeys(self) -> None:
        kx = self._kex
        assert kx is not None and kx.result is not None and not kx.newkeys_sent
        if self.session_id is None:
            self.session_id = kx.result.exchange_hash
        sealer, opener, (out_comp, in_comp) = self._derive(kx)
        self._send_packet(NewKeys().encode())
        kx.newkeys_sent = True
        self._sealer = sealer
        if self.strict_kex:
            self._send_seq = 0
        out_spec = compression.compression_spec(out_comp)
        in_spec = compression.compression_spec(in_comp)
        # Each NEWKEYS starts fresh streams (as OpenSSH does); a delayed method starts
        # at once if authentication is already over, else at USERAUTH_SUCCESS. The
        # inbound one only takes over with the peer's NEWKEYS.
        authenticated = self._authenticated
        out_on = out_spec.name != "none" and (authenticated or not out_spec.delayed)
        in_on = in_spec.name != "none" and (authenticated or not in_spec.delayed)
        self._compressor = out_spec.compressor() if out_on else None
        kx.pending_opener = opener
        limit = self.config.max_packet_length
        kx.pending_decompressor = in_spec.decompressor(limit) if in_on else None
        delayed = not authenticated and (out_spec.delayed or in_spec.delayed)
        self._delayed = (out_spec, in_spec) if delayed else None
        if not self._first_kex_done:
            # RFC 8308 2.4: EXT_INFO goes right after our first NEWKEYS. A client says only
            # that it accepts a second one during authentication (ext-info-in-auth).
            peer = KexInit.decode(kx.peer_kexinit or b"")
            if self.role is Role.SERVER and _EXT_INFO_C in peer.kex_algorithms:
                self._send_packet(ExtInfo.from_dict(self._server_extensions()).encode())
            elif self.role is Role.CLIENT and _EXT_INFO_S in peer.kex_algorithms:
                self._send_packet(ExtInfo.from_dict({_EXT_INFO_IN_AUTH: b"0"}).encode())
        self._maybe_finish_kex(kx)

    def _server_extensions(self) -> dict[str, bytes]:
        extensions = {
            "server-sig-algs": ",".join(self.config.server_sig_algs).encode(),
            "publickey-hostbound@openssh.com": b"0",
            "ping@openssh.com": b"0",
        }
        extensions.update(self.config.extra_extensions)
        return extensions

    def _on_newkeys(self, kx: _Kex, payload: bytes) -> None:
        NewKeys.decode(payload)
        if kx.result is None or (kx.pending_opener is None and not kx.newkeys_sent):
            raise ProtocolError("NEWKEYS before the key exchange finished")
        if kx.pending_opener is None:
            raise ProtocolError("NEWKEYS before the key exchange finished")
        self._opener = kx.pending_opener
        self._decompressor = kx.pending_decompressor
        kx.newkeys_received = True
        if self.strict_kex:
            self._recv_seq = 0
        if not self._first_kex_done:
            # RFC 8308: EXT_INFO may come as the very next message after NEWKEYS.
            self._ext_info_allowed = True
        self._maybe_finish_kex(kx)

    def _maybe_finish_kex(self, kx: _Kex) -> None:
        if not (kx.newkeys_sent and kx.newkeys_received):
            return
        assert kx.algorithms is not None and self.session_id is not None
        first = not self._first_kex_done
        self._kex = None
        self._first_kex_done = True
        self._state = _State.OPEN
        self._handshake_deadline = None
        self.algorithms = kx.algorithms
        self._kex_count += 1
        self._packets_since_kex = 0
        self._bytes_sent = self._bytes_received = 0
        self._rekey_at_bytes = min(self.config.rekey_bytes, self._cipher_rekey_limit(kx.algorithms))
        if self.config.rekey_seconds is not None:
            self._rekey_deadline = self._now + self.config.rekey_seconds
        self._events.append(KexComplete(kx.algorithms, self.session_id, first, self.strict_kex))
        self._release_queued()

    @staticmethod
    def _cipher_rekey_limit(algs: Algorithms) -> int:
        # RFC 4344 3.2: rekey before 2**(L/4) blocks for an L-bit block cipher.
        block = min(
            ciphers.cipher_spec(algs.cipher_client_to_server).block_size,
            ciphers.cipher_spec(algs.cipher_server_to_client).block_size,
        )
        if block >= 16:
            return block * (1 << (block * 2))
        # 8-byte blocks (3DES; chacha20-poly1305 reports 8): 1 GiB, as OpenSSH uses.
        return 1 << 30

    def _check_rekey(self) -> None:
        # OpenSSH refuses key exchanges before user authentication, so automatic
        # rekeying waits for it; start_rekey() remains the caller's choice.
        if self._kex is not None or self._state is not _State.OPEN or not self._authenticated:
            return
        if self._bytes_sent >= self._rekey_at_bytes or self._bytes_received >= self._rekey_at_bytes:
            self._start_kex()

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
        if self._state is _State.CLOSED:
            raise LocalProtocolError("the connection is closed")
        if self._kex is not None or not self._first_kex_done:
            if self._queue_full(payload):
                # The local application is over-sending while keys change: its error,
                # not the peer's, so it is told and the connection goes on (the message
                # is not taken; it may retry after KexComplete). Disconnecting would
                # punish the peer for our caller's loop.
                raise LocalProtocolError(
                    f"more than {MAX_QUEUED_MESSAGES} messages or {MAX_QUEUED_BYTES} bytes"
                    " held back during a key exchange; wait for KexComplete"
                )
            self._hold(payload)
            return
        self._send_packet(payload)
        self._packets_since_kex += 1
        self._check_rekey()

    def _reply(self, payload: bytes) -> None:
        """Answer a peer's message (PONG, UNIMPLEMENTED, SERVICE_ACCEPT)."""
        if (self._kex is not None or not self._first_kex_done) and self._queue_full(payload):
            # Here the peer makes us queue (a PING flood while our KEXINIT waits for its).
            raise ProtocolError("too many messages to answer during a key exchange")
        self._send_or_queue(payload)

    def _queue_full(self, payload: bytes) -> bool:
        return (
            len(self._queued) >= MAX_QUEUED_MESSAGES
            or self._queued_bytes + len(payload) > MAX_QUEUED_BYTES
        )

    def _hold(self, payload: bytes) -> None:
        self._queued.append(payload)
        self._queued_bytes += len(payload)

    def _release_queued(self) -> None:
        while self._queued and self._kex is None:
            payload = self._queued.popleft()
            self._queued_bytes -= len(payload)
            self._send_packet(payload)

    def _send_packet(self, payload: bytes) -> None:
        number = payload[0]
        if (
            number == _USERAUTH_SUCCESS
            and self.role is Role.SERVER
            and _EXT_INFO_IN_AUTH in self.peer_extensions
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

    # -- failure ------------------------------------------------------------

    def _fail(self, error: DisconnectError, cause: BaseException | None = None) -> None:
        if self._state is _State.CLOSED:
            return
        if cause is not None:
            error.__cause__ = cause
        log.debug("disconnecting: %s", error)
        if error.local:
            try:
                self._send_packet(Disconnect(error.reason, error.description[:200], "").encode())
            except Exception:
                log.debug("could not send DISCONNECT", exc_info=True)
        self._state = _State.CLOSED
        self._events.append(ConnectionTerminated(error))

    def _terminate(self, error: DisconnectError) -> None:
        self._state = _State.CLOSED
        self._events.append(ConnectionTerminated(error))
