"""sntrup761: our pure-Python KEM against pqcrypto's compiled one, a recorded vector, and
properties of the ring arithmetic checked against schoolbook multiplication."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssh_transport import sntrup761 as kem

P, Q, W = 761, 4591, 286
KAT = json.loads((Path(__file__).parent / "data" / "sntrup761_kat.json").read_text())


def _oracle() -> ModuleType:
    try:
        from pqcrypto.kem import sntrup_761  # type: ignore[import-not-found]
    except ImportError:
        pytest.skip("pqcrypto (compiled sntrup761 oracle) is not importable")
    return sntrup_761  # type: ignore[no-any-return]


class StreamRng:
    """Deterministic rng: SHAKE-256 of a seed, consumed in order."""

    def __init__(self, seed: bytes) -> None:
        self.seed = seed
        self.used = 0

    def __call__(self, n: int) -> bytes:
        out = hashlib.shake_256(self.seed).digest(self.used + n)[self.used :]
        self.used += n
        return out


def schoolbook(a: list[int], b: list[int], m: int) -> list[int]:
    """a*b mod (x^p - x - 1, m), the slow obvious way."""
    c = [0] * (2 * P - 1)
    for i, x in enumerate(a):
        if x:
            for j, y in enumerate(b):
                c[i + j] += x * y
    for k in range(2 * P - 2, P - 1, -1):
        c[k - P] += c[k]
        c[k - P + 1] += c[k]
    return [x % m for x in c[:P]]


# --- sizes and our own round trip --------------------------------------------------


def test_sizes() -> None:
    assert kem.PUBLIC_KEY_SIZE == 1158
    assert kem.SECRET_KEY_SIZE == 1763
    assert kem.CIPHERTEXT_SIZE == 1039
    assert kem.SHARED_SECRET_SIZE == 32
    pk, sk = kem.generate_keypair()
    ct, ss = kem.encapsulate(pk)
    assert (len(pk), len(sk), len(ct), len(ss)) == (1158, 1763, 1039, 32)


def test_round_trip_and_secret_key_layout() -> None:
    pk, sk = kem.generate_keypair()
    ct, ss = kem.encapsulate(pk)
    assert kem.decapsulate(ct, sk) == ss
    assert sk[382 : 382 + 1158] == pk
    assert sk[-32:] == hashlib.sha512(b"\x04" + pk).digest()[:32]
    ct2, ss2 = kem.encapsulate(pk)
    assert ct2 != ct
    assert ss2 != ss


def test_deterministic_with_injected_rng() -> None:
    a = kem.generate_keypair(StreamRng(b"seed"))
    b = kem.generate_keypair(StreamRng(b"seed"))
    assert a == b
    assert kem.generate_keypair(StreamRng(b"other")) != a
    e1 = kem.encapsulate(a[0], StreamRng(b"enc"))
    assert e1 == kem.encapsulate(a[0], StreamRng(b"enc"))
    assert kem.decapsulate(e1[0], a[1]) == e1[1]


def test_rng_consumption_follows_the_spec() -> None:
    # Small_random g (4p bytes), Short_random f (4p bytes), rho (191 bytes);
    # encapsulation draws Short_random r (4p bytes).
    rng = StreamRng(b"count")
    pk, _ = kem.generate_keypair(rng)
    assert rng.used in (8 * P + 191, 12 * P + 191, 16 * P + 191)  # g may be redrawn
    rng2 = StreamRng(b"count2")
    kem.encapsulate(pk, rng2)
    assert rng2.used == 4 * P


def test_keygen_redraws_g_when_not_invertible_mod_3() -> None:
    zero_g = struct.pack("<I", 0x15555556) * P  # every Small_random coefficient is 0
    inner = StreamRng(b"after")
    fed: list[int] = []

    def rng(n: int) -> bytes:
        fed.append(n)
        return zero_g if len(fed) == 1 else inner(n)

    pk, sk = kem.generate_keypair(rng)
    assert fed[:3] == [4 * P, 4 * P, 4 * P]
    ct, ss = kem.encapsulate(pk)
    assert kem.decapsulate(ct, sk) == ss


def test_tampered_ciphertext_gives_rejection_key() -> None:
    pk, sk = kem.generate_keypair(StreamRng(b"k"))
    ct, ss = kem.encapsulate(pk, StreamRng(b"e"))
    rho = sk[382 + 1158 : 382 + 1158 + 191]
    for pos in (0, 500, 1006, 1007, 1038):
        bad = bytearray(ct)
        bad[pos] ^= 1
        out = kem.decapsulate(bytes(bad), sk)
        assert out != ss
        expected = hashlib.sha512(
            b"\x00" + hashlib.sha512(b"\x03" + rho).digest()[:32] + bytes(bad)
        ).digest()[:32]
        assert out == expected


# --- input validation -----------------------------------------------------------------


def test_wrong_lengths_raise_value_error() -> None:
    pk, sk = kem.generate_keypair(StreamRng(b"v"))
    ct, _ = kem.encapsulate(pk)
    with pytest.raises(ValueError, match="public key"):
        kem.encapsulate(pk[:-1])
    with pytest.raises(ValueError, match="public key"):
        kem.encapsulate(pk + b"\x00")
    with pytest.raises(ValueError, match="ciphertext"):
        kem.decapsulate(ct[:-1], sk)
    with pytest.raises(ValueError, match="secret key"):
        kem.decapsulate(ct, sk + b"\x00")
    with pytest.raises(ValueError, match="rng"):
        kem.encapsulate(pk, lambda n: b"\x00" * (n - 1))
    with pytest.raises(ValueError, match="rng"):
        kem.generate_keypair(lambda n: b"")


def test_malformed_secret_key_is_rejected() -> None:
    _, sk = kem.generate_keypair(StreamRng(b"m"))
    bad = b"\xff" + sk[1:]  # a 2-bit field of 3 is not a small coefficient
    with pytest.raises(ValueError, match="secret key"):
        kem.decapsulate(bytes(1039), bad)


def test_any_ciphertext_bytes_decapsulate() -> None:
    _, sk = kem.generate_keypair(StreamRng(b"junk"))
    for ct in (bytes(1039), b"\xff" * 1039):
        assert len(kem.decapsulate(ct, sk)) == 32


# --- the compiled oracle (pqcrypto) ------------------------------------------------------


def test_recorded_vector_decapsulates() -> None:
    sk = bytes.fromhex(KAT["sk"])
    assert kem.decapsulate(bytes.fromhex(KAT["ct"]), sk) == bytes.fromhex(KAT["ss"])
    tampered = bytes.fromhex(KAT["ct_tampered"])
    assert kem.decapsulate(tampered, sk) == bytes.fromhex(KAT["ss_tampered"])


def test_recorded_key_is_consistent_with_our_ring_arithmetic() -> None:
    # pk = g/(3f): so 3*f*h is small, and the stored v is 1/g in R/3.
    sk = bytes.fromhex(KAT["sk"])
    f_off = kem._small_decode(sk[:191])
    v_off = kem._small_decode(sk[191:382])
    h = kem._rq_codec.decode(bytes.fromhex(KAT["pk"]))
    fh = kem._mul_q(h, 2295, f_off)
    g = [(3 * z + 1) % Q - 1 for z in fh]
    assert set(g) <= {-1, 0, 1}
    assert sum(1 for x in f_off if x != 1) == W
    f = [x - 1 for x in f_off]
    assert schoolbook([(x - 2295) % Q for x in h], [x % Q for x in f], Q) == [z % Q for z in fh]
    assert schoolbook([x % 3 for x in g], [(x - 1) % 3 for x in v_off], 3) == [1] + [0] * (P - 1)


def test_ours_keypair_their_encapsulation() -> None:
    oracle = _oracle()
    for i in range(3):
        pk, sk = kem.generate_keypair(StreamRng(b"ours%d" % i))
        ct, ss = oracle.encaps(pk)
        assert kem.decapsulate(ct, sk) == ss


def test_their_keypair_our_encapsulation() -> None:
    oracle = _oracle()
    for _ in range(3):
        pk, sk = oracle.keygen()
        ct, ss = kem.encapsulate(pk)
        assert oracle.decaps(sk, ct) == ss
        assert kem.decapsulate(ct, sk) == ss  # and we decapsulate with their secret key


def test_implicit_rejection_matches_oracle() -> None:
    oracle = _oracle()
    pk, sk = kem.generate_keypair(StreamRng(b"rej"))
    ct, ss = oracle.encaps(pk)
    for pos, bit in ((0, 1), (333, 0x80), (1006, 4), (1007, 1), (1038, 0x40)):
        bad = bytearray(ct)
        bad[pos] ^= bit
        ours = kem.decapsulate(bytes(bad), sk)
        assert ours == oracle.decaps(sk, bytes(bad))
        assert ours != ss
    # Their secret key too, with a ciphertext we made.
    opk, osk = oracle.keygen()
    ct2, _ = kem.encapsulate(opk)
    bad2 = bytes([ct2[0] ^ 2]) + ct2[1:]
    assert kem.decapsulate(bad2, osk) == oracle.decaps(osk, bad2)


# --- ring arithmetic and encodings (hypothesis) ---------------------------------------

rq_lists = st.lists(st.integers(0, Q - 1), min_size=P, max_size=P)
small_lists = st.lists(st.integers(-1, 1), min_size=P, max_size=P)


@settings(max_examples=5, deadline=None)
@given(rq_lists, small_lists)
def test_small_product_matches_schoolbook(a: list[int], s: list[int]) -> None:
    centered = [x - Q if x > 2295 else x for x in a]
    got = kem._mul_q([x + 2295 for x in centered], 2295, [x + 1 for x in s])
    assert [z % Q for z in got] == schoolbook(a, [x % Q for x in s], Q)
    got3 = kem._mul_3([x + 1 for x in s], 1, [(x % 3 + 1) % 3 for x in centered])
    want3 = schoolbook([x % 3 for x in s], [((x % 3 + 1) % 3 - 1) % 3 for x in centered], 3)
    assert [z % 3 for z in got3] == want3


@settings(max_examples=5, deadline=None)
@given(rq_lists)
def test_reciprocal_mod_q(a: list[int]) -> None:
    if not any(a):
        a[0] = 1
    inv = kem._field_q.reciprocal(a)
    assert schoolbook(a, inv, Q) == [1] + [0] * (P - 1)


@settings(max_examples=5, deadline=None)
@given(st.lists(st.integers(0, 2), min_size=P, max_size=P))
def test_reciprocal_mod_3(a: list[int]) -> None:
    inv = kem._field_3.reciprocal(a)
    invertible = schoolbook(a, inv, 3) == [1] + [0] * (P - 1)
    assert invertible == (gcd_degree_mod3(a) == 0)


def gcd_degree_mod3(a: list[int]) -> int:
    """Degree of gcd(a, x^p - x - 1) over F_3 (-1 for a = 0 never happens: p is the answer)."""
    f = [2, 2] + [0] * (P - 2) + [1]  # x^p - x - 1, low degree first
    g = list(a)
    while g and g[-1] == 0:
        g.pop()
    while g:
        while len(f) >= len(g):
            c = f[-1] * g[-1] % 3  # g[-1] is its own inverse mod 3
            shift = len(f) - len(g)
            for i, x in enumerate(g):
                f[shift + i] = (f[shift + i] - c * x) % 3
            while f and f[-1] == 0:
                f.pop()
        f, g = g, f
    return len(f) - 1


def test_reciprocal_of_sparse_elements() -> None:
    one = [1] + [0] * (P - 1)
    for poly in (one, [0, 1] + [0] * (P - 2), [0] * (P - 1) + [-1], [-1, 0, 1] + [0] * (P - 3)):
        pq, p3 = [x % Q for x in poly], [x % 3 for x in poly]
        assert schoolbook(pq, kem._field_q.reciprocal(pq), Q) == one
        assert schoolbook(p3, kem._field_3.reciprocal(p3), 3) == one
    assert gcd_degree_mod3([0] * P) == P  # and zero is not invertible
    zero_inv = kem._field_3.reciprocal([0] * P)
    assert schoolbook([0] * P, zero_inv, 3) != [1] + [0] * (P - 1)


@settings(max_examples=25, deadline=None)
@given(rq_lists, st.lists(st.integers(0, 1530), min_size=P, max_size=P))
def test_encodings_round_trip(a: list[int], r: list[int]) -> None:
    enc = kem._rq_codec.encode(a)
    assert len(enc) == 1158
    assert kem._rq_codec.decode(enc) == a
    renc = kem._rounded_codec.encode(r)
    assert len(renc) == 1007
    assert kem._rounded_codec.decode(renc) == r


@settings(max_examples=25, deadline=None)
@given(st.binary(min_size=1007, max_size=1007))
def test_decode_accepts_any_bytes(data: bytes) -> None:
    out = kem._rounded_codec.decode(data)
    assert len(out) == P
    assert all(0 <= x < 1531 for x in out)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 2), min_size=P, max_size=P))
def test_small_encoding_round_trip(off: list[int]) -> None:
    enc = kem._small_encode(off)
    assert len(enc) == 191
    assert kem._small_decode(enc) == off
