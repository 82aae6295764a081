"""UMAC (RFC 4418) against the RFC's test vectors, and the legacy MACs in the registry."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from ssh_transport import TransportConfig
from ssh_transport.macs import DEFAULT_MACS, LEGACY_MACS, mac_spec
from ssh_transport.umac import UMAC

KEY = b"abcdefghijklmnop"
NONCE = b"bcdefghi"

# RFC 4418's appendix prints 32-, 64- and 96-bit tags. The 128-bit ones (a fourth UHASH
# iteration, the rest of the same pad block) are the values other UMAC implementations
# test against (nettle's); the interop tests check umac-128 against OpenSSH besides.
VECTORS = [
    (b"", 0, "113145FB", "6E155FAD26900BE1", "32FEDB100C79AD58F07FF7643CC60465"),
    (b"a", 3, "3B91D102", "44B5CB542F220104", "185E4FE905CBA7BD85E4C2DC3D117D8D"),
    (b"a", 1 << 10, "599B350B", "26BF2F5D60118BD9", "7A54ABE04AF82D60FB298C3CBD195BCB"),
    (b"a", 1 << 15, "58DCF532", "27F8EF643B0D118D", "7B136BD911E4B734286EF2BE501F2C3C"),
    (b"abc", 1, "ABF3A3A0", "D4D7B9F6BD4FBFCF", "883C3D4B97A61976FFCF2323"),
    (b"abc", 500, "ABEB3C8B", "D4CF26DDEFD5C01A", "8824A260C53C66A36C9260A6"),
]


@pytest.mark.parametrize(
    ("unit", "count", "tag32", "tag64", "tag_long"),
    VECTORS,
    ids=[f"{u.decode() or 'empty'}*{n}" for u, n, *_ in VECTORS],
)
def test_rfc4418_vectors(unit: bytes, count: int, tag32: str, tag64: str, tag_long: str) -> None:
    message = unit * count
    assert UMAC(KEY, 4).tag(NONCE, message).hex().upper() == tag32
    assert UMAC(KEY, 8).tag(NONCE, message).hex().upper() == tag64
    assert UMAC(KEY, 12).tag(NONCE, message).hex().upper() == tag_long[:24]
    if len(tag_long) == 32:
        assert UMAC(KEY, 16).tag(NONCE, message).hex().upper() == tag_long


@pytest.mark.slow
def test_rfc4418_one_mebibyte_vector() -> None:
    message = b"a" * (1 << 20)
    assert UMAC(KEY, 8).tag(NONCE, message).hex().upper() == "A4477E87E9F55853"
    tag = UMAC(KEY, 16).tag(NONCE, message).hex().upper()
    assert tag == "F8ACFA3AC31CFEEA047F7B115B03BEF5"


@pytest.mark.slow
def test_rfc4418_32_mebibyte_vector_reaches_poly128() -> None:
    """Past 16 MiB, L2 switches from POLY64 to POLY128. The RFC's printed tag for this
    message is wrong (erratum 3507); this is the corrected one."""
    assert UMAC(KEY, 4).tag(NONCE, b"a" * (1 << 25)).hex().upper() == "85EE5CAE"


def test_message_parts_hash_as_their_concatenation() -> None:
    umac = UMAC(KEY, 16)
    data = bytes(range(256)) * 9
    assert umac.tag(NONCE, data[:5], memoryview(data[5:1500]), data[1500:]) == umac.tag(NONCE, data)


def test_consecutive_nonces_share_a_pad_block_but_not_a_tag() -> None:
    umac = UMAC(KEY, 8)
    even, odd = (umac.tag(n.to_bytes(8, "big"), b"x") for n in (6, 7))
    assert even != odd
    assert UMAC(KEY, 8).tag((7).to_bytes(8, "big"), b"x") == odd


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="16-byte"):
        UMAC(b"short", 8)
    with pytest.raises(ValueError, match="tags"):
        UMAC(KEY, 10)
    with pytest.raises(ValueError, match="nonces"):
        UMAC(KEY, 8).tag(b"1234", b"")


def test_openssh_umac_mac_is_keyed_umac_with_the_sequence_number_as_nonce() -> None:
    spec = mac_spec("umac-64@openssh.com")
    assert (spec.key_size, spec.digest_size, spec.etm) == (16, 8, False)
    mac = spec.create(KEY)
    assert mac.digest(7, b"head", b"body") == UMAC(KEY, 8).tag(bytes(7) + b"\x07", b"headbody")
    # The wire's sequence number is 32 bits: 2^32 + 7 is 7 again.
    assert mac.digest(7 + (1 << 32), b"", b"headbody") == mac.digest(7, b"head", b"body")


@pytest.mark.parametrize(
    ("name", "hash_name", "size"),
    [
        ("hmac-md5", "md5", 16),
        ("hmac-md5-96", "md5", 12),
        ("hmac-sha1-96", "sha1", 12),
        ("hmac-md5-etm@openssh.com", "md5", 16),
        ("hmac-md5-96-etm@openssh.com", "md5", 12),
        ("hmac-sha1-96-etm@openssh.com", "sha1", 12),
    ],
)
def test_truncated_and_md5_hmacs(name: str, hash_name: str, size: int) -> None:
    spec = mac_spec(name)
    key = bytes(range(hashlib.new(hash_name).digest_size))
    assert (spec.key_size, spec.digest_size, spec.etm) == (len(key), size, "etm" in name)
    full = hmac.new(key, b"\x00\x00\x00\x05headbody", hash_name).digest()
    assert spec.create(key).digest(5, b"head", b"body") == full[:size]


LEGACY_NEW = (
    "hmac-md5", "hmac-md5-96", "hmac-sha1-96", "umac-64@openssh.com", "umac-128@openssh.com",
    "hmac-md5-etm@openssh.com", "hmac-md5-96-etm@openssh.com", "hmac-sha1-96-etm@openssh.com",
    "umac-64-etm@openssh.com", "umac-128-etm@openssh.com",
)  # fmt: skip


def test_legacy_macs_are_opt_in() -> None:
    assert set(LEGACY_NEW) <= set(LEGACY_MACS)
    assert not set(LEGACY_NEW) & set(DEFAULT_MACS)
    assert TransportConfig().algorithm_lists().macs == DEFAULT_MACS
    lists = TransportConfig(macs="+umac-64@openssh.com,hmac-md5").algorithm_lists()
    assert lists.macs == (*DEFAULT_MACS, "umac-64@openssh.com", "hmac-md5")
