"""Key exchange for one connection: KEXINIT, the kex method, NEWKEYS and the rekey rules.

The :class:`Handshake` runs every exchange of a connection (RFC 4253 7-9, strict kex,
RFC 8308's EXT_INFO after the first NEWKEYS) on top of the packet core in
``transport.py``, in the spirit of Go x/crypto/ssh's handshake.go. The core routes kex
messages here and keeps upper-layer messages back while :attr:`running` is true; the
handshake sends through the core and switches its keys, sequence numbers and
compression at each NEWKEYS.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ssh_keys import (
    KeyFormatError,
    PublicKey,
    SignatureInvalid,
    parse_public_key_blob,
    split_signature,
)

from . import ciphers, compression, kex, macs
from .errors import ProtocolError
from .events import HostKeyReceived, KexComplete
from .hostkeys import (
    HostKey,
    accepted_signature_algorithms,
    host_key_algorithms_for,
    key_type_for,
    signature_algorithm_for,
)
from .kex import ExchangeContext, KexFailed, KexResult, KexStep
from .kex.gex import GexServer
from .keys import derive_key
from .messages import ExtInfo, KexInit, NewKeys
from .negotiation import Algorithms, guess_was_right, negotiate
from .packet import PacketOpener, PacketSealer
from .state import Role, State

if TYPE_CHECKING:
    from .transport import Transport

__all__ = ["Handshake", "EXT_INFO_IN_AUTH", "cipher_rekey_limit"]

log = logging.getLogger("ssh_transport")

_STRICT_C = "kex-strict-c-v00@openssh.com"
_STRICT_S = "kex-strict-s-v00@openssh.com"
_EXT_INFO_C = "ext-info-c"
_EXT_INFO_S = "ext-info-s"
EXT_INFO_IN_AUTH = "ext-info-in-auth@openssh.com"
#: A peer may start this many key exchanges in a row with almost no traffic between.
_MAX_BACK_TO_BACK_KEX = 8
#: Key exchanges (the first included) a server runs for a client before authentication.
_MAX_PREAUTH_KEX = 4
_AEAD = frozenset(n for n in ciphers.supported_ciphers() if ciphers.cipher_spec(n).aead)


class _Exchange:
    """Bookkeeping of one key exchange in progress."""

    def __init__(self, our_kexinit: bytes, our_seq: int) -> None:
        self.our_kexinit = our_kexinit
        self.our_seq = our_seq  # sequence number of our KEXINIT, to spot UNIMPLEMENTED for it
        self.peer_kexinit: bytes | None = None
        self.algorithms: Algorithms | None = None
        self.method: kex.ClientKex | kex.ServerKex | None = None
        self.result: KexResult | None = None
        self.skip_guess = False  # the peer's guessed first packet must be dropped
        self.newkeys_sent = False
        self.pending_opener: PacketOpener | None = None
        self.pending_decompressor: compression.Decompressor | None = None


class Handshake:
    """Every key exchange of one :class:`~ssh_transport.transport.Transport`."""

    def __init__(self, core: Transport) -> None:
        self._t = core
        self.role = core.role
        self.config = core.config
        self._lists = core.config.algorithm_lists(server=core.role is Role.SERVER)
        self.host_keys: dict[str, HostKey] = {}
        if self.role is Role.SERVER:
            if not self.config.host_keys:
                raise ValueError("a server needs at least one host key")
            self.host_keys = host_key_algorithms_for(list(self.config.host_keys))
        self._kex: _Exchange | None = None
        self.first_done = False
        self._count = 0
        self._back_to_back = 0
        self._rekey_at_bytes = self.config.rekey_bytes
        self._rekey_deadline: float | None = None
        timeout = self.config.handshake_timeout
        self._first_deadline = core._now + timeout if timeout else None

    # -- what the core asks ---------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True from our KEXINIT to the end of the exchange: upper-layer messages wait."""
        return self._kex is not None

    def refused(self, sequence: int) -> bool:
        """Whether an UNIMPLEMENTED answers our KEXINIT (OpenSSH refusing a pre-auth rekey)."""
        return self._kex is not None and sequence == self._kex.our_seq

    def deadline(self) -> float | None:
        """The handshake timeout until the first exchange ends, then the time-based rekey."""
        if self._first_deadline is not None:
            return self._first_deadline
        if self._kex is None and self._t._authenticated:
            return self._rekey_deadline
        return None

    def on_timer(self, now: float) -> None:
        if self._first_deadline is not None and now >= self._first_deadline:
            raise KexFailed("handshake timed out")
        if self._rekey_deadline is not None and now >= self._rekey_deadline:
            self.maybe_rekey(force=True)

    def maybe_rekey(self, *, force: bool = False) -> None:
        """Start an exchange when traffic (or, with ``force``, time) calls for one.

        OpenSSH refuses key exchanges before user authentication, so automatic rekeying
        waits for it; ``start_rekey()`` remains the caller's choice."""
        t = self._t
        if self._kex is not None or t._state is not State.OPEN or not t._authenticated:
            return
        limit = self._rekey_at_bytes
        if force or t._bytes_sent >= limit or t._bytes_received >= limit:
            self.start()

    # -- our KEXINIT ----------------------------------------------------------------------

    def kexinit(self) -> KexInit:
        lists = self._lists
        kex_names = list(lists.kex)
        if not self.first_done:
            # Feature markers go in the first KEXINIT only (RFC 8308, PROTOCOL 1.10).
            strict = self.config.strict_kex
            if self.role is Role.CLIENT:
                kex_names += [_EXT_INFO_C] + ([_STRICT_C] if strict else [])
            else:
                kex_names += [_EXT_INFO_S] + ([_STRICT_S] if strict else [])
        if self.role is Role.SERVER:
            host_key_names = tuple(n for n in lists.host_key if n in self.host_keys)
        else:
            host_key_names = lists.host_key
        return KexInit(
            self._t._rng(16),
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

    def start(self) -> None:
        """Send our KEXINIT; from now on upper-layer messages are held back."""
        payload = self.kexinit().encode()
        self._kex = _Exchange(payload, self._t._send_seq)
        self._t._send_packet(payload)

    # -- the peer's KEXINIT ---------------------------------------------------------------

    def on_kexinit(self, payload: bytes) -> None:
        t = self._t
        peer = KexInit.decode(payload)
        first = not self.first_done
        if first:
            theirs = _STRICT_S if self.role is Role.CLIENT else _STRICT_C
            t.strict_kex = self.config.strict_kex and theirs in peer.kex_algorithms
            if t.strict_kex and t._recv_seq != 1:
                raise ProtocolError("strict kex: KEXINIT was not the first packet")
        elif self._kex is None:
            self._count_peer_rekey()
        if self._kex is None:
            self.start()
        kx = self._kex
        assert kx is not None
        kx.peer_kexinit = payload
        t._state = State.KEX
        ours = KexInit.decode(kx.our_kexinit)
        client, server = (ours, peer) if self.role is Role.CLIENT else (peer, ours)
        host_key_ok = tuple(self.host_keys) if self.role is Role.SERVER else None
        algorithms = negotiate(client, server, aead=_AEAD, host_key_ok=host_key_ok)
        kx.algorithms = algorithms
        if peer.first_kex_packet_follows and not guess_was_right(client, server):
            kx.skip_guess = True
        kx.method = self._method(kx, algorithms, first)
        if isinstance(kx.method, kex.ClientKex):
            for message in kx.method.start():
                t._send_packet(message)
        log.debug("kex: %s", algorithms)

    def _count_peer_rekey(self) -> None:
        # Only exchanges the peer starts count, and only with little traffic between.
        t = self._t
        if t._packets_since_kex > 16 or t._bytes_sent + t._bytes_received >= 1 << 16:
            self._back_to_back = 0
        self._back_to_back += 1
        if self._back_to_back > _MAX_BACK_TO_BACK_KEX:
            raise ProtocolError("peer keeps starting key exchanges")
        if self.role is Role.SERVER and not t._authenticated and self._count >= _MAX_PREAUTH_KEX:
            # Each costs us a signature and traffic between resets the count above: an
            # unauthenticated client gets a few (sshd refuses any).
            raise ProtocolError("too many key exchanges before authentication")

    def _method(
        self, kx: _Exchange, algorithms: Algorithms, first: bool
    ) -> kex.ClientKex | kex.ServerKex:
        t = self._t
        spec = kex.kex_spec(algorithms.kex)
        ours, theirs = t.local_version.rstrip(b"\r\n"), (t.peer_version or "").encode()
        assert kx.peer_kexinit is not None
        if self.role is Role.CLIENT:
            context = ExchangeContext(ours, theirs, kx.our_kexinit, kx.peer_kexinit)
            return spec.client(spec, context, t._rng)
        context = ExchangeContext(theirs, ours, kx.peer_kexinit, kx.our_kexinit)
        host_key = self.host_keys[algorithms.host_key]
        sig_alg = signature_algorithm_for(algorithms.host_key)
        if first:
            # The key of the first exchange identifies this server for the whole
            # connection (publickey-hostbound binds user signatures to it).
            t.host_key = host_key.public_key

        def sign(data: bytes) -> bytes:
            signature = host_key.signer.sign(data, sig_alg)
            if first:
                t.host_key_signature = signature
            return signature

        method = spec.server(spec, context, t._rng, host_key.public_key.blob, sign)
        if isinstance(method, GexServer) and self.config.moduli is not None:
            method.moduli = list(self.config.moduli)
        return method

    # -- the kex method's messages (30-49) ------------------------------------------------

    def on_kex_message(self, payload: bytes) -> None:
        kx = self._kex
        assert kx is not None
        if kx.skip_guess:
            kx.skip_guess = False
            return
        if kx.method is None or kx.result is not None:
            raise ProtocolError(f"unexpected key exchange message {payload[0]}")
        step: KexStep = kx.method.receive(payload)
        for message in step.send:
            self._t._send_packet(message)
        if step.result is None:
            return
        kx.result = step.result
        if self.role is Role.CLIENT:
            self._check_server_signature(kx, step.result)
        else:
            self.send_newkeys()

    def _check_server_signature(self, kx: _Exchange, result: KexResult) -> None:
        assert kx.algorithms is not None
        t = self._t
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
        if sig_alg not in accepted_signature_algorithms(host_key_alg):
            raise KexFailed(f"server signed with {sig_alg}, not {host_key_alg}")
        if self.first_done:
            if t.host_key is not None and key != t.host_key:
                raise KexFailed("the host key changed during rekeying")
            self.send_newkeys()
            return
        # The first exchange waits for the application: nothing more is read meanwhile.
        t.host_key = key
        t.host_key_signature = result.signature
        t._state = State.HOST_KEY
        t._events.append(HostKeyReceived(key, host_key_alg, answer_with=t._answer_host_key))

    # -- NEWKEYS --------------------------------------------------------------------------

    def send_newkeys(self) -> None:
        """Our NEWKEYS: from here on we send with the new keys."""
        t = self._t
        kx = self._kex
        assert kx is not None and kx.result is not None and not kx.newkeys_sent
        if t.session_id is None:
            t.session_id = kx.result.exchange_hash
        sealer, opener, (out_comp, in_comp) = self._derive(kx, t.session_id)
        t._send_packet(NewKeys().encode())
        kx.newkeys_sent = True
        t._sealer = sealer
        if t.strict_kex:
            t._send_seq = 0
        out_spec = compression.compression_spec(out_comp)
        in_spec = compression.compression_spec(in_comp)
        # Each NEWKEYS starts fresh streams (as OpenSSH does); a delayed method starts
        # at once if authentication is already over, else at USERAUTH_SUCCESS. The
        # inbound one only takes over with the peer's NEWKEYS.
        authenticated = t._authenticated
        out_on = out_spec.name != "none" and (authenticated or not out_spec.delayed)
        in_on = in_spec.name != "none" and (authenticated or not in_spec.delayed)
        t._compressor = out_spec.compressor() if out_on else None
        kx.pending_opener = opener
        limit = self.config.max_packet_length
        kx.pending_decompressor = in_spec.decompressor(limit) if in_on else None
        delayed = not authenticated and (out_spec.delayed or in_spec.delayed)
        t._delayed = (out_spec, in_spec) if delayed else None
        if not self.first_done:
            # RFC 8308 2.4: EXT_INFO goes right after our first NEWKEYS. A client says only
            # that it accepts a second one during authentication (ext-info-in-auth).
            peer = KexInit.decode(kx.peer_kexinit or b"")
            if self.role is Role.SERVER and _EXT_INFO_C in peer.kex_algorithms:
                t._send_packet(ExtInfo.from_dict(t._server_extensions()).encode())
            elif self.role is Role.CLIENT and _EXT_INFO_S in peer.kex_algorithms:
                t._send_packet(ExtInfo.from_dict({EXT_INFO_IN_AUTH: b"0"}).encode())

    def on_newkeys(self, payload: bytes) -> None:
        """The peer's NEWKEYS: we read with the new keys, and the exchange is over."""
        t = self._t
        kx = self._kex
        assert kx is not None
        NewKeys.decode(payload)
        if kx.result is None or kx.pending_opener is None:
            raise ProtocolError("NEWKEYS before the key exchange finished")
        t._opener = kx.pending_opener
        t._decompressor = kx.pending_decompressor
        if t.strict_kex:
            t._recv_seq = 0
        if not self.first_done:
            # RFC 8308: EXT_INFO may come as the very next message after NEWKEYS.
            t._ext_info_allowed = True
        self._finish(kx)

    def _derive(
        self, kx: _Exchange, session_id: bytes
    ) -> tuple[PacketSealer, PacketOpener, tuple[str, str]]:
        """RFC 4253 7.2: both directions' keys, and the compression names (ours, theirs)."""
        result, algs = kx.result, kx.algorithms
        assert result is not None and algs is not None

        def key(letter: bytes, size: int) -> bytes:
            return derive_key(result.hash_name, result.shared_secret, result.exchange_hash,
                              letter, session_id, size)  # fmt: skip

        # Each direction: its cipher, its MAC, and the letters of its (IV, encryption key,
        # integrity key).
        c2s = (algs.cipher_client_to_server, algs.mac_client_to_server, (b"A", b"C", b"E"))
        s2c = (algs.cipher_server_to_client, algs.mac_server_to_client, (b"B", b"D", b"F"))
        out, into = (c2s, s2c) if self.role is Role.CLIENT else (s2c, c2s)
        out_cipher, in_cipher = ciphers.cipher_spec(out[0]), ciphers.cipher_spec(into[0])
        out_mac = None if out_cipher.aead else macs.mac_spec(out[1])
        in_mac = None if in_cipher.aead else macs.mac_spec(into[1])
        iv, enc, integ = out[2]
        sealer = PacketSealer(
            out_cipher,
            key(enc, out_cipher.key_size),
            key(iv, out_cipher.iv_size),
            out_mac,
            key(integ, out_mac.key_size) if out_mac else b"",
            rng=self._t._rng,
        )
        iv, enc, integ = into[2]
        opener = PacketOpener(
            in_cipher,
            key(enc, in_cipher.key_size),
            key(iv, in_cipher.iv_size),
            in_mac,
            key(integ, in_mac.key_size) if in_mac else b"",
            max_packet_length=self.config.max_packet_length,
        )
        if self.role is Role.CLIENT:
            comp = (algs.compression_client_to_server, algs.compression_server_to_client)
        else:
            comp = (algs.compression_server_to_client, algs.compression_client_to_server)
        return sealer, opener, comp

    def _finish(self, kx: _Exchange) -> None:
        t = self._t
        assert kx.algorithms is not None and t.session_id is not None
        first = not self.first_done
        self._kex = None
        self.first_done = True
        self._first_deadline = None
        t._state = State.OPEN
        t.algorithms = kx.algorithms
        self._count += 1
        t._packets_since_kex = 0
        t._bytes_sent = t._bytes_received = 0
        self._rekey_at_bytes = min(self.config.rekey_bytes, cipher_rekey_limit(kx.algorithms))
        if self.config.rekey_seconds is not None:
            self._rekey_deadline = t._now + self.config.rekey_seconds
        t._events.append(KexComplete(kx.algorithms, t.session_id, first, t.strict_kex))
        t._release_queued()


def cipher_rekey_limit(algs: Algorithms) -> int:
    # RFC 4344 3.2: rekey before 2**(L/4) blocks for an L-bit block cipher.
    block = min(
        ciphers.cipher_spec(algs.cipher_client_to_server).block_size,
        ciphers.cipher_spec(algs.cipher_server_to_client).block_size,
    )
    if block >= 16:
        return block * (1 << (block * 2))
    # 8-byte blocks (3DES; chacha20-poly1305 reports 8): 1 GiB, as OpenSSH uses.
    return 1 << 30
