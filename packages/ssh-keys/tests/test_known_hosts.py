from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssh_keys import PublicKey, generate_private_key
from ssh_keys.known_hosts import (
    HostKeyStatus,
    KnownHosts,
    Marker,
    hash_host,
)
from ssh_keys.patterns import split_lines

ED1 = generate_private_key("ed25519").public_key
ED2 = generate_private_key("ed25519").public_key
EC1 = generate_private_key("ecdsa").public_key
CA = generate_private_key("ed25519").public_key
CA2 = generate_private_key("ed25519").public_key
SALT = bytes(range(20))


@dataclass(frozen=True)
class FakeCert:
    """Stands in for the certificate class: the duck-typed attributes known_hosts uses."""

    signature_key: PublicKey
    key: PublicKey | None = None


def text(*lines: str) -> str:
    return "".join(f"{line}\n" for line in lines)


def test_parse_lines_markers_comments_and_warnings() -> None:
    kh = KnownHosts(
        text(
            "# a comment",
            "",
            "   ",
            f"host1,10.0.0.1 {ED1.to_line('comment here')}",
            f"@cert-authority *.example.com {CA.to_line()}",
            f"  @revoked * {ED2.to_line()}",
            "@bogus host " + ED1.to_line(),
            "@revoked",
            "hostonly",
            "host ssh-ed25519 !!!notbase64",
            f"host ssh-rsa {ED1.to_line().split()[1]}",  # type name disagrees with the blob
            "host ssh-foo AAAAB3NzaC1mb28=",  # unknown key type "ssh-foo"
            "|1|c2FsdA==|aGFzaA== " + ED1.to_line(),  # salt and hash too short
            "|2|abc|def " + ED1.to_line(),
        )
    )
    assert [(e.line_number, e.marker) for e in kh] == [
        (4, Marker.NONE),
        (5, Marker.CERT_AUTHORITY),
        (6, Marker.REVOKED),
    ]
    first = kh.entries[0]
    assert first.hosts == "host1,10.0.0.1"
    assert first.key == ED1
    assert first.comment == "comment here"
    assert not first.hashed
    assert [w.line_number for w in kh.warnings] == list(range(7, 15))
    assert "marker" in kh.warnings[0].reason
    assert len(kh) == 3


def test_lookup_collects_trusted_ca_and_revoked() -> None:
    kh = KnownHosts(
        text(
            f"host.example.com {ED1.to_line()}",
            f"*.example.com,!bad.example.com {EC1.to_line()}",
            f"@cert-authority *.example.com {CA.to_line()}",
            f"@revoked * {ED2.to_line()}",
            f"[host.example.com]:2222 {ED2.to_line()}",
        )
    )
    found = kh.lookup("host.example.com")
    assert found.trusted_keys == (ED1, EC1)
    assert found.ca_keys == (CA,)
    assert found.revoked_keys == (ED2,)
    assert [e.line_number for e in found.entries] == [1, 2, 3, 4]

    bad = kh.lookup("bad.example.com")
    assert bad.trusted_keys == ()  # excluded by the negation
    assert bad.ca_keys == (CA,)

    assert kh.lookup("HOST.Example.COM").trusted_keys == (ED1, EC1)
    assert kh.lookup("host.example.com", 2222).trusted_keys == (ED2,)
    assert kh.lookup("elsewhere.org").trusted_keys == ()


def test_lookup_by_address() -> None:
    kh = KnownHosts(text(f"10.0.0.1 {ED1.to_line()}", f"host,!10.0.0.9 {EC1.to_line()}"))
    assert kh.lookup("unnamed", addresses=["10.0.0.1"]).trusted_keys == (ED1,)
    assert kh.lookup("host").trusted_keys == (EC1,)
    # A negated name on the line excludes it even when another name matches.
    assert kh.lookup("host", addresses=["10.0.0.9"]).trusted_keys == ()


def test_hash_host_is_hmac_sha1_of_the_name() -> None:
    hashed = hash_host("host.example.com", SALT)
    mac = hmac.new(SALT, b"host.example.com", hashlib.sha1).digest()
    assert hashed == "|1|" + base64.b64encode(SALT).decode() + "|" + base64.b64encode(mac).decode()
    assert hash_host("h") != hash_host("h")  # fresh salt each time
    with pytest.raises(ValueError, match="salt"):
        hash_host("h", b"short")


