"""Streamlined NTRU Prime sntrup761, the KEM inside ``sntrup761x25519-sha512@openssh.com``.

Written from the NTRU Prime specification (NIST round 3 submission; the same algorithm is
restated in draft-josefsson-ntruprime-streamlined): p = 761, q = 4591, w = 286, ring
R = Z[x]/(x^p - x - 1). Keys and ciphertexts are byte-compatible with the reference
implementation (and therefore with OpenSSH).

Speed comes from two tricks, since a per-coefficient Python loop over 761x761 products
would take tens of milliseconds:

- Kronecker substitution: a polynomial is packed into one Python int with a fixed number
  of bytes per coefficient, so a ring product is a single CPython big-integer
  multiplication (Karatsuba) followed by byte-level unpacking. Signed coefficients are
  handled by subtracting a packed constant and adding back a multiple of the modulus.
- Reciprocals (key generation only) use Bernstein-Yang divsteps, split recursively so
  that the transition matrices of the two halves are combined with packed products; the
  short runs at the leaves are done on packed ints, one divstep per few int operations.

This module is NOT constant time: Python big-integer arithmetic, list comprehensions and
branches all leak timing. It is correct and interoperable, but an attacker who can time
decapsulations precisely on the same machine should be assumed to learn something about
the secret key. (The KEM is used with ephemeral keys in SSH, which limits the exposure.)
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from collections.abc import Callable, Sequence

__all__ = [
    "CIPHERTEXT_SIZE",
    "PUBLIC_KEY_SIZE",
    "SECRET_KEY_SIZE",
    "SHARED_SECRET_SIZE",
    "decapsulate",
    "encapsulate",
    "generate_keypair",
]

_P = 761
_Q = 4591
_W = 286
_Q12 = (_Q - 1) // 2  # 2295: R_q elements are stored centered in [-_Q12, _Q12]

_SMALL_BYTES = (_P + 3) // 4  # 191
_HASH_BYTES = 32

Rng = Callable[[int], bytes]

# ---------------------------------------------------------------------------
# Packing coefficient lists into ints (little-endian, `width` bytes per slot)
# ---------------------------------------------------------------------------

_STRUCT_CODE = {1: "B", 2: "H", 4: "I", 8: "Q"}


def _pack(values: Sequence[int], width: int) -> int:
    """Pack non-negative values (each < 256**width) into one int."""
    n = len(values)
    code = _STRUCT_CODE.get(width)
    if code is not None:
        return int.from_bytes(struct.pack(f"<{n}{code}", *values), "little")
    base = 4 if width < 4 else 8
    raw = struct.pack(f"<{n}{_STRUCT_CODE[base]}", *values)
    out = bytearray(n * width)
    for j in range(width):
        out[j::width] = raw[j::base]
    return int.from_bytes(out, "little")


def _unpack(x: int, n: int, width: int) -> list[int]:
    """Inverse of _pack for the low n slots; x must be non-negative and fit in n slots."""
    data = x.to_bytes(n * width, "little")
    code = _STRUCT_CODE.get(width)
    if code is not None:
        return list(struct.unpack(f"<{n}{code}", data))
    base = 4 if width < 4 else 8
    buf = bytearray(n * base)
    for j in range(width):
        buf[j::base] = data[j::width]
    return list(struct.unpack(f"<{n}{_STRUCT_CODE[base]}", buf))


def _ones(n: int, width: int) -> int:
    """The packed constant with 1 in each of n slots."""
    return int.from_bytes(b"\x01".ljust(width, b"\x00") * n, "little")


# ---------------------------------------------------------------------------
# Products in R/m (m = q or 3) with one factor small (coefficients in {-1, 0, 1})
# ---------------------------------------------------------------------------


class _SmallProduct:
    """Kronecker product a*s mod (x^p - x - 1) for |a_i| <= amax and s small.

    Results are slot values congruent to the true coefficients modulo `modulus`:
    an offset (a multiple of the modulus) keeps every slot non-negative, so the
    packed integer has no borrows between slots and unpacks byte-wise.
    """

    def __init__(self, amax: int, modulus: int) -> None:
        bound = _P * amax  # |coefficient of the plain product|
        offset = -(-bound // modulus) * modulus
        width = 1
        while 3 * 2 * offset >= 256**width:  # after folding x^p = x + 1: < 3 * 2 * offset
            width += 1
        self.width = width
        self.bits = 8 * width
        self.ones = _ones(_P, width)
        self.offset = offset * _ones(2 * _P - 1, width)
        self.low_mask = (1 << (self.bits * _P)) - 1

    def __call__(self, a_off: Sequence[int], a_shift: int, s_off: Sequence[int]) -> list[int]:
        """a_off[i] = a_i + a_shift, s_off[i] = s_i + 1 (both non-negative)."""
        width = self.width
        a = _pack(a_off, width) - a_shift * self.ones
        s = _pack(s_off, width) - self.ones
        z = a * s + self.offset
        hi = z >> (self.bits * _P)
        z = (z & self.low_mask) + hi + (hi << self.bits)  # x^p = x + 1
        return _unpack(z, _P, width)


_mul_q = _SmallProduct(_Q12, _Q)  # R_q element (centered) times small
_mul_3 = _SmallProduct(1, 3)  # small times small, for R/3

# ---------------------------------------------------------------------------
# Reciprocals in R/m by recursive divsteps (Bernstein-Yang), m prime
# ---------------------------------------------------------------------------
#
# With f = reverse(x^p - x - 1), g = reverse(G) and delta = 1, each divstep is
#   delta > 0 and g(0) != 0:  (f, g) <- (g, (f - f(0)/g(0) g) / x),  delta <- 1 - delta
#   otherwise:                (f, g) <- (f, (g - g(0)/f(0) f) / x),  delta <- 1 + delta
# After n steps x^n (f_n, g_n) = P (f, g) for a 2x2 matrix P of polynomials of degree <= n
# that depends only on delta and the low n coefficients of f and g. After 2p - 1 steps
# g = 0 and f is the constant c when G is invertible, and then
#   1/G = x^p P01(1/x) / c  in R/m.
# jump() splits n steps into two halves and multiplies the halves' matrices.
#
# Every polynomial here stays packed (slot width fixed per field) with coefficients only
# lazily reduced: below 2q for R/q, at most 4 for R/3. Products and sums of two products
# then fit the slots, and reduce() brings slots back into range with a few whole-int
# operations (folding with 2^k = r mod m, then a Barrett step), never touching a list.

_Mat = list[int]  # [P00, P01, P10, P11], packed
_LEAF = 32  # divsteps done one by one (on packed rows) at or below this size


class _Field:
    m: int
    bits: int  # slot width

    def __init__(self) -> None:
        self.width = self.bits // 8
        self.slot = (1 << self.bits) - 1
        self.inv = [0] + [pow(i, -1, self.m) for i in range(1, self.m)]
        self.ones = _ones(2 * _P + 2, self.width)
        # Leaf divsteps make slots u + c*w < 2m + (m - 1) * 2m <= 2**leaf_shift, so one
        # Barrett step with mc = floor(2**leaf_shift / m) returns them below 2m.
        self.leaf_shift = (2 * self.m * self.m).bit_length()
        self.leaf_mc = (1 << self.leaf_shift) // self.m
        assert (2 * self.m * self.m * self.leaf_mc).bit_length() <= self.bits
        self.leaf_tmask = self.low(self.bits - self.leaf_shift)

    def low(self, k: int) -> int:
        """Mask keeping the low k bits of every slot."""
        return self.ones * ((1 << k) - 1)

    def reduce(self, z: int) -> int:  # slots < 2**(bits - 3) -> lazily reduced
        raise NotImplementedError

    def leaf(self, n: int, delta: int, f: int, g: int) -> tuple[int, _Mat]:
        """n divsteps. u and w hold rows (x^i f_i | P00 | P01) and (x^i g_i | P10 | P11)."""
        m, inv, k, slot = self.m, self.inv, self.bits, self.slot
        s, mc, tmask = self.leaf_shift, self.leaf_mc, self.leaf_tmask
        col0 = 2 * n  # x^i f_i spreads over at most 2n slots
        col1 = col0 + n + 1
        mask = (1 << (k * n)) - 1
        u = (f & mask) | (1 << (k * col0))
        w = (g & mask) | (1 << (k * col1))
        f0 = (f & slot) % m  # f(0) only changes on a swap
        for i in range(n):
            g0 = ((w >> (k * i)) & slot) % m
            if g0 == 0:
                delta += 1
                u <<= k
                continue
            if delta > 0:
                delta = 1 - delta
                z = u + (m - f0 * inv[g0] % m) * w
                u = w << k
                f0 = g0
            else:
                delta += 1
                z = w + (m - g0 * inv[f0] % m) * u
                u <<= k
            w = z - m * (((z * mc) >> s) & tmask)  # Barrett: slots back below 2m
        seg = (1 << (k * (n + 1))) - 1
        c0, c1 = k * col0, k * col1
        return delta, [(u >> c0) & seg, (u >> c1) & seg, (w >> c0) & seg, (w >> c1) & seg]

    def apply(self, mat: _Mat, f: int, g: int, lo: int, hi: int) -> tuple[int, int]:
        """Coefficients lo..hi-1 of both rows of mat * (f, g)."""
        k, red = self.bits, self.reduce
        mask = (1 << (k * (hi - lo))) - 1
        z0 = mat[0] * f + mat[1] * g
        z1 = mat[2] * f + mat[3] * g
        return red((z0 >> (k * lo)) & mask), red((z1 >> (k * lo)) & mask)

    def matmul(self, p2: _Mat, p1: _Mat) -> _Mat:
        a00, a01, a10, a11 = p2
        b00, b01, b10, b11 = p1
        red = self.reduce
        return [
            red(a00 * b00 + a01 * b10),
            red(a00 * b01 + a01 * b11),
            red(a10 * b00 + a11 * b10),
            red(a10 * b01 + a11 * b11),
        ]

    def jump(self, n: int, delta: int, f: int, g: int) -> tuple[int, _Mat]:
        if n <= _LEAF:
            return self.leaf(n, delta, f, g)
        mask = (1 << (self.bits * n)) - 1
        f &= mask
        g &= mask
        j = n // 2
        delta, p1 = self.jump(j, delta, f, g)
        fj, gj = self.apply(p1, f, g, j, n)
        delta, p2 = self.jump(n - j, delta, fj, gj)
        return delta, self.matmul(p2, p1)

    def reciprocal(self, coeffs: Sequence[int]) -> list[int]:
        """1/G in R/m for G = sum coeffs[i] x^i (values in [0, m)); garbage if not invertible."""
        m, k, width = self.m, self.bits, self.width
        n = 2 * _P - 1
        g = _pack(coeffs[::-1], width)
        j = n // 2
        delta, p1 = self.jump(j, 1, 1, g)  # f = 1 mod x^j
        # Rows of p1 * (f, g) with the sparse f = 1 - x^(p-1) - x^p done by shifts.
        rows = []
        for a, b in ((p1[0], p1[1]), (p1[2], p1[3])):
            z = a + (m - 1) * ((a << (k * (_P - 1))) + (a << (k * _P))) + b * g
            rows.append(self.reduce((z >> (k * j)) & ((1 << (k * (n + 1 - j))) - 1)))
        fj, gj = rows
        delta, p2 = self.jump(n - j, delta, fj, gj)
        # Only P01 = P2_00 P1_01 + P2_01 P1_11 and c = f_n(0) are needed.
        t = n - j + 1
        a0, a1 = _unpack(p2[0], t, width), _unpack(p2[1], t, width)
        b0, b1 = _unpack(fj, t, width), _unpack(gj, t, width)
        c = sum(x * y for x, y in zip(a0, reversed(b0), strict=True)) + sum(
            x * y for x, y in zip(a1, reversed(b1), strict=True)
        )
        scale = self.inv[c % m]
        # P01 has degree <= p mod m; higher slots hold (lazy) multiples of m, dropped here.
        packed = self.reduce(p2[0] * p1[1] + p2[1] * p1[3]) & ((1 << (k * (_P + 1))) - 1)
        p01 = _unpack(packed, _P + 1, width)
        out = p01[_P:0:-1]  # coefficient of x^i is P01[p - i]
        out[0] += p01[0]  # x^p = x + 1
        out[1] += p01[0]
        return [v * scale % m for v in out]


class _FieldQ(_Field):
    """R/q with 40-bit slots; coefficients kept below 2q."""

    m = _Q
    bits = 40

    def __init__(self) -> None:
        super().__init__()
        self.m20, self.m15, self.m25, self.m17 = (
            self.low(20),
            self.low(15),
            self.low(25),
            self.low(17),
        )
        self.r20 = pow(2, 20, _Q)  # 1828
        self.r15 = pow(2, 15, _Q)  # 631
        self.mc = (1 << 23) // _Q  # Barrett constant for slots < 2^23

    def reduce(self, z: int) -> int:
        # slots < 2^37 -> < 2^27.9 -> < 2^22.4 -> [0, 2q)
        z = (z & self.m20) + self.r20 * ((z >> 20) & self.m20)
        z = (z & self.m15) + self.r15 * ((z >> 15) & self.m25)
        return z - _Q * (((z * self.mc) >> 23) & self.m17)


class _Field3(_Field):
    """R/3 with 16-bit slots; coefficients kept in [0, 5] (2^2 = 1 mod 3 for folding)."""

    m = 3
    bits = 16

    def __init__(self) -> None:
        super().__init__()
        self.masks = {s: (self.low(s), self.low(16 - s)) for s in (8, 4, 2)}

    def _fold(self, z: int, s: int) -> int:  # 2^s = 1 mod 3 for even s
        lo, hi = self.masks[s]
        return (z & lo) + ((z >> s) & hi)

    def reduce(self, z: int) -> int:
        # slots < 2^16 -> < 510 -> <= 46 -> <= 14 -> <= 6 -> <= 4
        for s in (8, 4, 2, 2, 2):
            z = self._fold(z, s)
        return z


_field_q = _FieldQ()
_field_3 = _Field3()
_INV3_Q = pow(3, -1, _Q)

# ---------------------------------------------------------------------------
# Encode / Decode (the spec's mixed-radix byte format), with a precomputed schedule
# ---------------------------------------------------------------------------


class _Codec:
    """Encode(R, M) / Decode(S, M) for len(M) = p with every M[i] equal.

    The spec's recursion pairs neighbours, emits low bytes of each pair while its
    range is >= 16384, and recurses on the rest. The byte counts depend only on M, so
    they are computed once and each level then runs as a few list comprehensions.
    """

    def __init__(self, modulus: int) -> None:
        # Per level: (m0s, m1s, nbytes, runs) with runs = [(start, stop, bytes per pair)].
        self.levels: list[tuple[list[int], list[int], list[int], list[tuple[int, int, int]]]] = []
        ms = [modulus] * _P
        size = 0
        while len(ms) > 1:
            m0s, m1s, nbytes, nxt = ms[0:-1:2], ms[1::2], [], []
            for m0, m1 in zip(m0s, m1s, strict=True):
                m, b = m0 * m1, 0
                while m >= 16384:
                    m, b = (m + 255) >> 8, b + 1
                nbytes.append(b)
                nxt.append(m)
            if len(ms) & 1:
                nxt.append(ms[-1])
            runs = []
            start = 0
            for i in range(1, len(nbytes) + 1):
                if i == len(nbytes) or nbytes[i] != nbytes[start]:
                    runs.append((start, i, nbytes[start]))
                    start = i
            self.levels.append((m0s, m1s, nbytes, runs))
            size += sum(nbytes)
            ms = nxt
        self.top = ms[0]
        top_bytes, m = 0, self.top
        while m > 1:
            m, top_bytes = (m + 255) >> 8, top_bytes + 1
        self.top_bytes = top_bytes
        self.size = size + top_bytes

    def encode(self, values: Sequence[int]) -> bytes:
        out: list[bytes] = []
        rs = list(values)
        for m0s, _m1s, _nbytes, runs in self.levels:
            odd = rs[-1] if len(rs) & 1 else None
            pairs = [r0 + m0 * r1 for r0, m0, r1 in zip(rs[0::2], m0s, rs[1::2], strict=False)]
            nxt: list[int] = []
            for start, stop, b in runs:
                chunk = pairs[start:stop]
                if b == 0:
                    nxt.extend(chunk)
                    continue
                if b == 1:
                    out.append(bytes([r & 0xFF for r in chunk]))
                elif b == 2:
                    out.append(struct.pack(f"<{len(chunk)}H", *[r & 0xFFFF for r in chunk]))
                else:
                    out.append(b"".join(r.to_bytes(8, "little")[:b] for r in chunk))
                nxt.extend([r >> (8 * b) for r in chunk])
            if odd is not None:
                nxt.append(odd)
            rs = nxt
        out.append(rs[0].to_bytes(self.top_bytes, "little"))
        return b"".join(out)

    def decode(self, data: bytes) -> list[int]:
        """Values in [0, modulus); any input bytes are accepted, like the reference."""
        pos = 0
        bottoms: list[list[int]] = []
        for _m0s, _m1s, _nbytes, runs in self.levels:
            level: list[int] = []
            for start, stop, b in runs:
                count = stop - start
                seg = data[pos : pos + count * b]
                pos += count * b
                if b == 0:
                    level.extend([0] * count)
                elif b == 1:
                    level.extend(seg)
                elif b == 2:
                    level.extend(struct.unpack(f"<{count}H", seg))
                else:
                    level.extend(
                        [int.from_bytes(seg[i : i + b], "little") for i in range(0, len(seg), b)]
                    )
            bottoms.append(level)
        rs = [int.from_bytes(data[pos : pos + self.top_bytes], "little") % self.top]
        for (m0s, m1s, nbytes, _runs), level in zip(
            reversed(self.levels), reversed(bottoms), strict=True
        ):
            odd = rs[-1] if len(m0s) < len(rs) else None
            vals = [bt + (r << (8 * b)) for bt, r, b in zip(level, rs, nbytes, strict=False)]
            nxt = [0] * (2 * len(vals))
            nxt[0::2] = [v % m0 for v, m0 in zip(vals, m0s, strict=True)]
            nxt[1::2] = [(v // m0) % m1 for v, m0, m1 in zip(vals, m0s, m1s, strict=True)]
            if odd is not None:
                nxt.append(odd)
            rs = nxt
        return rs


_rq_codec = _Codec(_Q)  # public keys: value + 2295 in [0, q)
_rounded_codec = _Codec((_Q + 2) // 3)  # ciphertexts: (value + 2295) / 3 in [0, 1531)

PUBLIC_KEY_SIZE = _rq_codec.size  # 1158
_ROUNDED_BYTES = _rounded_codec.size  # 1007
CIPHERTEXT_SIZE = _ROUNDED_BYTES + _HASH_BYTES  # 1039
SECRET_KEY_SIZE = 2 * _SMALL_BYTES + PUBLIC_KEY_SIZE + _SMALL_BYTES + _HASH_BYTES  # 1763
SHARED_SECRET_SIZE = _HASH_BYTES

# ---------------------------------------------------------------------------
# Small polynomials: stored as offset values s_i + 1 in {0, 1, 2}
# ---------------------------------------------------------------------------


def _small_encode(off: Sequence[int]) -> bytes:
    body = bytes(
        a + 4 * b + 16 * c + 64 * d
        for a, b, c, d in zip(off[0:-1:4], off[1::4], off[2::4], off[3::4], strict=True)
    )
    return body + bytes([off[_P - 1]])


def _small_decode(data: bytes) -> list[int]:
    off = [0] * _P
    body = data[: _SMALL_BYTES - 1]
    off[0:-1:4] = [x & 3 for x in body]
    off[1::4] = [(x >> 2) & 3 for x in body]
    off[2::4] = [(x >> 4) & 3 for x in body]
    off[3::4] = [x >> 6 for x in body]
    off[_P - 1] = data[_SMALL_BYTES - 1] & 3
    if 3 in off:
        raise ValueError("malformed sntrup761 secret key")
    return off


def _random_u32(rng: Rng) -> tuple[int, ...]:
    data = rng(4 * _P)
    if len(data) != 4 * _P:
        raise ValueError("rng returned the wrong number of bytes")
    return struct.unpack(f"<{_P}I", data)


def _small_random(rng: Rng) -> list[int]:
    return [((x & 0x3FFFFFFF) * 3) >> 30 for x in _random_u32(rng)]


def _short_random(rng: Rng) -> list[int]:
    """Weight-w small polynomial: tag w entries +-1 and the rest 0, then sort = shuffle."""
    words = _random_u32(rng)
    tagged = [x & ~1 for x in words[:_W]] + [(x & ~3) | 1 for x in words[_W:]]
    tagged.sort()
    return [x & 3 for x in tagged]


# ---------------------------------------------------------------------------
# Hashing (SHA-512 truncated to 32 bytes, domain-separated by a prefix byte)
# ---------------------------------------------------------------------------


def _hash(prefix: int, data: bytes) -> bytes:
    return hashlib.sha512(bytes([prefix]) + data).digest()[:_HASH_BYTES]


def _hash_confirm(r_enc: bytes, pk_hash: bytes) -> bytes:
    return _hash(2, _hash(3, r_enc) + pk_hash)


def _hash_session(b: int, y: bytes, z: bytes) -> bytes:
    return _hash(b, _hash(3, y) + z)


# ---------------------------------------------------------------------------
# Core
# ---------------------------------------------------------------------------


def _hide(r_off: list[int], pk: bytes, pk_hash: bytes) -> tuple[bytes, bytes]:
    """Returns (r_enc, ciphertext) for ciphertext = Encode(Round(h*r)) || HashConfirm."""
    h_enc = _rq_codec.decode(pk)  # h_i + 2295
    hr = _mul_q(h_enc, _Q12, r_off)
    rounded = [((z + _Q12) % _Q + 1) // 3 for z in hr]
    r_enc = _small_encode(r_off)
    return r_enc, _rounded_codec.encode(rounded) + _hash_confirm(r_enc, pk_hash)


def _decrypt(c_enc: bytes, f_off: list[int], v_off: list[int]) -> list[int]:
    c3 = [3 * d for d in _rounded_codec.decode(c_enc)]  # c_i + 2295
    fc = _mul_q(c3, _Q12, f_off)
    # e = 3 f c in R_q, centered, then taken mod 3 and stored as e_i + 1: with t in [0, q),
    # centered is t or t - q, and q = 1 mod 3 turns (t - q + 1) into t.
    e_off = [(t + (t <= _Q12)) % 3 for t in [3 * z % _Q for z in fc]]
    ev = _mul_3(e_off, 1, v_off)
    r_off = [(z + 1) % 3 for z in ev]
    if _P - r_off.count(1) != _W:
        return [2] * _W + [1] * (_P - _W)
    return r_off


def generate_keypair(rng: Rng = os.urandom) -> tuple[bytes, bytes]:
    """Returns (public_key, secret_key)."""
    while True:
        g_off = _small_random(rng)
        v = _field_3.reciprocal([(s + 2) % 3 for s in g_off])  # g_i = s - 1 mod 3
        v_off = [(c + 1) % 3 for c in v]
        check = _mul_3(v_off, 1, g_off)
        if check[0] % 3 == 1 and all(c % 3 == 0 for c in check[1:]):
            break
    f_off = _short_random(rng)
    finv = _field_q.reciprocal([(s - 1) % _Q for s in f_off])
    a_off = [(c * _INV3_Q + _Q12) % _Q for c in finv]  # 1/(3f), centered + 2295
    h = _mul_q(a_off, _Q12, g_off)
    pk = _rq_codec.encode([(z + _Q12) % _Q for z in h])
    rho = rng(_SMALL_BYTES)
    if len(rho) != _SMALL_BYTES:
        raise ValueError("rng returned the wrong number of bytes")
    sk = _small_encode(f_off) + _small_encode(v_off) + pk + rho + _hash(4, pk)
    return pk, sk


def encapsulate(public_key: bytes, rng: Rng = os.urandom) -> tuple[bytes, bytes]:
    """Returns (ciphertext, shared_secret) for the peer's public key."""
    if len(public_key) != PUBLIC_KEY_SIZE:
        raise ValueError(f"sntrup761 public key must be {PUBLIC_KEY_SIZE} bytes")
    pk = bytes(public_key)
    r_off = _short_random(rng)
    r_enc, ct = _hide(r_off, pk, _hash(4, pk))
    return ct, _hash_session(1, r_enc, ct)


