"""SSHSIG signatures and allowed_signers files."""

from __future__ import annotations

import base64
import io
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssh_keys import KeyFormatError, PrivateKey, SignatureInvalid, generate_private_key
from ssh_keys.certificate import sign_certificate
from ssh_keys.sshsig import (
    AllowedSigner,
    AllowedSigners,
    SSHSignature,
    parse_signature,
    sign,
    verify,
)

DATA = b"the data\n"


@pytest.fixture(scope="module")
def keys() -> dict[str, PrivateKey]:
    return {
        "ed25519": generate_private_key("ed25519"),
        "ecdsa": generate_private_key("ecdsa", 384),
        "rsa": generate_private_key("rsa", 2048),
        "ca": generate_private_key("ed25519"),
    }


@pytest.mark.parametrize("name", ["ed25519", "ecdsa", "rsa"])
@pytest.mark.parametrize("hash_name", ["sha256", "sha512"])
def test_sign_verify(keys: dict[str, PrivateKey], name: str, hash_name: str) -> None:
    key = keys[name]
    armored = sign(DATA, key, "file", hash_name)
    assert armored.startswith("-----BEGIN SSH SIGNATURE-----\n")
    assert armored.endswith("\n-----END SSH SIGNATURE-----\n")
    assert all(len(line) <= 70 for line in armored.splitlines())
    assert verify(DATA, armored, "file") == key.public_key
    assert verify(io.BytesIO(DATA), armored.encode(), "file") == key.public_key
    sig = parse_signature(armored)
    assert sig.hash_algorithm == hash_name
    assert sig.namespace == "file"
    if name == "rsa":
        assert sig.signature_algorithm == "rsa-sha2-512"
    with pytest.raises(SignatureInvalid, match="namespace"):
        verify(DATA, armored, "git")
    with pytest.raises(SignatureInvalid):
        verify(DATA + b"x", armored, "file")


def test_stream_matches_bytes(keys: dict[str, PrivateKey]) -> None:
    big = bytes(range(256)) * 1000
    armored = sign(io.BytesIO(big), keys["ed25519"], "file")
    verify(big, armored, "file")


def test_bad_arguments(keys: dict[str, PrivateKey]) -> None:
    with pytest.raises(ValueError, match="namespace"):
        sign(DATA, keys["ed25519"], "")
    with pytest.raises(ValueError, match="sha"):
        sign(DATA, keys["ed25519"], "file", "md5")
    other = sign_certificate(keys["ca"], keys["ecdsa"].public_key, principals=["x"])
    with pytest.raises(ValueError, match="certificate"):
        sign(DATA, keys["ed25519"], "file", certificate=other)


def _resign(sig: SSHSignature, **changes: object) -> str:
    fields = {
        "public_key": sig.public_key,
        "namespace": sig.namespace,
        "reserved": sig.reserved,
        "hash_algorithm": sig.hash_algorithm,
        "signature": sig.signature,
    }
    fields.update(changes)
    return SSHSignature(**fields).armor()  # type: ignore[arg-type]


def test_structure_checks(keys: dict[str, PrivateKey]) -> None:
    sig = parse_signature(sign(DATA, keys["ed25519"], "file"))
    with pytest.raises(SignatureInvalid):
        verify(DATA, _resign(sig, hash_algorithm="sha1"), "file")
    with pytest.raises(SignatureInvalid):
        verify(DATA, _resign(sig, reserved=b"x"), "file")  # reserved is signed
    with pytest.raises(SignatureInvalid):
        verify(DATA, _resign(sig, public_key=keys["ecdsa"].public_key), "file")
    blob = bytearray(sig.encode())
    blob[6:10] = b"\x00\x00\x00\x02"
    with pytest.raises(SignatureInvalid, match="version"):
        SSHSignature.decode(bytes(blob))
    for bad in ("", "garbage", "-----BEGIN SSH SIGNATURE-----\n!!\n-----END SSH SIGNATURE-----"):
        with pytest.raises(SignatureInvalid):
            parse_signature(bad)


def test_allowed_signers_parse() -> None:
    key = generate_private_key("ed25519").public_key
    text = f"""
# comment
alice@example.com,bob@example.com {key.to_line("c")}
"carol smith" namespaces="file,git",valid-after="20200101",valid-before="20300101Z" {key.to_line()}
*@example.com CERT-AUTHORITY {key.to_line()}
"""
    signers = AllowedSigners.from_text(text)
    a, c, ca = signers.entries
    assert a.principals == "alice@example.com,bob@example.com"
    assert not a.cert_authority
    assert c.principals == "carol smith"
    assert c.namespaces == "file,git"
    assert c.valid_before == int(datetime(2030, 1, 1, tzinfo=timezone.utc).timestamp())
    assert c.valid_after is not None
    assert ca.cert_authority
    assert ca.line_number == 5
    for bad in (
        f"alice bogus-option {key.to_line()}",
        f'alice namespaces="x {key.to_line()}',
        f"alice valid-after=2020 {key.to_line()}",
        "alice ssh-ed25519 AAAA",
        "alice",
    ):
        with pytest.raises(KeyFormatError):
            AllowedSigner.parse(bad)


