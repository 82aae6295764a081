"""OpenSSH certificates: round trips for every key type, CA checks, validation rules, fuzz."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, padding, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssh_keys import (
    CertificateInvalid,
    KeyFormatError,
    PrivateKey,
    PublicKey,
    SignatureInvalid,
    UnsupportedAlgorithm,
    generate_private_key,
    parse_public_key_blob,
    parse_public_key_line,
    private_key_from_crypto,
)
from ssh_keys.certificate import (
    DEFAULT_USER_EXTENSIONS,
    FOREVER,
    Certificate,
    CertType,
    describe,
    sign_certificate,
)
from ssh_keys.public import (
    DSAPublicKey,
    ECDSAPublicKey,
    RSAPublicKey,
    SKECDSAPublicKey,
    SKEd25519PublicKey,
)
from ssh_wire import Writer


@pytest.fixture(scope="module")
def keys() -> dict[str, PrivateKey]:
    return {
        "ed25519": generate_private_key("ed25519"),
        "ecdsa256": generate_private_key("ecdsa", 256),
        "ecdsa384": generate_private_key("ecdsa", 384),
        "ecdsa521": generate_private_key("ecdsa", 521),
        "rsa": generate_private_key("rsa", 2048),
    }


@pytest.fixture(scope="module")
def subjects(keys: dict[str, PrivateKey]) -> dict[str, PublicKey]:
    nums = dsa.generate_private_key(1024).public_key().public_numbers()
    params = nums.parameter_numbers
    sk_point = ECDSAPublicKey.from_crypto(ec.generate_private_key(ec.SECP256R1()).public_key())
    out = {name: k.public_key for name, k in keys.items()}
    out["dsa"] = DSAPublicKey(params.p, params.q, params.g, nums.y)
    out["sk-ed25519"] = SKEd25519PublicKey(os.urandom(32), "ssh:")
    out["sk-ecdsa"] = SKECDSAPublicKey(sk_point.point, "ssh:test")
    return out


CERT_NAMES = {
    "ed25519": ("ssh-ed25519-cert-v01@openssh.com", "ED25519-CERT"),
    "ecdsa256": ("ecdsa-sha2-nistp256-cert-v01@openssh.com", "ECDSA-CERT"),
    "ecdsa384": ("ecdsa-sha2-nistp384-cert-v01@openssh.com", "ECDSA-CERT"),
    "ecdsa521": ("ecdsa-sha2-nistp521-cert-v01@openssh.com", "ECDSA-CERT"),
    "rsa": ("ssh-rsa-cert-v01@openssh.com", "RSA-CERT"),
    "dsa": ("ssh-dss-cert-v01@openssh.com", "DSA-CERT"),
    "sk-ed25519": ("sk-ssh-ed25519-cert-v01@openssh.com", "ED25519-SK-CERT"),
    "sk-ecdsa": ("sk-ecdsa-sha2-nistp256-cert-v01@openssh.com", "ECDSA-SK-CERT"),
}


@pytest.mark.parametrize("subject", sorted(CERT_NAMES))
@pytest.mark.parametrize("ca_name", ["ed25519", "ecdsa384", "rsa"])
def test_round_trip_every_type(
    keys: dict[str, PrivateKey], subjects: dict[str, PublicKey], subject: str, ca_name: str
) -> None:
    ca = keys[ca_name]
    key = subjects[subject]
    cert = sign_certificate(
        ca,
        key,
        key_id="alice@example",
        principals=["alice", "root"],
        valid_after=1000,
        valid_before=2000,
        serial=77,
        nonce=b"n" * 32,
    )
    algorithm, label = CERT_NAMES[subject]
    assert cert.algorithm == algorithm
    assert cert.key_type_label == label
    assert cert.bits == key.bits
    assert cert.key == key
    assert cert.fingerprint() == key.fingerprint()
    assert cert.signature_key == ca.public_key
    assert (cert.serial, cert.key_id, cert.nonce) == (77, "alice@example", b"n" * 32)
    assert cert.valid_principals == ("alice", "root")
    assert (cert.valid_after, cert.valid_before) == (1000, 2000)
    assert cert.cert_type is CertType.USER
    assert list(cert.extensions) == list(DEFAULT_USER_EXTENSIONS)
    assert cert.signature_algorithm == ca.algorithms[0]
    again = parse_public_key_blob(cert.blob)
    assert isinstance(again, Certificate)
    assert again == cert
    line = parse_public_key_line(cert.to_line("comment"))
    assert line.key == cert
    assert line.comment == "comment"
    cert.check(1500, "alice", CertType.USER)


def test_signature_made_with_certified_key(keys: dict[str, PrivateKey]) -> None:
    user = keys["ecdsa256"]
    cert = sign_certificate(keys["ed25519"], user.public_key, principals=["u"])
    cert.verify(b"data", user.sign(b"data"))
    assert cert.signature_algorithms == user.public_key.signature_algorithms
    with pytest.raises(SignatureInvalid):
        cert.verify(b"other", user.sign(b"data"))


def test_options_sorted_and_encoded(keys: dict[str, PrivateKey]) -> None:
    cert = sign_certificate(
        keys["ed25519"],
        keys["ecdsa256"].public_key,
        principals=["p"],
        critical_options={"source-address": "10.0.0.0/8", "force-command": "ls -l"},
        extensions={"z@x": b"raw", "permit-pty": "", "a@x": "text"},
    )
    assert list(cert.critical_options) == ["force-command", "source-address"]
    assert list(cert.extensions) == ["a@x", "permit-pty", "z@x"]
    assert cert.extensions["a@x"] == Writer().text("text").getvalue()
    assert cert.extensions["z@x"] == b"raw"
    assert cert.force_command == "ls -l"
    assert cert.source_address == "10.0.0.0/8"
    assert not cert.verify_required


def test_default_extensions_host_and_user(keys: dict[str, PrivateKey]) -> None:
    host = sign_certificate(keys["ed25519"], keys["ed25519"].public_key, cert_type=CertType.HOST)
    assert host.cert_type is CertType.HOST
    assert host.extensions == {}
    user = sign_certificate(keys["ed25519"], keys["ed25519"].public_key, extensions=["permit-pty"])
    assert user.extensions == {"permit-pty": b""}
    # PROTOCOL.certkeys orders names bytewise: "permit-X11..." sorts before "permit-agent...".
    user = sign_certificate(keys["ed25519"], keys["ed25519"].public_key)
    assert next(iter(user.extensions)) == "permit-X11-forwarding"


def test_datetime_validity(keys: dict[str, PrivateKey]) -> None:
    start = datetime(2030, 1, 1, tzinfo=timezone.utc)
    end = datetime(2031, 1, 1, tzinfo=timezone.utc)
    cert = sign_certificate(
        keys["ed25519"],
        keys["ed25519"].public_key,
        principals=["a"],
        valid_after=start,
        valid_before=end,
    )
    assert cert.valid_after == int(start.timestamp())
    cert.check(datetime(2030, 6, 1, tzinfo=timezone.utc), "a")
    with pytest.raises(ValueError, match="aware"):
        sign_certificate(
            keys["ed25519"], keys["ed25519"].public_key, valid_after=datetime(2030, 1, 1)
        )


@pytest.fixture(scope="module")
def user_cert(keys: dict[str, PrivateKey]) -> Certificate:
    return sign_certificate(
        keys["ed25519"],
        keys["ecdsa256"].public_key,
        key_id="id",
        principals=["alice", "bob"],
        valid_after=100,
        valid_before=200,
    )


def test_check_validity_window(user_cert: Certificate) -> None:
    user_cert.check(100, "alice")
    user_cert.check(199, "bob")
    with pytest.raises(CertificateInvalid, match="not yet valid"):
        user_cert.check(99, "alice")
    with pytest.raises(CertificateInvalid, match="expired"):
        user_cert.check(200, "alice")  # valid_before is exclusive


def test_check_principals(user_cert: Certificate, keys: dict[str, PrivateKey]) -> None:
    with pytest.raises(CertificateInvalid, match="not a listed principal"):
        user_cert.check(150, "mallory")
    with pytest.raises(CertificateInvalid, match="not a listed principal"):
        user_cert.check(150, "ali*")
    with pytest.raises(CertificateInvalid, match="not a host"):
        user_cert.check(150, "alice", CertType.HOST)
    ca, key = keys["ed25519"], keys["ed25519"].public_key
    anyone = sign_certificate(ca, key)
    with pytest.raises(CertificateInvalid, match="lacks a principal"):
        anyone.check(0, "alice")  # user certificates must name their principals
    anyone.check(0, "alice", require_principal=False)
    host_any = sign_certificate(ca, key, cert_type=CertType.HOST)
    host_any.check(0, "any.example.com", CertType.HOST)  # empty list: any host
    host = sign_certificate(ca, key, cert_type=CertType.HOST, principals=["*.example.com"])
    with pytest.raises(CertificateInvalid):
        host.check(0, "a.example.com", CertType.HOST)
    host.check(0, "a.example.com", CertType.HOST, wildcard_principals=True)
    with pytest.raises(CertificateInvalid, match="not a user"):
        host.check(0, None, CertType.USER)


def test_check_critical_options(keys: dict[str, PrivateKey]) -> None:
    ca, key = keys["ed25519"], keys["ed25519"].public_key

    def cert(options: dict[str, str | bytes], kind: CertType = CertType.USER) -> Certificate:
        return sign_certificate(ca, key, principals=["u"], critical_options=options, cert_type=kind)

    cert({"force-command": "true", "verify-required": ""}).check(0, "u")
    assert cert({"verify-required": ""}).verify_required
    with pytest.raises(CertificateInvalid, match="unsupported critical option"):
        cert({"unknown@example.com": ""}).check(0, "u")
    with pytest.raises(CertificateInvalid, match="host certificate"):
        cert({"force-command": "x"}, CertType.HOST).check(0, None, CertType.HOST)
    with pytest.raises(CertificateInvalid, match="unexpected data"):
        cert({"verify-required": "yes"}).check(0, "u")
    with pytest.raises(CertificateInvalid):
        cert({"force-command": b"\x00\x00\x00\x09short"}).check(0, "u")

    restricted = cert({"source-address": "192.168.0.0/16,2001:db8::/32,10.1.2.3"})
    for good in ("192.168.4.5", "2001:db8::1", "10.1.2.3", "::ffff:192.168.1.1"):
        restricted.check(0, "u", source_address=good)
    for bad in ("10.1.2.4", "192.169.0.1", "2001:db9::1"):
        with pytest.raises(CertificateInvalid, match="not allowed"):
            restricted.check(0, "u", source_address=bad)
    with pytest.raises(CertificateInvalid, match="none given"):
        restricted.check(0, "u")
    restricted.check(0, "u", check_source_address=False)
    with pytest.raises(CertificateInvalid, match="invalid source-address"):
        cert({"source-address": "10.0.0.1/8"}).check(0, "u", source_address="10.0.0.1")
    with pytest.raises(CertificateInvalid, match="invalid client address"):
        restricted.check(0, "u", source_address="host.example")


class _SHA1RSASigner:
    """A CA that still signs with ssh-rsa (SHA-1), as old ssh-keygen versions did."""

    def __init__(self) -> None:
        self.crypto = rsa.generate_private_key(65537, 2048)
        self.public_key: PublicKey = RSAPublicKey.from_crypto(self.crypto.public_key())
        self.algorithms = ("ssh-rsa",)

    def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
        sig = self.crypto.sign(data, padding.PKCS1v15(), hashes.SHA1())
        return Writer().string(b"ssh-rsa").string(sig).getvalue()


def test_sha1_ca_signature_refused_by_default(keys: dict[str, PrivateKey]) -> None:
    cert = sign_certificate(_SHA1RSASigner(), keys["ed25519"].public_key, principals=["u"])
    assert cert.signature_algorithm == "ssh-rsa"
    with pytest.raises(CertificateInvalid, match="SHA-1"):
        cert.check(0, "u")
    cert.check(0, "u", allow_sha1=True)


def _raw_cert(ca: PrivateKey, key: PublicKey, ca_blob: bytes, options: bytes = b"") -> bytes:
    name = key.algorithm
    w = Writer().string(f"{name}-cert-v01@openssh.com".encode()).string(b"nonce")
    w.raw(key.blob[4 + len(name) :]).uint64(0).uint32(1).text("id").string(b"")
    w.uint64(0).uint64(FOREVER).string(options).string(b"").string(b"").string(ca_blob)
    tbs = w.getvalue()
    return tbs + Writer().string(ca.sign(tbs)).getvalue()


def test_chained_and_malformed_certificates_refused(
    keys: dict[str, PrivateKey], user_cert: Certificate
) -> None:
    ca = keys["ed25519"]
    key = keys["ed25519"].public_key
    assert isinstance(parse_public_key_blob(_raw_cert(ca, key, ca.public_key.blob)), Certificate)
    with pytest.raises(KeyFormatError, match="signed by a certificate"):
        parse_public_key_blob(_raw_cert(ca, key, user_cert.blob))
    duplicate = Writer().text("force-command").string(b"").text("force-command").string(b"")
    with pytest.raises(KeyFormatError, match="twice"):
        parse_public_key_blob(_raw_cert(ca, key, ca.public_key.blob, duplicate.getvalue()))
    with pytest.raises(UnsupportedAlgorithm):
        sign_certificate(ca, user_cert)

    class CertCA:
        public_key = user_cert
        algorithms = ("ecdsa-sha2-nistp256",)

        def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
            return keys["ecdsa256"].sign(data, algorithm)

    with pytest.raises(UnsupportedAlgorithm):
        sign_certificate(CertCA(), key)


def test_tampered_ca_signature(user_cert: Certificate) -> None:
    blob = bytearray(user_cert.blob)
    blob[-5] ^= 1
    with pytest.raises(KeyFormatError, match="signature"):
        parse_public_key_blob(bytes(blob))
    blob = bytearray(user_cert.blob)
    blob[40] ^= 1  # inside the certified key
    with pytest.raises(KeyFormatError):
        parse_public_key_blob(bytes(blob))


def test_describe_layout(keys: dict[str, PrivateKey]) -> None:
    cert = sign_certificate(
        keys["ed25519"],
        keys["ed25519"].public_key,
        key_id="k",
        serial=5,
        critical_options={"force-command": "ls", "odd@x": "v", "flag@x": ""},
        extensions={"permit-pty": ""},
    )
    text = describe(cert, "f")
    assert text.splitlines() == [
        "f:",
        "        Type: ssh-ed25519-cert-v01@openssh.com user certificate",
        f"        Public key: ED25519-CERT {cert.fingerprint()}",
        f"        Signing CA: ED25519 {keys['ed25519'].public_key.fingerprint()} "
        "(using ssh-ed25519)",
        '        Key ID: "k"',
        "        Serial: 5",
        "        Valid: forever",
        "        Principals: (none)",
        "        Critical Options: ",
        "                flag@x UNKNOWN FLAG OPTION",
        "                force-command ls",
        "                odd@x UNKNOWN OPTION: 0000000176 (len 5)",
        "        Extensions: ",
        "                permit-pty",
    ]


# -- fuzz ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_seed(keys: dict[str, PrivateKey]) -> bytes:
    return sign_certificate(
        keys["ed25519"],
        keys["ecdsa256"].public_key,
        key_id="fuzz",
        principals=["a", "b"],
        critical_options={"force-command": "x", "source-address": "10.0.0.0/8"},
    ).blob


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mutated_certificates(fuzz_seed: bytes, data: st.DataObject) -> None:
    blob = bytearray(fuzz_seed)
    kind = data.draw(st.sampled_from(["flip", "byte", "truncate", "insert", "cut-front"]))
    pos = data.draw(st.integers(0, len(blob) - 1))
    if kind == "flip":
        blob[pos] ^= 1 << data.draw(st.integers(0, 7))
    elif kind == "byte":
        blob[pos] = data.draw(st.integers(0, 255))
    elif kind == "truncate":
        del blob[pos:]
    elif kind == "insert":
        blob[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
    else:
        del blob[: pos + 1]
    try:
        cert = parse_public_key_blob(bytes(blob))
    except KeyFormatError:
        return
    # Anything that still parses passed the CA signature, so it must be the original.
    assert cert.blob == fuzz_seed


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400))
def test_random_certificate_bodies(body: bytes) -> None:
    blob = Writer().string(b"ssh-ed25519-cert-v01@openssh.com").raw(body).getvalue()
    with pytest.raises(KeyFormatError):
        parse_public_key_blob(blob)


def test_private_key_from_crypto_ca() -> None:
    ca = private_key_from_crypto(ec.generate_private_key(ec.SECP521R1()))
    cert = sign_certificate(ca, ca.public_key, principals=["x"])
    assert cert.signature_algorithm == "ecdsa-sha2-nistp521"
    cert.check(0, "x")


def test_deeply_nested_ca_certificates_fail_fast(keys: dict[str, PrivateKey]) -> None:
    key = keys["ed25519"].public_key
    blob = key.blob
    for _ in range(3000):  # each level names the previous one as its CA
        w = Writer().string(b"ssh-ed25519-cert-v01@openssh.com").string(b"")
        w.raw(key.blob[15:]).uint64(0).uint32(1).text("").string(b"").uint64(0).uint64(1)
        blob = w.string(b"").string(b"").string(b"").string(blob).string(b"").getvalue()
    with pytest.raises(KeyFormatError, match="signed by a certificate"):
        parse_public_key_blob(blob)
