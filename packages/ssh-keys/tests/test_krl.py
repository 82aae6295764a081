"""KRLs built here by hand (PROTOCOL.krl), plain revoked-key files, and fuzzing of both."""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssh_keys import PrivateKey, generate_private_key, sign_certificate
from ssh_keys.certificate import Certificate
from ssh_keys.krl import (
    KRL_MAGIC,
    KRLFormatError,
    is_krl,
    load_revoked_keys,
    parse_krl,
    parse_revoked_keys_text,
)
from ssh_wire import Writer

CA = generate_private_key("ed25519")
OTHER_CA = generate_private_key("ed25519")
USER = generate_private_key("ed25519")
USER2 = generate_private_key("ed25519")


def cert(
    serial: int = 0, key_id: str = "", ca: PrivateKey = CA, key: PrivateKey = USER
) -> Certificate:
    return sign_certificate(ca, key.public_key, serial=serial, key_id=key_id)


def header(comment: str = "made by hand", version: int = 7) -> Writer:
    w = Writer()
    w.raw(KRL_MAGIC).uint32(1).uint64(version).uint64(1234).uint64(0).string(b"").text(comment)
    return w


def section(w: Writer, kind: int, body: bytes) -> Writer:
    return w.byte(kind).string(body)


def cert_section(ca: PrivateKey | None, *subs: tuple[int, bytes]) -> bytes:
    w = Writer().string(b"" if ca is None else ca.public_key.blob).string(b"")
    for kind, body in subs:
        w.byte(kind).string(body)
    return w.getvalue()


def u64s(*values: int) -> bytes:
    w = Writer()
    for v in values:
        w.uint64(v)
    return w.getvalue()


def strings(*values: bytes) -> bytes:
    w = Writer()
    for v in values:
        w.string(v)
    return w.getvalue()


def extension(name: str, critical: bool) -> bytes:
    return Writer().text(name).boolean(critical).string(b"whatever").getvalue()


def sample_krl() -> bytes:
    w = header()
    section(
        w,
        1,
        cert_section(
            CA,
            (0x20, u64s(5, 9)),
            (0x20, u64s(50, 40)),  # not ascending: kept in a set instead
            (0x21, u64s(100, 200)),
            (0x22, Writer().uint64(1000).mpint(0b1010_0001).getvalue()),
            (0x23, strings(b"alice", b"bob")),
            (0x39, extension("cert-bloom-key-id", False)),
        ),
    )
    section(w, 1, cert_section(None, (0x23, strings(b"everywhere"))))
    section(w, 2, strings(USER2.public_key.blob))
    section(w, 255, extension("bloom-explicit-key", False))
    return w.getvalue()


KRL = parse_krl(sample_krl())


def test_header() -> None:
    assert is_krl(sample_krl()) and not is_krl(b"ssh-ed25519 AAAA")
    assert (KRL.version, KRL.generated_date, KRL.comment) == (7, 1234, "made by hand")


@pytest.mark.parametrize(
    ("serial", "revoked"),
    [(5, True), (9, True), (6, False), (0, False), (99, False), (100, True), (150, True),
     (200, True), (201, False), (1000, True), (1001, False), (1005, True), (1007, True),
     (1008, False), (999, False), (2**64 - 1, False), (40, True), (50, True), (45, False)],
)  # fmt: skip
def test_serials(serial: int, revoked: bool) -> None:
    assert KRL.is_revoked(cert(serial)) is revoked


def test_serials_apply_to_their_ca_only() -> None:
    assert not KRL.is_revoked(cert(5, ca=OTHER_CA))
    assert not KRL.is_revoked(cert(0, "alice", ca=OTHER_CA))


def test_key_ids_and_wildcard_ca() -> None:
    assert KRL.is_revoked(cert(key_id="alice"))
    assert not KRL.is_revoked(cert(key_id="alicE"))
    assert KRL.is_revoked(cert(key_id="everywhere", ca=OTHER_CA))


def test_explicit_keys_revoke_their_certificates() -> None:
    assert KRL.is_revoked(USER2.public_key)
    assert KRL.is_revoked(cert(key=USER2, ca=OTHER_CA))
    assert not KRL.is_revoked(USER.public_key)


def test_fingerprints() -> None:
    blob = USER.public_key.blob
    w = header()
    section(w, 3, strings(hashlib.sha1(blob).digest()))
    section(w, 5, strings(hashlib.sha256(USER2.public_key.blob).digest()))
    krl = parse_krl(w.getvalue())
    assert krl.is_revoked(USER.public_key) and krl.is_revoked(cert(key=USER))
    assert krl.is_revoked(USER2.public_key)
    assert not krl.is_revoked(CA.public_key)


def test_ca_key_check() -> None:
    w = header()
    section(w, 2, strings(CA.public_key.blob))
    krl = parse_krl(w.getvalue())
    assert not krl.is_revoked(cert(1))
    assert krl.is_revoked(cert(1), check_ca=True)