def test_allowed_signers_verify(keys: dict[str, PrivateKey]) -> None:
    user, other, ca = keys["ed25519"], keys["ecdsa"], keys["ca"]
    signers = AllowedSigners.from_text(
        f"alice@example.com,!mallory@example.com,*@example.com {user.public_key.to_line()}\n"
        f'git-only namespaces="git" {other.public_key.to_line()}\n'
        f'late valid-after="20990101Z" {other.public_key.to_line()}\n'
        f"*@corp cert-authority {ca.public_key.to_line()}\n"
    )
    sig = sign(DATA, user, "file")
    assert signers.verify(DATA, sig, "file", "alice@example.com") == user.public_key
    signers.verify(DATA, sig, "file", "x@example.com")
    for principal in ("mallory@example.com", "alice@other", "git-only"):
        with pytest.raises(SignatureInvalid, match="not an allowed signer"):
            signers.verify(DATA, sig, "file", principal)
    with pytest.raises(SignatureInvalid, match="namespace"):
        signers.verify(DATA, sig, "git", "alice@example.com")

    git_sig = sign(DATA, other, "git")
    signers.verify(DATA, git_sig, "git", "git-only")
    with pytest.raises(SignatureInvalid):
        signers.verify(DATA, sign(DATA, other, "file"), "file", "git-only")
    with pytest.raises(SignatureInvalid):
        signers.verify(DATA, git_sig, "git", "late")
    signers.verify(DATA, git_sig, "git", "late", now=datetime(2100, 1, 1, tzinfo=timezone.utc))
    assert signers.find_principals(user.public_key) == [
        "alice@example.com,!mallory@example.com,*@example.com"
    ]
    assert signers.find_principals(other.public_key) == ["git-only"]


def test_allowed_signers_certificates(keys: dict[str, PrivateKey]) -> None:
    user, ca, rogue = keys["rsa"], keys["ca"], keys["ed25519"]
    signers = AllowedSigners.from_text(f"*@corp cert-authority {ca.public_key.to_line()}\n")
    cert = sign_certificate(
        ca, user.public_key, principals=["a@corp", "b@elsewhere"], valid_after=10, valid_before=20
    )
    sig = sign(DATA, user, "file", certificate=cert)
    assert verify(DATA, sig, "file") == cert
    assert signers.verify(DATA, sig, "file", "a@corp", now=15) == cert
    assert signers.find_principals(cert, now=15) == ["a@corp"]
    with pytest.raises(SignatureInvalid):  # principal not in the certificate
        signers.verify(DATA, sig, "file", "c@corp", now=15)
    with pytest.raises(SignatureInvalid):  # certificate listed but line pattern does not match
        signers.verify(DATA, sig, "file", "b@elsewhere", now=15)
    with pytest.raises(SignatureInvalid):  # expired certificate
        signers.verify(DATA, sig, "file", "a@corp", now=20)
    with pytest.raises(SignatureInvalid):  # the plain key is not trusted by itself
        signers.verify(DATA, sign(DATA, user, "file"), "file", "a@corp", now=15)

    rogue_cert = sign_certificate(rogue, user.public_key, principals=["a@corp"])
    with pytest.raises(SignatureInvalid):
        signers.verify(DATA, sign(DATA, user, "file", certificate=rogue_cert), "file", "a@corp")
    weird = sign_certificate(
        ca, user.public_key, principals=["a@corp"], critical_options={"unknown@x": ""}
    )
    with pytest.raises(SignatureInvalid):
        signers.verify(DATA, sign(DATA, user, "file", certificate=weird), "file", "a@corp")
    nobody = sign_certificate(ca, user.public_key)
    with pytest.raises(SignatureInvalid):  # user certificates must name principals
        signers.verify(DATA, sign(DATA, user, "file", certificate=nobody), "file", "a@corp")


# -- fuzz ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_sig(keys: dict[str, PrivateKey]) -> str:
    return sign(DATA, keys["ed25519"], "file")


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mutated_signatures(
    fuzz_sig: str, keys: dict[str, PrivateKey], data: st.DataObject
) -> None:
    blob = bytearray(parse_signature(fuzz_sig).encode())
    pos = data.draw(st.integers(0, len(blob) - 1))
    kind = data.draw(st.sampled_from(["flip", "truncate", "insert", "armour"]))
    if kind == "flip":
        blob[pos] ^= 1 << data.draw(st.integers(0, 7))
    elif kind == "truncate":
        del blob[pos:]
    elif kind == "insert":
        blob[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
    b64 = base64.b64encode(bytes(blob)).decode()
    armored = f"-----BEGIN SSH SIGNATURE-----\n{b64}\n-----END SSH SIGNATURE-----\n"
    if kind == "armour":
        text = list(fuzz_sig)
        i = data.draw(st.integers(0, len(text) - 1))
        text[i] = data.draw(st.sampled_from(["A", "=", "\n", "-", " ", "\x00", "é"]))
        armored = "".join(text)
    signers = AllowedSigners.from_text(f"me {keys['ed25519'].public_key.to_line()}\n")
    try:
        key = verify(DATA, armored, "file")
        signers.verify(DATA, armored, "file", "me")
    except SignatureInvalid:
        return
    assert key == keys["ed25519"].public_key
    assert parse_signature(armored).encode() == parse_signature(fuzz_sig).encode()
