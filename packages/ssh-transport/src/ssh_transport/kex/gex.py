"""diffie-hellman-group-exchange-sha256 (RFC 4419, RFC 8270): the server picks the group."""

from __future__ import annotations

from collections.abc import Sequence

from ssh_wire import DecodeError, MessageNumber, Reader, Writer

from .base import (
    ClientKex,
    ExchangeContext,
    HostSigner,
    KexFailed,
    KexResult,
    KexSpec,
    KexStep,
    Rng,
    ServerKex,
)
from .ffdh import FFDHKey, private_exponent
from .groups import MODP_GENERATOR, modp_prime

__all__ = [
    "GexClient",
    "GexServer",
    "GEX_MIN",
    "GEX_PREFERRED",
    "GEX_MAX",
    "default_moduli",
    "parse_moduli",
]

GROUP = MessageNumber.KEXDH_REPLY  # 31: KEX_DH_GEX_GROUP
INIT = MessageNumber.KEX_DH_GEX_INIT  # 32
REPLY = MessageNumber.KEX_DH_GEX_REPLY  # 33
REQUEST = MessageNumber.KEX_DH_GEX_REQUEST  # 34

# RFC 8270: at least 2048 bits; OpenSSH asks for up to 8192.
GEX_MIN, GEX_PREFERRED, GEX_MAX = 2048, 3072, 8192


def default_moduli() -> list[tuple[int, int]]:
    """(p, g) pairs the server offers when no moduli file is given: the RFC 3526 groups."""
    return [(modp_prime(bits), MODP_GENERATOR) for bits in (2048, 3072, 4096, 6144, 8192)]


def parse_moduli(text: str) -> list[tuple[int, int]]:
    """(p, g) pairs from a moduli(5) file such as /etc/ssh/moduli.

    Each line is ``time type tests trials size generator modulus``; only safe primes
    (type 2) that passed Miller-Rabin (tests bit 4) and fit GEX_MIN..GEX_MAX are kept,
    as sshd does. Malformed lines are skipped.
    """
    groups = []
    for line in text.splitlines():
        fields = line.split()
        if not fields or fields[0].startswith("#") or len(fields) != 7:
            continue
        try:
            kind, tests = int(fields[1]), int(fields[2])
            generator, modulus = int(fields[5]), int(fields[6], 16)
        except ValueError:
            continue
        if kind != 2 or not tests & 0x04 or not GEX_MIN <= modulus.bit_length() <= GEX_MAX:
            continue
        if 1 < generator < modulus - 1:
            groups.append((modulus, generator))
    return groups


def _exchange_hash(
    spec: KexSpec,
    context: ExchangeContext,
    host_key: bytes,
    request: tuple[int, int, int],
    p: int,
    g: int,
    e: int,
    f: int,
    shared: bytes,
) -> bytes:
    w = context.hash_prefix().string(host_key)
    w.uint32(request[0]).uint32(request[1]).uint32(request[2])
    w.mpint(p).mpint(g).mpint(e).mpint(f).raw(shared)
    return spec.digest(w.buffer())