def test_hashed_entries_match_only_their_name() -> None:
    kh = KnownHosts(
        text(
            f"{hash_host('host.example.com', SALT)} {ED1.to_line()}",
            f"{hash_host('[host.example.com]:2222')} {ED2.to_line()}",
        )
    )
    assert all(e.hashed for e in kh)
    assert kh.lookup("host.example.com").trusted_keys == (ED1,)
    assert kh.lookup("Host.Example.Com").trusted_keys == (ED1,)  # ssh lowercases first
    assert kh.lookup("host.example.com", 2222).trusted_keys == (ED2,)
    assert kh.lookup("host.example.org").trusted_keys == ()
    assert [e.line_number for e in kh.find("host.example.com", 2222)] == [2]


def test_check_statuses() -> None:
    kh = KnownHosts(
        text(
            f"host {ED1.to_line()}",
            f"@revoked host {EC1.to_line()}",
            f"other {EC1.to_line()}",
        )
    )
    assert kh.check("host", 22, ED1) is HostKeyStatus.TRUSTED
    assert kh.check("host", 22, ED2) is HostKeyStatus.CHANGED  # same type, different key
    assert kh.check("host", 22, EC1) is HostKeyStatus.REVOKED
    assert kh.check("other", 22, EC1) is HostKeyStatus.TRUSTED
    assert kh.check("other", 22, generate_private_key("ecdsa", 384).public_key) is (
        HostKeyStatus.UNKNOWN  # ecdsa-sha2-nistp384 is another type than nistp256
    )
    assert kh.check("host", 2222, ED1) is HostKeyStatus.UNKNOWN
    assert kh.check("new", 22, ED1) is HostKeyStatus.UNKNOWN


def test_check_certificates_through_the_hook() -> None:
    kh = KnownHosts(
        text(
            f"@cert-authority *.example.com {CA.to_line()}",
            f"@revoked * {CA2.to_line()}",
            f"plain.example.com {ED1.to_line()}",
        )
    )
    seen: list[tuple[object, str]] = []

    def valid(cert: object, host: str) -> bool:
        seen.append((cert, host))
        return host != "expired.example.com"

    cert = FakeCert(CA, ED2)
    assert kh.check("a.example.com", 22, cert, certificate_valid=valid) is HostKeyStatus.TRUSTED  # type: ignore[arg-type]
    assert seen == [(cert, "a.example.com")]
    # Without the hook the CA path is closed; the plain key is then unknown.
    assert kh.check("a.example.com", 22, cert) is HostKeyStatus.UNKNOWN  # type: ignore[arg-type]
    # The hook says no: fall back to the plain key, as ssh does.
    assert kh.check("expired.example.com", 22, cert, certificate_valid=valid) is (  # type: ignore[arg-type]
        HostKeyStatus.UNKNOWN
    )
    plain_ok = FakeCert(CA, ED1)
    assert kh.check("plain.example.com", 22, plain_ok) is HostKeyStatus.TRUSTED  # type: ignore[arg-type]
    # CA not trusted for this host, and no plain key to fall back on.
    assert kh.check("a.example.org", 22, FakeCert(CA), certificate_valid=valid) is (  # type: ignore[arg-type]
        HostKeyStatus.UNKNOWN
    )
    # A revoked CA revokes every certificate it signed.
    assert kh.check("a.example.com", 22, FakeCert(CA2, ED2), certificate_valid=valid) is (  # type: ignore[arg-type]
        HostKeyStatus.REVOKED
    )
    # A CA key presented as a plain host key is not trusted.
    assert kh.check("a.example.com", 22, CA) is HostKeyStatus.UNKNOWN


def test_add_writes_openssh_lines() -> None:
    kh = KnownHosts()
    entry = kh.add("Host.Example.com", 22, ED1, addresses=["10.0.0.1"])
    b64 = ED1.to_line().split()[1]
    assert entry.line == f"host.example.com,10.0.0.1 ssh-ed25519 {b64}"
    entry = kh.add("h", 2222, ED2)
    assert entry.line.startswith("[h]:2222 ssh-ed25519 ")
    entry = kh.add("h", 22, CA, marker=Marker.CERT_AUTHORITY)
    assert entry.line.startswith("@cert-authority h ssh-ed25519 ")
    hashed = kh.add("secret", 2200, EC1, hashed=True, salt=SALT)
    assert hashed.line == f"{hash_host('[secret]:2200', SALT)} {EC1.to_line()}"
    assert [e.line_number for e in kh] == [1, 2, 3, 4]
    assert kh.check("secret", 2200, EC1) is HostKeyStatus.TRUSTED
    assert kh.check("10.0.0.1", 22, ED1) is HostKeyStatus.TRUSTED
    kh.add("two", 22, ED1, hashed=True, addresses=["192.0.2.1"])
    assert len(kh) == 6
    assert kh.check("192.0.2.1", 22, ED1) is HostKeyStatus.TRUSTED
    with pytest.raises(ValueError, match="invalid host"):
        kh.add("a,b", 22, ED1)
    for bad in ["a b", "", "@revoked", "|1|x", "!neg", "#c", "tab\there"]:
        with pytest.raises(ValueError, match="invalid host"):
            kh.add(bad, 22, ED1)
    with pytest.raises(ValueError, match="invalid host"):
        kh.add("*.example.com", 22, ED1, hashed=True)
    assert kh.add("*.example.com", 22, ED1).hosts == "*.example.com"


