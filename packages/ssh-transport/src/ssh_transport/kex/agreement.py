"""Single round-trip exchanges: the client sends its public value, the server replies.

curve25519, NIST ECDH, the fixed DH groups and the post-quantum hybrids all
have this shape (RFC 5656 4, RFC 8731, RFC 4253 8, the hybrid kex drafts); only
the arithmetic, the encoding of the public values and of K differ. Each one is
an :class:`Agreement`; the two classes below carry the messages.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from ssh_wire import DecodeError, MessageNumber, Reader, Writer

from .base import ClientKex, KexFailed, KexResult, KexStep, ServerKex

__all__ = ["Agreement", "AgreementClient", "AgreementServer"]

INIT = MessageNumber.KEXDH_INIT  # 30: also KEX_ECDH_INIT and KEX_HYBRID_INIT
REPLY = MessageNumber.KEXDH_REPLY  # 31


class Agreement(ABC):
    """The arithmetic of one exchange. Public values travel as ``string`` or ``mpint``."""

    #: True for the DH groups, whose e and f are mpints; False for octet strings.
    public_as_mpint = False

    @abstractmethod
    def client_public(self) -> bytes:
        """Generate the client's ephemeral key; return its public value."""

    @abstractmethod
    def client_shared(self, server_public: bytes) -> bytes:
        """Client side: K, already encoded (mpint or string), from the server's value."""

    @abstractmethod
    def server_respond(self, client_public: bytes) -> tuple[bytes, bytes]:
        """Server side: (server public value, encoded K) for the client's value."""


def _write_public(w: Writer, value: bytes, as_mpint: bool) -> None:
    if as_mpint:
        w.mpint(int.from_bytes(value, "big"))
    else:
        w.string(value)


def _read_public(r: Reader, as_mpint: bool, field: str) -> bytes:
    if as_mpint:
        value = r.positive_mpint(field, max_bits=8192)
        return value.to_bytes((value.bit_length() + 7) // 8, "big")
    return r.string(field, max_length=16384)


class AgreementClient(ClientKex):
    agreement: Agreement

    def start(self) -> list[bytes]:
        params = self.spec.params
        assert callable(params)
        self.agreement = params(self.rng)
        self._public = self.agreement.client_public()
        w = Writer().byte(INIT)
        _write_public(w, self._public, self.agreement.public_as_mpint)
        return [w.getvalue()]

    def receive(self, payload: bytes) -> KexStep:
        r = Reader(payload)
        try:
            if r.byte("message number") != REPLY:
                raise KexFailed(f"unexpected message {payload[0]} during {self.spec.name}")
            host_key = r.string("host key", max_length=16384)
            server_public = _read_public(r, self.agreement.public_as_mpint, "server public value")
            signature = r.string("signature", max_length=16384)
            r.expect_end("kex reply")
        except DecodeError as exc:
            raise KexFailed(f"malformed {self.spec.name} reply: {exc}") from None
        shared = self.agreement.client_shared(server_public)
        as_mpint = self.agreement.public_as_mpint
        w = self.context.hash_prefix().string(host_key)
        _write_public(w, self._public, as_mpint)
        _write_public(w, server_public, as_mpint)
        w.raw(shared)
        h = self.spec.digest(w.buffer())
        return KexStep(result=KexResult(shared, h, host_key, signature, self.spec.hash_name))


class AgreementServer(ServerKex):
    def receive(self, payload: bytes) -> KexStep:
        params = self.spec.params
        assert callable(params)
        agreement: Agreement = params(self.rng)
        as_mpint = agreement.public_as_mpint
        r = Reader(payload)
        try:
            if r.byte("message number") != INIT:
                raise KexFailed(f"unexpected message {payload[0]} during {self.spec.name}")
            client_public = _read_public(r, as_mpint, "client public value")
            r.expect_end("kex init")
        except DecodeError as exc:
            raise KexFailed(f"malformed {self.spec.name} init: {exc}") from None
        server_public, shared = agreement.server_respond(client_public)
        w = self.context.hash_prefix().string(self.host_key_blob)
        _write_public(w, client_public, as_mpint)
        _write_public(w, server_public, as_mpint)
        w.raw(shared)
        h = self.spec.digest(w.buffer())
        signature = self.sign(h)
        reply = Writer().byte(REPLY).string(self.host_key_blob)
        _write_public(reply, server_public, as_mpint)
        reply.string(signature)
        result = KexResult(shared, h, self.host_key_blob, signature, self.spec.hash_name)
        return KexStep(send=[reply.getvalue()], result=result)