class GexClient(ClientKex):
    request = (GEX_MIN, GEX_PREFERRED, GEX_MAX)

    def start(self) -> list[bytes]:
        self._state = "group"
        lo, n, hi = self.request
        return [Writer().byte(REQUEST).uint32(lo).uint32(n).uint32(hi).getvalue()]

    def receive(self, payload: bytes) -> KexStep:
        r = Reader(payload)
        try:
            number = r.byte("message number")
            if self._state == "group" and number == GROUP:
                p = r.positive_mpint("p", max_bits=GEX_MAX)
                g = r.positive_mpint("g", max_bits=GEX_MAX)
                r.expect_end("KEX_DH_GEX_GROUP")
                return self._group(p, g)
            if self._state == "reply" and number == REPLY:
                host_key = r.string("host key", max_length=16384)
                f = r.positive_mpint("f", max_bits=GEX_MAX)
                signature = r.string("signature", max_length=16384)
                r.expect_end("KEX_DH_GEX_REPLY")
                return self._reply(host_key, f, signature)
        except DecodeError as exc:
            raise KexFailed(f"malformed group exchange message: {exc}") from None
        raise KexFailed(f"unexpected message {number} in group exchange")

    def _group(self, p: int, g: int) -> KexStep:
        lo, _, hi = self.request
        if not lo <= p.bit_length() <= hi:
            raise KexFailed(f"server's group of {p.bit_length()} bits is outside {lo}..{hi}")
        if p % 2 == 0 or not 1 < g < p - 1:
            raise KexFailed("server's group is invalid")
        self._p, self._g = p, g
        self._key = FFDHKey(p, g, private_exponent(self.rng, p))
        self._e = self._key.public
        self._state = "reply"
        return KexStep(send=[Writer().byte(INIT).mpint(self._e).getvalue()])

    def _reply(self, host_key: bytes, f: int, signature: bytes) -> KexStep:
        shared = Writer().mpint(self._key.shared(f)).getvalue()
        h = _exchange_hash(
            self.spec, self.context, host_key, self.request, self._p, self._g, self._e, f, shared
        )
        self._state = "done"
        return KexStep(result=KexResult(shared, h, host_key, signature, self.spec.hash_name))


class GexServer(ServerKex):
    """Server side; ``moduli`` is a list of (p, g), e.g. parsed from /etc/ssh/moduli."""

    def __init__(
        self,
        spec: KexSpec,
        context: ExchangeContext,
        rng: Rng,
        host_key_blob: bytes,
        sign: HostSigner,
        moduli: Sequence[tuple[int, int]] | None = None,
    ) -> None:
        super().__init__(spec, context, rng, host_key_blob, sign)
        self.moduli = list(moduli) if moduli is not None else default_moduli()
        self._state = "request"

    def receive(self, payload: bytes) -> KexStep:
        r = Reader(payload)
        try:
            number = r.byte("message number")
            if self._state == "request" and number == REQUEST:
                lo, n, hi = r.uint32("min"), r.uint32("n"), r.uint32("max")
                r.expect_end("KEX_DH_GEX_REQUEST")
                return self._pick(lo, n, hi)
            if self._state == "init" and number == INIT:
                e = r.positive_mpint("e", max_bits=GEX_MAX)
                r.expect_end("KEX_DH_GEX_INIT")
                return self._reply(e)
        except DecodeError as exc:
            raise KexFailed(f"malformed group exchange message: {exc}") from None
        raise KexFailed(f"unexpected message {number} in group exchange")

    def _pick(self, lo: int, n: int, hi: int) -> KexStep:
        # The exchange hash covers the values exactly as the client sent them.
        self._request = (lo, n, hi)
        lo, hi = max(lo, GEX_MIN), min(hi, GEX_MAX)
        n = min(max(n, lo), hi)
        if lo > hi:
            raise KexFailed(f"client asks for a group of {lo}..{hi} bits")
        fitting = [(p, g) for p, g in self.moduli if lo <= p.bit_length() <= hi]
        if not fitting:
            raise KexFailed(f"no group of {lo}..{hi} bits")
        # The smallest group at least n bits, else the largest below it (as OpenSSH does).
        above = [m for m in fitting if m[0].bit_length() >= n]
        p, g = min(above, key=lambda m: m[0]) if above else max(fitting, key=lambda m: m[0])
        self._p, self._g = p, g
        self._state = "init"
        return KexStep(send=[Writer().byte(GROUP).mpint(p).mpint(g).getvalue()])

    def _reply(self, e: int) -> KexStep:
        key = FFDHKey(self._p, self._g, private_exponent(self.rng, self._p))
        f = key.public
        shared = Writer().mpint(key.shared(e)).getvalue()
        h = _exchange_hash(
            self.spec, self.context, self.host_key_blob, self._request, self._p, self._g, e, f,
            shared,
        )  # fmt: skip
        signature = self.sign(h)
        reply = Writer().byte(REPLY).string(self.host_key_blob).mpint(f).string(signature)
        self._state = "done"
        result = KexResult(shared, h, self.host_key_blob, signature, self.spec.hash_name)
        return KexStep(send=[reply.getvalue()], result=result)