def signed_krl(signer: PrivateKey, *, tamper: bool = False) -> bytes:
    w = header()
    section(w, 2, strings(USER.public_key.blob))
    w.byte(4).string(signer.public_key.blob)
    signature = signer.sign(w.getvalue())
    data = bytearray(w.string(signature).getvalue())
    if tamper:
        data[30] ^= 1
    return bytes(data)


def test_signatures() -> None:
    krl = parse_krl(signed_krl(CA), trusted_signers=[CA.public_key])
    assert [s.key for s in krl.signatures] == [CA.public_key]
    assert krl.is_revoked(USER.public_key)
    with pytest.raises(KRLFormatError, match="does not verify"):
        parse_krl(signed_krl(CA, tamper=True))
    with pytest.raises(KRLFormatError, match="trusted"):
        parse_krl(signed_krl(CA), trusted_signers=[OTHER_CA.public_key])
    with pytest.raises(KRLFormatError, match="trusted"):
        parse_krl(header().getvalue(), trusted_signers=[CA.public_key])
    with pytest.raises(KRLFormatError, match="only signature"):
        parse_krl(signed_krl(CA) + b"\x02" + Writer().string(strings(b"x")).getvalue())


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (section(header(), 9, b""), "unknown section type 9"),
        (section(header(), 255, extension("x@y", True)), "critical KRL extension"),
        (section(header(), 1, cert_section(CA, (0x39, extension("x@y", True)))), "critical"),
        (section(header(), 1, cert_section(CA, (0x21, u64s(5, 4)))), "reversed"),
        (section(header(), 1, cert_section(CA, (0x20, b"\0" * 9))), "multiple of 8"),
        (section(header(), 1, cert_section(CA, (0x23, b""))), "empty key ID"),
        (section(header(), 1, cert_section(CA, (0x40, b""))), "unknown certificate section"),
        (section(header(), 3, strings(b"short")), "fingerprint of 5 bytes"),
        (section(header(), 2, b""), "empty section"),
        (section(header(), 1, Writer().string(b"junk").string(b"").getvalue()), "bad CA key"),
        (section(header(), 1, cert_section(CA, (0x22, u64s(1) + b"\0\0\0\1\xff"))), "negative"),
    ],
)
def test_malformed(body: Writer, match: str) -> None:
    with pytest.raises(KRLFormatError, match=match):
        parse_krl(body.getvalue())


def test_bad_header() -> None:
    with pytest.raises(KRLFormatError, match="bad magic"):
        parse_krl(b"SSHKRL\n\x01" + bytes(40))
    with pytest.raises(KRLFormatError, match="format version 2"):
        parse_krl(KRL_MAGIC + b"\0\0\0\2" + bytes(40))


def test_offsets_are_absolute() -> None:
    data = section(header(), 1, cert_section(CA, (0x21, u64s(5)))).getvalue()
    with pytest.raises(KRLFormatError) as info:
        parse_krl(data)
    assert info.value.offset == len(data)  # the missing uint64 would start at the very end


def test_huge_length_refused() -> None:
    data = header().getvalue() + b"\x02\xff\xff\xff\xf0"
    with pytest.raises(KRLFormatError, match="section data"):
        parse_krl(data)


def test_plain_file(tmp_path: Path) -> None:
    text = "# revoked\n\n  " + USER.public_key.to_line("c") + "\n" + cert(3).to_line() + "\n"
    path = tmp_path / "revoked"
    path.write_text(text)
    krl = load_revoked_keys(path)
    assert krl.plain and krl.is_revoked(USER.public_key) and krl.is_revoked(cert(key=USER))
    assert not krl.is_revoked(USER2.public_key)
    # A plain file listing a CA key revokes what it signed, as sshd's RevokedKeys does.
    krl = parse_revoked_keys_text(CA.public_key.to_line())
    assert krl.is_revoked(cert(1, key=USER2)) and not krl.is_revoked(cert(1, ca=OTHER_CA))
    with pytest.raises(KRLFormatError, match="line 2"):
        parse_revoked_keys_text("\nssh-ed25519 AAAA!!\n")
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(KRLFormatError, match="neither"):
        load_revoked_keys(path)
    path.write_bytes(sample_krl())
    assert not load_revoked_keys(path).plain


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutations_raise_only_krl_errors(data: st.DataObject) -> None:
    blob = bytearray(sample_krl() + signed_krl(CA)[len(header().getvalue()) :])
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(blob) - 1))
        blob[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(blob)))
    error: KRLFormatError | None = None
    try:
        parse_krl(bytes(blob[:cut])).is_revoked(cert(5))
    except KRLFormatError as exc:
        error = exc
    assert error is None or (error.offset is not None and 0 <= error.offset <= cut)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes(tail: bytes) -> None:
    with contextlib.suppress(KRLFormatError):
        parse_krl(header().getvalue() + tail)
    with contextlib.suppress(KRLFormatError):
        parse_revoked_keys_text(tail.decode("latin-1"))
