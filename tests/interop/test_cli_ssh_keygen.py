"""The ssh-keys command prints what OpenSSH's ssh-keygen prints, byte for byte."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ssh_keys.cli import main

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen"),
]

DATA = b"signed by the ssh-keys command\n"


def keygen(*args: str | Path, data: bytes | None = None) -> tuple[int, str]:
    result = subprocess.run(
        ["ssh-keygen", *map(str, args)], input=data, capture_output=True, timeout=30
    )
    return result.returncode, result.stdout.decode()


def ours(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().out


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keys made by ssh-keygen: private files, .pub files, a PEM key, a certificate."""
    d = tmp_path_factory.mktemp("cli")
    for name, args in {
        "ed25519": ["-t", "ed25519", "-C", "ed@example"],
        "ecdsa": ["-t", "ecdsa", "-b", "384", "-C", ""],
        "rsa": ["-t", "rsa", "-b", "2048", "-C", "rsa key"],
        "pem": ["-t", "rsa", "-b", "2048", "-m", "PEM", "-C", "pem"],
        "ca": ["-t", "ed25519", "-C", "ca"],
    }.items():
        code, _ = keygen("-q", *args, "-N", "", "-f", d / name)
        assert code == 0
    # A private key without its .pub, one with an empty-comment .pub beside it.
    shutil.copy(d / "ed25519", d / "lonely")
    shutil.copy(d / "ecdsa", d / "lonely_ecdsa")
    (d / "lonely").chmod(0o600)
    (d / "lonely_ecdsa").chmod(0o600)
    keygen("-s", d / "ca", "-I", "id", "-n", "a,b", "-V", "20200101:20400101", d / "ed25519.pub")
    keygen("-s", d / "ca", "-I", "h", "-h", "-O", "no-pty", d / "ecdsa.pub")
    ed = (d / "ed25519.pub").read_text().split()
    ec = (d / "ecdsa.pub").read_text().split()
    (d / "mixed").write_text(
        "# authorized_keys and known_hosts lines\n\n"
        f'command="echo hi there",no-pty {ed[0]} {ed[1]} alice\n'
        f"restrict {ec[0]} {ec[1]} #not a comment\n"
        f"host1,10.0.0.1 {ed[0]} {ed[1]}\n"
        f"|1|Z7Ps0ZQ7Ci9vxN1D7wP7hTtsCyk=|ZKCfUxmYlZAkWk8FWLYqg3/8GQg= {ec[0]} {ec[1]}\n"
        f"@cert-authority *.example {ed[0]} {ed[1]}\n"
        "garbage\n"
        f"{ec[0]} {ec[1]}   spaced  comment \n"
        f"{(d / 'ed25519-cert.pub').read_text()}"
    )
    return d


FINGERPRINT_FILES = [
    "ed25519",
    "ed25519.pub",
    "ecdsa",
    "rsa",
    "rsa.pub",
    "pem",
    "lonely",
    "lonely_ecdsa",
    "mixed",
    "ed25519-cert.pub",
    "ecdsa-cert.pub",
]


@pytest.mark.parametrize("name", FINGERPRINT_FILES)
@pytest.mark.parametrize("options", [(), ("-E", "md5"), ("-v",), ("-E", "md5", "-v")])
def test_fingerprint_matches_ssh_keygen_l(
    work: Path, capsys: pytest.CaptureFixture[str], name: str, options: tuple[str, ...]
) -> None:
    path = work / name
    if name == "pem":
        (work / "pem.pub").unlink(missing_ok=True)
    expected = keygen("-l", *options, "-f", path)
    assert expected[0] == 0
    assert ours(capsys, "fingerprint", *options, path) == expected


