"""known_hosts against the real ssh-keygen: -H hashing, -F lookups, -R removal."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ssh_keys import PublicKey, generate_private_key, parse_public_key_line
from ssh_keys.known_hosts import HostKeyStatus, KnownHosts, hash_host

SSH_KEYGEN = shutil.which("ssh-keygen")
pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(SSH_KEYGEN is None, reason="ssh-keygen not installed"),
]

ED = generate_private_key("ed25519").public_key
EC = generate_private_key("ecdsa").public_key
RSA = generate_private_key("rsa", 2048).public_key
CA = generate_private_key("ed25519").public_key

# Host names tried against every file: plain, port forms, patterns, negations, case.
QUERIES = [
    ("a.example", 22),
    ("b.example", 22),
    ("a.example", 2222),
    ("x.w.example", 22),
    ("y.w.example", 22),
    ("bad.w.example", 22),
    ("10.0.0.1", 22),
    ("::1", 2200),
    ("host7", 22),
    ("host77", 22),
    ("upper.example", 22),
    ("UPPER.Example", 22),
    ("ca.example", 22),
    ("nowhere.example", 22),
    ("w.example", 2222),
]


def keygen(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    assert SSH_KEYGEN is not None
    return subprocess.run(
        [SSH_KEYGEN, *map(str, args)], capture_output=True, text=True, timeout=30, check=check
    )


def name(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


def keygen_find(path: Path, host: str, port: int) -> list[int]:
    """Line numbers ``ssh-keygen -F`` reports for a host."""
    done = keygen("-F", name(host, port), "-f", path, check=False)
    return [int(n) for n in re.findall(r"^# Host \S+ found: line (\d+)", done.stdout, re.M)]


def plain_file() -> str:
    return "".join(
        f"{line}\n"
        for line in [
            "# managed by hand",
            f"a.example,b.example,10.0.0.1 {ED.to_line()}",
            f"[a.example]:2222 {EC.to_line()}",
            f"[::1]:2200 {RSA.to_line('with comment')}",
            f"upper.EXAMPLE {EC.to_line()}",
            f"b.example {RSA.to_line()}",
        ]
    )


def pattern_file() -> str:
    return plain_file() + "".join(
        f"{line}\n"
        for line in [
            f"*.w.example,!bad.w.example {ED.to_line()}",
            f"host? {EC.to_line()}",
            f"[*.example]:2222 {RSA.to_line()}",
            f"@cert-authority ca.example,*.w.example {CA.to_line()}",
            f"@revoked * {RSA.to_line()}",
            "this line is not valid",
        ]
    )


def test_ssh_keygen_hashed_file_matches_here(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    path.write_text(plain_file())
    keygen("-H", "-f", path)
    hashed = KnownHosts.load(path)
    plain = KnownHosts(plain_file())
    assert hashed.warnings == ()
    assert len(hashed) == 7  # one line per name
    assert all(e.hashed for e in hashed)
    for host, port in QUERIES:
        assert set(hashed.lookup(host, port).trusted_keys) == set(
            plain.lookup(host, port).trusted_keys
        ), (host, port)
    # Recomputing their hash with their salt gives their field, byte for byte.
    for entry in hashed:
        salt = base64.b64decode(entry.hosts.split("|")[2])
        candidates = ["a.example", "b.example", "10.0.0.1", "[a.example]:2222", "[::1]:2200"]
        candidates.append("upper.example")  # ssh-keygen -H lowercases before hashing
        assert entry.hosts in {hash_host(c, salt) for c in candidates}


def test_find_agrees_with_ssh_keygen_F(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    source = pattern_file()
    hashed_lines = [f"{hash_host(name('hashed.example', p))} {ED.to_line()}\n" for p in (22, 2222)]
    hashed_lines.append(f"{hash_host('upper.example')} {ED.to_line()}\n")  # -F: case matters
    path.write_text(source + "".join(hashed_lines))
    ours = KnownHosts.load(path)
    assert [w.line_number for w in ours.warnings] == [12]
    for host, port in [*QUERIES, ("hashed.example", 22), ("hashed.example", 2222)]:
        expected = keygen_find(path, host, port)
        assert [e.line_number for e in ours.find(host, port)] == expected, (host, port)
    # The [*.example]:2222 pattern, the @revoked * line and the hashed name.
    assert keygen_find(path, "hashed.example", 2222) == [9, 11, 14]


def test_lines_we_add_are_found_by_ssh_keygen(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    kh = KnownHosts.load(path)
    kh.add("plain.example", 22, ED)
    kh.add("hashed.example", 22, EC, hashed=True)
    kh.add("hashed.example", 2022, RSA, hashed=True)
    kh.add("both.example", 22, ED, hashed=True, addresses=["192.0.2.5"])
    kh.save()
    assert keygen_find(path, "plain.example", 22) == [1]
    assert keygen_find(path, "hashed.example", 22) == [2]
    assert keygen_find(path, "hashed.example", 2022) == [3]
    assert keygen_find(path, "hashed.example", 2023) == []
    assert keygen_find(path, "both.example", 22) == [4]
    assert keygen_find(path, "192.0.2.5", 22) == [5]
    # And ssh-keygen prints the key we wrote.
    done = keygen("-F", "[hashed.example]:2022", "-f", path)
    found = [ln for ln in done.stdout.splitlines() if not ln.startswith("#")]
    assert [parse_public_key_line(ln.split(" ", 1)[1]).key for ln in found] == [RSA]


def test_remove_agrees_with_ssh_keygen_R(tmp_path: Path) -> None:
    # ssh-keygen -R refuses to rewrite a file with invalid lines: leave that one out.
    source = pattern_file().replace("this line is not valid\n", "")
    for host, port in [("a.example", 22), ("x.w.example", 22), ("a.example", 2222)]:
        path = tmp_path / f"kh-{host}-{port}"
        path.write_text(source)
        keygen("-R", name(host, port), "-f", path)
        ours = KnownHosts(source)
        ours.remove(host, port)
        theirs = KnownHosts(path.read_text())
        assert [e.line for e in theirs] == [e.line for e in ours], (host, port)


def test_keys_written_by_ssh_keygen_are_trusted(tmp_path: Path) -> None:
    keys: list[PublicKey] = []
    for kind in ("ed25519", "ecdsa", "rsa"):
        keygen("-q", "-t", kind, "-N", "", "-f", tmp_path / kind)
        keys.append(parse_public_key_line((tmp_path / f"{kind}.pub").read_text()).key)
    kh = KnownHosts("".join(f"srv {k.to_line()}\n" for k in keys))
    for key in keys:
        assert kh.check("srv", 22, key) is HostKeyStatus.TRUSTED
    assert kh.check("srv", 22, ED) is HostKeyStatus.CHANGED


def _certify(tmp_path: Path, *args: str) -> tuple[PublicKey, PublicKey]:
    """Sign a fresh key with a fresh CA using ssh-keygen; return (certificate, CA key)."""
    from ssh_keys import certificate  # noqa: F401 - registers the certificate key types

    keygen("-q", "-t", "ed25519", "-N", "", "-f", tmp_path / "ca")
    keygen("-q", "-t", "ed25519", "-N", "", "-f", tmp_path / "key")
    keygen("-q", "-s", tmp_path / "ca", "-I", "test", *args, tmp_path / "key.pub")
    cert = parse_public_key_line((tmp_path / "key-cert.pub").read_text()).key
    ca = parse_public_key_line((tmp_path / "ca.pub").read_text()).key
    return cert, ca


def test_real_host_certificate_through_cert_authority(tmp_path: Path) -> None:
    from datetime import datetime, timezone

    from ssh_keys import CertificateInvalid
    from ssh_keys.certificate import Certificate, CertType

    cert, ca = _certify(tmp_path, "-h", "-n", "srv.example.com")
    assert isinstance(cert, Certificate)

    def valid(c: object, host: str) -> bool:
        assert isinstance(c, Certificate)
        try:
            c.check(datetime.now(timezone.utc), host, CertType.HOST)
        except CertificateInvalid:
            return False
        return True

    kh = KnownHosts(f"@cert-authority *.example.com {ca.to_line()}\n")
    assert kh.check("srv.example.com", 22, cert, certificate_valid=valid) is HostKeyStatus.TRUSTED
    # Principal mismatch: not trusted through the CA, and the plain key is unknown.
    assert kh.check("other.example.com", 22, cert, certificate_valid=valid) is (
        HostKeyStatus.UNKNOWN
    )
    kh.add("srv.example.com", 22, cert.key)
    assert kh.check("other.example.com", 22, cert, certificate_valid=valid) is (
        HostKeyStatus.UNKNOWN
    )
    assert kh.check("srv.example.com", 22, cert) is HostKeyStatus.TRUSTED  # plain key fallback
    revoked = KnownHosts(f"@cert-authority * {ca.to_line()}\n@revoked * {ca.to_line()}\n")
    assert revoked.check("srv.example.com", 22, cert, certificate_valid=valid) is (
        HostKeyStatus.REVOKED
    )


def test_real_user_certificate_finds_cert_authority_line(tmp_path: Path) -> None:
    from ssh_keys.authorized_keys import AuthorizedKeys

    cert, ca = _certify(tmp_path, "-n", "alice")
    plain = cert.key  # type: ignore[attr-defined]
    ak = AuthorizedKeys(f'cert-authority,principals="alice" {ca.to_line()}\n{plain.to_line()}\n')
    assert [e.line_number for e in ak.find(cert)] == [1]
    assert ak.find(cert)[0].options.principals == ("alice",)
    assert [e.line_number for e in ak.find(plain)] == [2]