def test_find_and_remove_like_ssh_keygen() -> None:
    source = text(
        "# keep me",
        f"a.example.com,b.example.com {ED1.to_line()}",
        f"{hash_host('a.example.com')} {ED2.to_line()}",
        f"*.example.com,!a.example.com {EC1.to_line()}",
        "not a valid line",
        f"c.example.com {ED1.to_line()}",
    )
    kh = KnownHosts(source)
    assert [e.line_number for e in kh.find("a.example.com")] == [2, 3]
    assert [e.line_number for e in kh.find("b.example.com")] == [2, 4]
    removed = kh.remove("a.example.com")
    assert [e.line_number for e in removed] == [2, 3]
    assert [e.line_number for e in kh] == [2, 4]  # renumbered
    assert kh.to_text() == text(
        "# keep me",
        f"*.example.com,!a.example.com {EC1.to_line()}",
        "not a valid line",
        f"c.example.com {ED1.to_line()}",
    )
    assert kh.remove("nothing.here") == []

    marked = KnownHosts(text(f"@revoked h {ED1.to_line()}", f"h {ED2.to_line()}"))
    assert [e.line_number for e in marked.remove("h")] == [2]
    assert [e.marker for e in marked] == [Marker.REVOKED]  # revocations survive, as in -R
    assert len(marked.remove("h", include_markers=True)) == 1
    assert len(marked) == 0


def test_text_round_trip_is_exact() -> None:
    source = text(
        "# c", "", f"h {ED1.to_line('x')}", "junk\x85\u2028", f" @revoked * {ED2.to_line()} "
    )
    assert KnownHosts(source).to_text() == source
    assert split_lines("a\r\nb\x0cc\n") == ["a\r", "b\x0cc"]
    assert len(KnownHosts(f"h {ED1.to_line()}\r\n")) == 1  # CRLF files still parse


def test_load_and_save_atomically(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    assert len(KnownHosts.load(path)) == 0  # missing file: empty
    with pytest.raises(FileNotFoundError):
        KnownHosts.load(path, missing_ok=False)
    path.write_bytes(b"# \xff not utf-8\n" + f"h {ED1.to_line()}\n".encode())
    os.chmod(path, 0o640)
    kh = KnownHosts.load(path)
    kh.add("new", 22, ED2)
    kh.save()
    data = path.read_bytes()
    assert data.startswith(b"# \xff not utf-8\n")
    assert data.endswith(f"new {ED2.to_line()}\n".encode())
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["known_hosts"]  # no temp left
    again = KnownHosts.load(path)
    assert again.check("new", 22, ED2) is HostKeyStatus.TRUSTED

    other = tmp_path / "sub" / "kh"
    with pytest.raises(FileNotFoundError):
        kh.save(other)
    assert not (tmp_path / "sub").exists()
    with pytest.raises(ValueError, match="path"):
        KnownHosts().save()


VALID_LINES = [
    f"host,*.example.com,!bad.example.com {ED1.to_line('c')}",
    f"@cert-authority [h]:2222 {CA.to_line()}",
    f"{hash_host('host', SALT)} {EC1.to_line()}",
    f"@revoked * {ED2.to_line()}",
]


@st.composite
def mutated_line(draw: st.DrawFn) -> str:
    line = draw(st.sampled_from(VALID_LINES))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(line)))
        op = draw(st.sampled_from(["insert", "delete", "replace", "truncate"]))
        ch = draw(st.characters(codec="utf-8", exclude_categories=["Cs"]))
        if op == "insert":
            line = line[:i] + ch + line[i:]
        elif op == "delete":
            line = line[:i] + line[i + 1 :]
        elif op == "replace":
            line = line[:i] + ch + line[i + 1 :]
        else:
            line = line[:i]
    return line


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(st.one_of(mutated_line(), st.text(max_size=80)), max_size=6))
def test_fuzz_never_raises(lines: list[str]) -> None:
    source = "\n".join(lines)
    kh = KnownHosts(source)
    physical = split_lines(source)
    assert len(kh.entries) + len(kh.warnings) <= len(physical)
    for entry in kh:
        assert physical[entry.line_number - 1] == entry.line
    kh.lookup("host", 2222, ["10.0.0.1"])
    kh.check("host", 22, ED1)
    kh.find("bad.example.com")
    assert KnownHosts(kh.to_text()).entries == kh.entries
