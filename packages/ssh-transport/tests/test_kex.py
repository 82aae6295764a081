"""Key exchange methods as units: every method client x server, groups, KDF, peer values."""

from __future__ import annotations

import hashlib
import os
import random

import pytest
from transport_pair import private_key

from ssh_transport import kex
from ssh_transport.kex import ExchangeContext, KexFailed, KexStep
from ssh_transport.kex.agreement import AgreementClient
from ssh_transport.kex.curves import P256, P384, P521, X25519Agreement, x25519_shared
from ssh_transport.kex.gex import GEX_MAX, GEX_MIN, GexClient, GexServer
from ssh_transport.kex.groups import check_public, dh_agreement, modp_prime
from ssh_transport.kex.hybrid import MLKEM768X25519, SNTRUP761X25519
from ssh_transport.keys import derive_key
from ssh_wire import DisconnectReason, Reader, Writer

CONTEXT = ExchangeContext(b"SSH-2.0-client", b"SSH-2.0-server", b"\x14client-kexinit", b"\x14srv")
SLOW = {"diffie-hellman-group18-sha512"}  # exercised once, in test_transport
METHODS = [n for n in kex.supported_kex() if n not in SLOW]
HOST = private_key("ed25519")


def sign(data: bytes) -> bytes:
    return HOST.sign(data, "ssh-ed25519")


def run_exchange(name: str, server_kw: dict[str, object] | None = None) -> tuple[KexStep, KexStep]:
    """Drive one client and one server method object to completion."""
    spec = kex.kex_spec(name)
    client = spec.client(spec, CONTEXT, os.urandom)
    server = spec.server(spec, CONTEXT, os.urandom, HOST.public_key.blob, sign)
    for key, value in (server_kw or {}).items():
        setattr(server, key, value)
    to_server = client.start()
    client_step = server_step = KexStep()
    for _ in range(4):
        for message in to_server:
            server_step = server.receive(message)
        to_client = server_step.send
        to_server = []
        for message in to_client:
            client_step = client.receive(message)
            to_server += client_step.send
        if client_step.result is not None:
            break
    return client_step, server_step


@pytest.mark.parametrize("name", METHODS)
def test_every_method_agrees(name: str) -> None:
    client_step, server_step = run_exchange(name)
    c, s = client_step.result, server_step.result
    assert c is not None and s is not None
    assert c.shared_secret == s.shared_secret
    assert c.exchange_hash == s.exchange_hash
    spec = kex.kex_spec(name)
    assert len(c.exchange_hash) == hashlib.new(spec.hash_name).digest_size
    assert c.host_key_blob == HOST.public_key.blob
    HOST.public_key.verify(c.exchange_hash, c.signature)
    # K is an mpint for the classic methods and a string for the hybrids (drafts 2.x).
    r = Reader(c.shared_secret)
    if "x25519-sha" in name and ("mlkem" in name or "sntrup" in name):
        assert len(r.string()) == hashlib.new(spec.hash_name).digest_size
    else:
        assert r.positive_mpint() > 0
    r.expect_end("K")


@pytest.mark.parametrize("name", ["curve25519-sha256", "diffie-hellman-group14-sha256"])
def test_hash_covers_context(name: str) -> None:
    a, _ = run_exchange(name)
    b, _ = run_exchange(name)
    assert a.result is not None and b.result is not None
    assert a.result.exchange_hash != b.result.exchange_hash  # fresh ephemeral keys


def test_registry() -> None:
    assert kex.default_kex()[0] == "mlkem768x25519-sha256"
    assert "diffie-hellman-group1-sha1" in kex.legacy_kex()
    assert "diffie-hellman-group1-sha1" not in kex.default_kex()
    with pytest.raises(ValueError, match="unknown"):
        kex.kex_spec("nonesuch")
    with pytest.raises(ValueError, match="already registered"):
        kex.register_kex(kex.kex_spec("curve25519-sha256"))


# --- MODP groups ---------------------------------------------------------------------------

# The published last 64 bits before the trailing all-ones word (RFC 2409 6.2, RFC 3526 3-7);
# every group starts with FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1.
PUBLISHED_TAIL = {
    1024: "49286651ECE65381",
    2048: "15728E5A8AACAA68",
    3072: "4B82D120A93AD2CA",
    4096: "4DF435C934063199",
    6144: "E694F91E6DCC4024",
    8192: "60C980DD98EDD3DF",
}