def decapsulate(ciphertext: bytes, secret_key: bytes) -> bytes:
    """Returns the shared secret; a tampered ciphertext yields the implicit-rejection key."""
    if len(ciphertext) != CIPHERTEXT_SIZE:
        raise ValueError(f"sntrup761 ciphertext must be {CIPHERTEXT_SIZE} bytes")
    if len(secret_key) != SECRET_KEY_SIZE:
        raise ValueError(f"sntrup761 secret key must be {SECRET_KEY_SIZE} bytes")
    ct, sk = bytes(ciphertext), bytes(secret_key)
    f_off = _small_decode(sk[:_SMALL_BYTES])
    v_off = _small_decode(sk[_SMALL_BYTES : 2 * _SMALL_BYTES])
    pos = 2 * _SMALL_BYTES
    pk = sk[pos : pos + PUBLIC_KEY_SIZE]
    rho = sk[pos + PUBLIC_KEY_SIZE : pos + PUBLIC_KEY_SIZE + _SMALL_BYTES]
    pk_hash = sk[pos + PUBLIC_KEY_SIZE + _SMALL_BYTES :]
    r_off = _decrypt(ct[:_ROUNDED_BYTES], f_off, v_off)
    r_enc, ct2 = _hide(r_off, pk, pk_hash)
    if hmac.compare_digest(ct, ct2):
        return _hash_session(1, r_enc, ct)
    return _hash_session(0, rho, ct)
