"""Where a key is expected, the line read_public_key_file returns works too; anything else is
a TypeError at the call naming what was passed, never an AttributeError deep inside."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssh_keys import (
    AllowedSigners,
    AuthorizedKeys,
    CertType,
    HostKeyStatus,
    KnownHosts,
    PublicKeyLine,
    as_certificate,
    as_public_key,
    generate_private_key,
    randomart,
    read_public_key_file,
    sign_certificate,
    sshsig_sign,
    sshsig_verify,
)

KEY = generate_private_key("ed25519", comment="me")
CA = generate_private_key("ed25519")


@pytest.fixture
def line(tmp_path: Path) -> PublicKeyLine:
    path = tmp_path / "id_ed25519.pub"
    path.write_text(KEY.public_key.to_line("me") + "\n")
    found = read_public_key_file(path)
    assert isinstance(found, PublicKeyLine)
    return found


def test_as_public_key(line: PublicKeyLine) -> None:
    assert as_public_key(KEY.public_key) is KEY.public_key
    assert as_public_key(line) == KEY.public_key
    with pytest.raises(
        TypeError, match="the host key must be a PublicKey or PublicKeyLine, not str"
    ):
        as_public_key("id_ed25519.pub", "the host key")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not Ed25519PrivateKey"):
        as_public_key(KEY)  # type: ignore[arg-type]


def test_as_certificate(line: PublicKeyLine, tmp_path: Path) -> None:
    cert = sign_certificate(CA, line, cert_type=CertType.USER, principals=["me"])
    path = tmp_path / "id_ed25519-cert.pub"
    path.write_text(cert.to_line() + "\n")
    assert as_certificate(read_public_key_file(path)) == cert
    with pytest.raises(TypeError, match="must be a certificate, not a plain ssh-ed25519 key"):
        as_certificate(line)
    with pytest.raises(TypeError, match="not bytes"):
        as_certificate(cert.blob)  # type: ignore[arg-type]


def test_known_hosts(line: PublicKeyLine) -> None:
    hosts = KnownHosts()
    hosts.add("example.com", 22, line)
    assert hosts.check("example.com", 22, line) is HostKeyStatus.TRUSTED
    assert hosts.check("example.com", 22, KEY.public_key) is HostKeyStatus.TRUSTED
    with pytest.raises(TypeError, match="not bytes"):
        hosts.check("example.com", 22, KEY.public_key.blob)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not str"):
        hosts.add("example.com", 22, KEY.public_key.to_line())  # type: ignore[arg-type]


def test_authorized_keys(line: PublicKeyLine) -> None:
    keys = AuthorizedKeys.from_text(KEY.public_key.to_line() + "\n")
    assert len(keys.find(line)) == 1
    assert keys.find(line)[0].matches(line)
    with pytest.raises(TypeError, match="not str"):
        keys.find("ssh-ed25519 AAAA")  # type: ignore[arg-type]


def test_signatures_and_pictures(line: PublicKeyLine) -> None:
    assert randomart(line) == randomart(KEY.public_key)
    cert = sign_certificate(CA, KEY.public_key, cert_type=CertType.USER, principals=["me"])
    cert_line = PublicKeyLine(cert, "")
    armored = sshsig_sign(b"data", KEY, "file", certificate=cert_line)
    assert sshsig_verify(b"data", armored, "file") == cert
    signers = AllowedSigners.from_text(f"me {KEY.public_key.to_line()}\n")
    assert signers.find_principals(line) == ["me"]
    with pytest.raises(TypeError, match="not bytes"):
        signers.find_principals(b"key")  # type: ignore[arg-type]