@pytest.mark.parametrize("name", ["ed25519", "ecdsa", "rsa", "pem", "lonely"])
def test_public_matches_ssh_keygen_y(
    work: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    expected = keygen("-y", "-f", work / name)
    assert expected[0] == 0
    assert ours(capsys, "public", work / name) == expected


def test_public_of_encrypted_key(
    work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "enc"
    keygen("-q", "-t", "ed25519", "-N", "pass phrase", "-C", "enc", "-f", path)
    pw = tmp_path / "pw"
    pw.write_text("pass phrase\n")
    expected = keygen("-y", "-P", "pass phrase", "-f", path)
    assert ours(capsys, "public", "--passphrase-file", pw, path) == expected
    # ssh-keygen -l does not need the passphrase: the public key is in the clear.
    path.with_suffix(".pub").unlink()
    assert ours(capsys, "fingerprint", path) == keygen("-l", "-f", path)


def test_cert_inspect_matches_ssh_keygen_L(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    both = work / "both-certs"
    both.write_text((work / "ed25519-cert.pub").read_text() + (work / "ecdsa-cert.pub").read_text())
    for path in (work / "ed25519-cert.pub", work / "ecdsa-cert.pub", both):
        expected = keygen("-L", "-f", path)
        assert expected[0] == 0
        assert ours(capsys, "cert", "inspect", path) == expected


def test_cert_sign_like_ssh_keygen_s(
    work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Same options to both: ssh-keygen -L shows the same certificate (nonce aside)."""
    options = [
        "-I", "user id", "-n", "alice,bob", "-V", "-1d:20991231", "-z", "5",
        "-O", "clear", "-O", "permit-pty", "-O", "force-command=/bin/true",
        "-O", "source-address=10.0.0.0/8", "-O", "extension:x@example=v", "-O", "no-touch-required",
    ]  # fmt: skip
    theirs_dir, ours_dir = tmp_path / "theirs", tmp_path / "ours"
    for d in (theirs_dir, ours_dir):
        d.mkdir()
        shutil.copy(work / "rsa.pub", d / "key.pub")
    keygen("-s", work / "ca", *options, theirs_dir / "key.pub")
    assert main(["cert", "sign", "-s", str(work / "ca"), *options, str(ours_dir / "key.pub")]) == 0
    capsys.readouterr()

    def shown(d: Path) -> list[str]:
        lines = keygen("-L", "-f", d / "key-cert.pub")[1].splitlines()[1:]
        # -1d is relative to when each ran; compare the rest of the validity line.
        return [line.split(" to ")[-1] if "Valid:" in line else line for line in lines]

    assert shown(ours_dir) == shown(theirs_dir)
    theirs_line = (theirs_dir / "key-cert.pub").read_text().split()
    ours_line = (ours_dir / "key-cert.pub").read_text().split()
    assert ours_line[0] == theirs_line[0]
    assert ours_line[2:] == theirs_line[2:]  # the comment


def test_sign_verify_both_ways(
    work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.write_bytes(DATA)
    allowed = tmp_path / "allowed"
    lines = [
        f"{who}@example {' '.join((work / f'{name}.pub').read_text().split()[:2])}"
        for who, name in (("ed", "ed25519"), ("ec", "ecdsa"), ("rsa", "rsa"))
    ]
    allowed.write_text("\n".join(lines) + "\n")
    for who, name in (("ed", "ed25519"), ("ec", "ecdsa"), ("rsa", "rsa")):
        ident = f"{who}@example"
        verify = ("-f", allowed, "-I", ident, "-n", "file", "-s", f"{data}.sig")
        # ours signs, ssh-keygen verifies; then both print the same verdict.
        Path(f"{data}.sig").unlink(missing_ok=True)
        assert main(["sign", "-f", str(work / name), "-n", "file", str(data)]) == 0
        capsys.readouterr()
        expected = keygen("-Y", "verify", *verify, data=DATA)
        assert expected[0] == 0
        assert expected[1].startswith(f'Good "file" signature for {ident} with ')
        assert ours(capsys, "verify", *verify, data) == expected
        # ssh-keygen signs, ours verifies.
        Path(f"{data}.sig").unlink()
        assert keygen("-Y", "sign", "-f", work / name, "-n", "file", data)[0] == 0
        assert ours(capsys, "verify", *verify, data) == expected
        # A wrong identity: both refuse with the same stdout.
        wrong = ("-f", allowed, "-I", "nobody", "-n", "file", "-s", f"{data}.sig")
        refused = keygen("-Y", "verify", *wrong, data=DATA)
        assert refused[1] == "Could not verify signature.\n"
        assert ours(capsys, "verify", *wrong, data) == (1, refused[1])


def test_known_hosts_find_and_hash(
    work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    known = tmp_path / "known_hosts"
    shutil.copy(work / "mixed", known)
    with known.open("a") as f:
        ed = (work / "ed25519.pub").read_text().split()
        f.write(f"[host1]:2222 {ed[0]} {ed[1]}\n@revoked host1 {ed[0]} {ed[1]}\n")
    text = known.read_text()
    known.write_text("\n".join(x for x in text.splitlines() if x != "garbage") + "\n")
    for host in ("host1", "10.0.0.1", "[host1]:2222", "a.example", "nowhere", "HOST1"):
        expected = keygen("-F", host, "-f", known)
        assert ours(capsys, "known-hosts", "find", host, "-f", known) == (
            0 if expected[1] else 1,
            expected[1],
        )
    # authorized_keys lines are no known_hosts lines: both refuse to hash this file.
    assert keygen("-H", "-f", known)[0] == 1
    assert main(["known-hosts", "hash", "-f", str(known)]) == 1
    known.write_text(
        "".join(
            x + "\n"
            for x in known.read_text().splitlines()
            if x[:1] in ("", "#", "h", "|", "@", "[")
        )
    )
    # Hashed by us, found by ssh-keygen at the same places as in its own hashed copy.
    theirs = tmp_path / "theirs"
    shutil.copy(known, theirs)
    assert keygen("-H", "-f", theirs)[0] == 0
    assert main(["known-hosts", "hash", "-f", str(known)]) == 0
    assert known.read_text().count("\n") == theirs.read_text().count("\n")
    for host in ("host1", "10.0.0.1", "[host1]:2222", "a.example"):
        found = keygen("-F", host, "-f", known)[1].splitlines()
        expected_lines = keygen("-F", host, "-f", theirs)[1].splitlines()
        assert [x for x in found if x.startswith("#")] == [
            x for x in expected_lines if x.startswith("#")
        ]