def miller_rabin(n: int, rounds: int, rng: random.Random) -> bool:
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(rounds):
        x = pow(rng.randrange(2, n - 2), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


@pytest.mark.parametrize("bits", sorted(PUBLISHED_TAIL))
def test_modp_prime_published_words(bits: int) -> None:
    p = modp_prime(bits)
    assert p.bit_length() == bits
    text = f"{p:X}"
    assert text.startswith("FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1")
    assert text.endswith(PUBLISHED_TAIL[bits] + "F" * 16)


@pytest.mark.parametrize("bits", sorted(PUBLISHED_TAIL))
def test_modp_prime_is_safe_prime(bits: int) -> None:
    p = modp_prime(bits)
    rng = random.Random(bits)
    rounds = 3 if bits <= 2048 else 1  # big modexps are slow in pure Python
    assert all(p % small for small in (3, 5, 7, 11, 13, 17, 19, 23))
    assert miller_rabin(p, rounds, rng)
    assert miller_rabin((p - 1) // 2, rounds, rng)
    # Generator 2 is a quadratic residue modulo these p (p = 7 mod 8): order q.
    assert p % 8 == 7


def test_modp_offset_changes_prime() -> None:
    assert not miller_rabin(modp_prime(1024) + 2**65, 3, random.Random(0))


@pytest.mark.parametrize("bad", [0, 1, -1, "p-1", "p", "p+1"])
def test_dh_public_range(bad: int | str) -> None:
    p = modp_prime(2048)
    value = {"p-1": p - 1, "p": p, "p+1": p + 1}.get(bad, bad)  # type: ignore[call-overload]
    with pytest.raises(KexFailed, match="out of range"):
        check_public(value, p)
    check_public(2, p)
    check_public(p - 2, p)


def test_dh_agreement_rejects_degenerate_peer() -> None:
    agreement = dh_agreement(2048)(os.urandom)
    agreement.client_public()
    p = modp_prime(2048)
    for value in (1, p - 1):
        with pytest.raises(KexFailed) as info:
            agreement.client_shared(value.to_bytes(256, "big"))
        assert info.value.reason == DisconnectReason.KEY_EXCHANGE_FAILED


# --- key derivation --------------------------------------------------------------------------


def rfc4253_keys(hash_name: str, k: bytes, h: bytes, letter: bytes, sid: bytes, n: int) -> bytes:
    """RFC 4253 7.2 written out directly: K1 = HASH(K||H||X||sid), Kn = HASH(K||H||K1..Kn-1)."""
    parts = [hashlib.new(hash_name, k + h + letter + sid).digest()]
    while sum(map(len, parts)) < n:
        parts.append(hashlib.new(hash_name, k + h + b"".join(parts)).digest())
    return b"".join(parts)[:n]


@pytest.mark.parametrize("hash_name", ["sha1", "sha256", "sha512"])
@pytest.mark.parametrize("size", [0, 12, 16, 20, 32, 64, 65, 100])
def test_derive_key_matches_rfc(hash_name: str, size: int) -> None:
    k = Writer().mpint(int.from_bytes(bytes(range(1, 33)), "big")).getvalue()
    h = hashlib.new(hash_name, b"exchange hash").digest()
    sid = hashlib.new(hash_name, b"session").digest()
    for letter in b"ABCDEF":
        got = derive_key(hash_name, k, h, bytes([letter]), sid, size)
        assert got == rfc4253_keys(hash_name, k, h, bytes([letter]), sid, size)
        assert len(got) == size


def test_derive_key_known_answer() -> None:
    # Computed by hand: SHA-256(mpint(1) || 32*0x00 || "A" || 32*0x11).
    k = b"\x00\x00\x00\x01\x01"
    h = bytes(32)
    sid = b"\x11" * 32
    expected = hashlib.sha256(k + h + b"A" + sid).digest()
    assert derive_key("sha256", k, h, b"A", sid, 32) == expected
    second = hashlib.sha256(k + h + expected).digest()
    assert derive_key("sha256", k, h, b"A", sid, 48) == expected + second[:16]


# --- group exchange ----------------------------------------------------------------------------


def gex_request(lo: int, n: int, hi: int) -> bytes:
    return Writer().byte(34).uint32(lo).uint32(n).uint32(hi).getvalue()


def gex_server(moduli: list[tuple[int, int]] | None = None) -> GexServer:
    spec = kex.kex_spec("diffie-hellman-group-exchange-sha256")
    return GexServer(spec, CONTEXT, os.urandom, HOST.public_key.blob, sign, moduli)


def picked_bits(server: GexServer, lo: int, n: int, hi: int) -> int:
    step = server.receive(gex_request(lo, n, hi))
    r = Reader(step.send[0])
    assert r.byte() == 31
    p = r.positive_mpint()
    assert r.positive_mpint() == 2
    return p.bit_length()


@pytest.mark.parametrize(
    ("request_", "bits"),
    [
        ((2048, 3072, 8192), 3072),
        ((2048, 2048, 8192), 2048),
        ((2048, 5000, 8192), 6144),  # the smallest group at least n bits
        ((2048, 8192, 8192), 8192),
        ((1024, 1024, 8192), 2048),  # RFC 8270: never below 2048
        ((2048, 9000, 9000), 8192),  # n and max clamped to 8192
        ((4096, 2048, 8192), 4096),  # n below min is raised to min
    ],
)
def test_gex_selection(request_: tuple[int, int, int], bits: int) -> None:
    assert picked_bits(gex_server(), *request_) == bits


def test_gex_largest_below_preferred() -> None:
    moduli = [(modp_prime(2048), 2), (modp_prime(3072), 2)]
    assert picked_bits(gex_server(moduli), 2048, 4096, 8192) == 3072


@pytest.mark.parametrize("request_", [(8192, 8192, 4096), (1024, 1024, 1536), (9000, 9000, 10000)])
def test_gex_impossible_request(request_: tuple[int, int, int]) -> None:
    with pytest.raises(KexFailed) as info:
        gex_server().receive(gex_request(*request_))
    assert info.value.reason == DisconnectReason.KEY_EXCHANGE_FAILED


def test_gex_no_fitting_group() -> None:
    with pytest.raises(KexFailed, match="no group"):
        gex_server([(modp_prime(1024), 2)]).receive(gex_request(2048, 3072, 8192))


def test_gex_custom_moduli_handshake() -> None:
    moduli = [(modp_prime(2048), 2)]
    client_step, server_step = run_exchange(
        "diffie-hellman-group-exchange-sha256", {"moduli": moduli}
    )
    assert client_step.result is not None and server_step.result is not None
    assert client_step.result.exchange_hash == server_step.result.exchange_hash


def gex_client() -> GexClient:
    spec = kex.kex_spec("diffie-hellman-group-exchange-sha256")
    client = GexClient(spec, CONTEXT, os.urandom)
    client.start()
    return client


@pytest.mark.parametrize(
    ("p", "g", "message"),
    [
        (modp_prime(1024), 2, "outside"),
        ((1 << GEX_MAX) + 1, 2, "outside|malformed"),
        (modp_prime(2048) + 1, 2, "invalid"),  # even
        (modp_prime(2048), 1, "invalid"),
        (modp_prime(2048), modp_prime(2048) - 1, "invalid"),
    ],
    ids=["small", "big", "even", "g=1", "g=p-1"],
)
def test_gex_client_checks_group(p: int, g: int, message: str) -> None:
    group = Writer().byte(31).mpint(p).mpint(g).getvalue()
    with pytest.raises(KexFailed, match=message):
        gex_client().receive(group)


def test_gex_client_requests_rfc8270_sizes() -> None:
    r = Reader(gex_client().start()[0])
    assert r.byte() == 34
    assert (r.uint32(), r.uint32(), r.uint32()) == (GEX_MIN, 3072, GEX_MAX)


def test_gex_messages_out_of_order() -> None:
    client = gex_client()
    with pytest.raises(KexFailed, match="unexpected message 33"):
        client.receive(Writer().byte(33).string(b"").mpint(2).string(b"").getvalue())
    server = gex_server()
    with pytest.raises(KexFailed, match="unexpected message 32"):
        server.receive(Writer().byte(32).mpint(5).getvalue())


# --- peer values -------------------------------------------------------------------------------

LOW_ORDER_X25519 = [
    bytes(32),
    (1).to_bytes(32, "little"),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
]


@pytest.mark.parametrize("point", LOW_ORDER_X25519, ids=lambda p: p.hex()[:8])
def test_x25519_low_order_points_refused(point: bytes) -> None:
    agreement = X25519Agreement(os.urandom)
    with pytest.raises(KexFailed) as info:
        agreement.server_respond(point)
    assert info.value.reason == DisconnectReason.KEY_EXCHANGE_FAILED
    agreement.client_public()
    with pytest.raises(KexFailed):
        agreement.client_shared(point)


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_x25519_wrong_length(size: int) -> None:
    from cryptography.hazmat.primitives.asymmetric import x25519

    with pytest.raises(KexFailed, match="32 bytes"):
        x25519_shared(x25519.X25519PrivateKey.generate(), bytes(size))


@pytest.mark.parametrize("cls", [P256, P384, P521])
def test_nist_bad_points(cls: type) -> None:
    agreement = cls(os.urandom)
    good = agreement.client_public()
    compressed = bytes([2 + (good[-1] & 1)]) + good[1 : 1 + (len(good) - 1) // 2]
    off_curve = good[:-1] + bytes([good[-1] ^ 1])
    for bad in (b"", b"\x04", compressed, off_curve, b"\x00" * len(good)):
        with pytest.raises(KexFailed):
            agreement.server_respond(bad)


@pytest.mark.parametrize("cls", [MLKEM768X25519, SNTRUP761X25519])
def test_hybrid_wrong_lengths(cls: type) -> None:
    server = cls(os.urandom)
    client = cls(os.urandom)
    public = client.client_public()
    assert len(public) == cls.kem_public_size + 32
    for bad in (b"", public[:-1], public + b"\x00", public[: cls.kem_public_size]):
        with pytest.raises(KexFailed, match="wrong length"):
            server.server_respond(bad)
    reply, _ = cls(os.urandom).server_respond(public)
    assert len(reply) == cls.kem_ciphertext_size + 32
    for bad in (b"", reply[:-1], reply + b"\x00"):
        with pytest.raises(KexFailed, match="wrong length"):
            client.client_shared(bad)


@pytest.mark.parametrize("cls", [MLKEM768X25519, SNTRUP761X25519])
def test_hybrid_low_order_x25519_part(cls: type) -> None:
    public = cls(os.urandom).client_public()
    with pytest.raises(KexFailed):
        cls(os.urandom).server_respond(public[: cls.kem_public_size] + bytes(32))


@pytest.mark.parametrize(
    "name", ["curve25519-sha256", "ecdh-sha2-nistp256", "diffie-hellman-group14-sha256",
             "mlkem768x25519-sha256"],
)  # fmt: skip
def test_malformed_messages(name: str) -> None:
    spec = kex.kex_spec(name)
    server = spec.server(spec, CONTEXT, os.urandom, HOST.public_key.blob, sign)
    for bad in (b"\x1e", b"\x1e\xff\xff\xff\xff", b"\x1f" + bytes(8), b"\x1e" + bytes(40)):
        with pytest.raises(KexFailed) as info:
            server.receive(bad)
        assert info.value.reason == DisconnectReason.KEY_EXCHANGE_FAILED
    client = spec.client(spec, CONTEXT, os.urandom)
    assert isinstance(client, AgreementClient)
    client.start()
    for bad in (b"\x1f", b"\x1e" + bytes(12), b"\x1f" + bytes(12), b"\x1f\x00\x00\x00\x01"):
        with pytest.raises(KexFailed):
            client.receive(bad)


def test_parse_moduli_keeps_tested_safe_primes_in_range() -> None:
    from ssh_transport.kex.gex import parse_moduli
    from ssh_transport.kex.groups import modp_prime

    p2048, p1024 = modp_prime(2048), modp_prime(1024)
    text = "\n".join(
        [
            "# Time Type Tests Tries Size Generator Modulus",
            f"20220714110357 2 6 100 2047 2 {p2048:X}",
            f"20220714110357 2 6 100 1023 2 {p1024:X}",  # below GEX_MIN
            f"20220714110357 4 6 100 2047 2 {p2048:X}",  # not a safe prime
            f"20220714110357 2 2 100 2047 2 {p2048:X}",  # no Miller-Rabin test
            "garbage line",
            f"20220714110357 2 6 100 2047 x {p2048:X}",
        ]
    )
    assert parse_moduli(text) == [(p2048, 2)]
