"""Certificates and SSH signatures against OpenSSH's ssh-keygen, both directions."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import dsa, ec
from cryptography.hazmat.primitives.serialization import load_ssh_private_key

from ssh_keys import (
    CertificateInvalid,
    PrivateKey,
    PublicKey,
    SignatureInvalid,
    parse_public_key_line,
    private_key_from_crypto,
)
from ssh_keys.certificate import FOREVER, Certificate, CertType, describe, sign_certificate
from ssh_keys.public import DSAPublicKey, ECDSAPublicKey, SKECDSAPublicKey, SKEd25519PublicKey
from ssh_keys.sshsig import AllowedSigners, sign, verify

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen"),
]

DATA = b"signed with SSHSIG\n"


def keygen(*args: str | Path, data: bytes | None = None, check: bool = True) -> str:
    result = subprocess.run(
        ["ssh-keygen", *map(str, args)], input=data, capture_output=True, timeout=30
    )
    if check and result.returncode != 0:
        raise AssertionError(f"ssh-keygen {args} failed: {result.stderr.decode()}")
    return result.stdout.decode()


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("certs")


@pytest.fixture(scope="module")
def cas(work: Path) -> dict[str, PrivateKey]:
    """CA keys made by ssh-keygen (so both sides can sign with them)."""
    out = {}
    for name, args in {
        "ed25519": ["-t", "ed25519"],
        "ecdsa": ["-t", "ecdsa", "-b", "384"],
        "rsa": ["-t", "rsa", "-b", "2048"],
    }.items():
        path = work / f"ca_{name}"
        keygen("-q", *args, "-N", "", "-C", "", "-f", path)
        out[name] = private_key_from_crypto(load_ssh_private_key(path.read_bytes(), None))
    return out


@pytest.fixture(scope="module")
def subjects(work: Path) -> dict[str, PublicKey]:
    """One public key of every certifiable type, written to NAME.pub."""
    keys: dict[str, PublicKey] = {}
    for name, args in {
        "ed25519": ["-t", "ed25519"],
        "ecdsa256": ["-t", "ecdsa", "-b", "256"],
        "ecdsa521": ["-t", "ecdsa", "-b", "521"],
        "rsa": ["-t", "rsa", "-b", "2048"],
    }.items():
        keygen("-q", *args, "-N", "", "-C", "", "-f", work / name)
        keys[name] = parse_public_key_line((work / f"{name}.pub").read_text()).key
    nums = dsa.generate_private_key(1024).public_key().public_numbers()
    p = nums.parameter_numbers
    keys["dsa"] = DSAPublicKey(p.p, p.q, p.g, nums.y)
    keys["ecdsa384"] = ECDSAPublicKey.from_crypto(
        ec.generate_private_key(ec.SECP384R1()).public_key()
    )
    point = ECDSAPublicKey.from_crypto(ec.generate_private_key(ec.SECP256R1()).public_key()).point
    keys["sk-ecdsa"] = SKECDSAPublicKey(point, "ssh:")
    keys["sk-ed25519"] = SKEd25519PublicKey(os.urandom(32), "ssh:")
    for name in ("dsa", "ecdsa384", "sk-ecdsa", "sk-ed25519"):
        (work / f"{name}.pub").write_text(keys[name].to_line() + "\n")
    return keys


SUBJECTS = ["ed25519", "ecdsa256", "ecdsa384", "ecdsa521", "rsa", "dsa", "sk-ecdsa", "sk-ed25519"]


@pytest.mark.parametrize("ca_name", ["ed25519", "ecdsa", "rsa"])
@pytest.mark.parametrize("subject", SUBJECTS)
def test_our_certificates_in_ssh_keygen(
    work: Path,
    cas: dict[str, PrivateKey],
    subjects: dict[str, PublicKey],
    ca_name: str,
    subject: str,
) -> None:
    cert = sign_certificate(
        cas[ca_name],
        subjects[subject],
        key_id=f"{subject} by {ca_name}",
        principals=["alice", "bob"],
        valid_after=1_700_000_000,
        valid_before=1_900_000_000,
        serial=12345,
        critical_options={
            "force-command": "/bin/true",
            "source-address": "10.0.0.0/8,::1",
            "verify-required": "",
        },
        extensions={"permit-pty": "", "custom@example.com": "value", "flag@example.com": ""},
    )
    path = work / f"ours-{subject}-{ca_name}-cert.pub"
    path.write_text(cert.to_line("c") + "\n")
    shown = keygen("-L", "-f", path)
    assert shown == describe(cert, str(path))
    assert "Serial: 12345" in shown
    assert "force-command /bin/true" in shown
    assert keygen("-l", "-f", path).split()[:2] == [str(cert.bits), cert.fingerprint()]
    assert f"({cert.key_type_label})" in keygen("-l", "-f", path)


@pytest.mark.parametrize("ca_name", ["ed25519", "ecdsa", "rsa"])
def test_ssh_keygen_user_certificates(
    work: Path, cas: dict[str, PrivateKey], subjects: dict[str, PublicKey], ca_name: str
) -> None:
    for subject in SUBJECTS:
        pub = work / f"{subject}.pub"
        keygen(
            "-q",
            "-s",
            work / f"ca_{ca_name}",
            "-I",
            f"id {subject}",
            "-n",
            "p1,p2",
            "-V",
            "20200101:20400101",
            "-z",
            "99",
            "-O",
            "force-command=ls -l",
            "-O",
            "source-address=192.168.0.0/16",
            "-O",
            "no-pty",
            "-O",
            "extension:ext@example.com=xyz",
            pub,
        )
        path = work / f"{subject}-cert.pub"
        cert = parse_public_key_line(path.read_text()).key
        assert isinstance(cert, Certificate)
        assert cert.key == subjects[subject]
        assert cert.signature_key == cas[ca_name].public_key
        assert (cert.key_id, cert.serial, cert.cert_type) == (f"id {subject}", 99, CertType.USER)
        assert cert.valid_principals == ("p1", "p2")
        assert cert.force_command == "ls -l"
        assert cert.source_address == "192.168.0.0/16"
        assert "permit-pty" not in cert.extensions
        assert "permit-user-rc" in cert.extensions
        assert list(cert.extensions) == sorted(cert.extensions, key=str.encode)
        assert describe(cert, str(path)) == keygen("-L", "-f", path)
        now = 2_000_000_000  # 2033
        cert.check(now, "p1", CertType.USER, "192.168.1.1")
        with pytest.raises(CertificateInvalid):
            cert.check(now, "p3", CertType.USER, "192.168.1.1")
        with pytest.raises(CertificateInvalid):
            cert.check(now, "p1", CertType.USER, "10.0.0.1")
        with pytest.raises(CertificateInvalid, match="expired"):
            cert.check(2_300_000_000, "p1", CertType.USER, "192.168.1.1")


def test_ssh_keygen_host_certificate(work: Path, cas: dict[str, PrivateKey]) -> None:
    keygen(
        "-q",
        "-s",
        work / "ca_rsa",
        "-I",
        "host",
        "-h",
        "-n",
        "h1.example,h2.example",
        "-V",
        "+1h",
        work / "ecdsa256.pub",
    )
    path = work / "ecdsa256-cert.pub"
    cert = parse_public_key_line(path.read_text()).key
    assert isinstance(cert, Certificate)
    assert cert.cert_type == CertType.HOST
    assert cert.extensions == {}
    assert cert.signature_algorithm == "rsa-sha2-512"
    assert describe(cert, str(path)) == keygen("-L", "-f", path)
    now = cert.valid_after + 600
    cert.check(now, "h2.example", CertType.HOST)
    with pytest.raises(CertificateInvalid):
        cert.check(now, "h3.example", CertType.HOST)
    with pytest.raises(CertificateInvalid):
        cert.check(now, "h1.example", CertType.USER)
    keygen("-q", "-s", work / "ca_ed25519", "-I", "any", "-h", work / "ecdsa256.pub")
    anyhost = parse_public_key_line(path.read_text()).key
    assert isinstance(anyhost, Certificate)
    assert anyhost.valid_before == FOREVER
    anyhost.check(0, "whatever.example", CertType.HOST)


def test_ssh_keygen_unknown_critical_option(work: Path) -> None:
    keygen(
        "-q",
        "-s",
        work / "ca_ed25519",
        "-I",
        "x",
        "-n",
        "u",
        "-O",
        "critical:mystery@example.com=1",
        work / "ed25519.pub",
    )
    cert = parse_public_key_line((work / "ed25519-cert.pub").read_text()).key
    assert isinstance(cert, Certificate)
    with pytest.raises(CertificateInvalid, match="unsupported critical option"):
        cert.check(0, "u")


# -- SSHSIG ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def message(work: Path) -> Path:
    path = work / "message.txt"
    path.write_bytes(DATA)
    return path


@pytest.mark.parametrize("name", ["ed25519", "ecdsa256", "rsa"])
def test_ssh_keygen_signature_verifies_here(
    work: Path, message: Path, subjects: dict[str, PublicKey], name: str
) -> None:
    sig_path = Path(f"{message}.sig")
    sig_path.unlink(missing_ok=True)
    keygen("-q", "-Y", "sign", "-f", work / name, "-n", "file", message)
    armored = sig_path.read_text()
    assert verify(DATA, armored, "file") == subjects[name]
    signers = AllowedSigners.from_text(f"me@example.com {subjects[name].to_line()}\n")
    assert signers.verify(DATA, armored, "file", "me@example.com") == subjects[name]
    assert signers.find_principals(subjects[name]) == ["me@example.com"]
    with pytest.raises(SignatureInvalid):
        verify(DATA, armored, "git")
    with pytest.raises(SignatureInvalid):
        signers.verify(DATA, armored, "file", "you@example.com")
    with pytest.raises(SignatureInvalid):
        verify(DATA + b"!", armored, "file")


@pytest.mark.parametrize("name", ["ed25519", "ecdsa256", "rsa"])
def test_our_signature_verifies_in_ssh_keygen(
    work: Path, subjects: dict[str, PublicKey], name: str
) -> None:
    key = private_key_from_crypto(load_ssh_private_key((work / name).read_bytes(), None))
    sig_path = work / f"ours-{name}.sig"
    sig_path.write_text(sign(DATA, key, "file"))
    allowed = work / f"allowed-{name}"
    allowed.write_text(f'me@example.com namespaces="file" {subjects[name].to_line()}\n')
    out = keygen(
        "-Y",
        "verify",
        "-f",
        allowed,
        "-I",
        "me@example.com",
        "-n",
        "file",
        "-s",
        sig_path,
        data=DATA,
    )
    assert 'Good "file" signature for me@example.com' in out
    keygen("-Y", "check-novalidate", "-n", "file", "-s", sig_path, data=DATA)
    assert keygen("-Y", "find-principals", "-f", allowed, "-s", sig_path).split() == [
        "me@example.com"
    ]
    for args, data in (
        (("-n", "git"), DATA),  # wrong namespace
        (("-n", "file"), DATA + b"tampered"),
    ):
        bad = subprocess.run(
            [
                "ssh-keygen",
                "-Y",
                "verify",
                "-f",
                str(allowed),
                "-I",
                "me@example.com",
                *args,
                "-s",
                str(sig_path),
            ],
            input=data,
            capture_output=True,
            timeout=30,
        )
        assert bad.returncode != 0


def test_certificate_signature_in_ssh_keygen(work: Path, cas: dict[str, PrivateKey]) -> None:
    user = private_key_from_crypto(load_ssh_private_key((work / "ed25519").read_bytes(), None))
    allowed = work / "allowed-ca"
    allowed.write_text(f"*@corp cert-authority {cas['ecdsa'].public_key.to_line()}\n")
    cert = sign_certificate(cas["ecdsa"], user.public_key, principals=["alice@corp"])
    sig_path = work / "cert.sig"
    sig_path.write_text(sign(DATA, user, "file", certificate=cert))
    out = keygen(
        "-Y", "verify", "-f", allowed, "-I", "alice@corp", "-n", "file", "-s", sig_path, data=DATA
    )
    assert "Good" in out
    assert "ED25519-CERT" in out
    assert keygen("-Y", "find-principals", "-f", allowed, "-s", sig_path).split() == ["alice@corp"]
    ours = AllowedSigners.load(allowed)
    assert ours.verify(DATA, sig_path.read_text(), "file", "alice@corp") == cert
    assert ours.find_principals(cert) == ["alice@corp"]
    # An expired certificate fails on both sides.
    old = sign_certificate(
        cas["ecdsa"], user.public_key, principals=["alice@corp"], valid_after=1, valid_before=2
    )
    sig_path.write_text(sign(DATA, user, "file", certificate=old))
    bad = subprocess.run(
        [
            "ssh-keygen",
            "-Y",
            "verify",
            "-f",
            str(allowed),
            "-I",
            "alice@corp",
            "-n",
            "file",
            "-s",
            str(sig_path),
        ],
        input=DATA,
        capture_output=True,
        timeout=30,
    )
    assert bad.returncode != 0
    with pytest.raises(SignatureInvalid):
        ours.verify(DATA, sig_path.read_text(), "file", "alice@corp")
