"""The ssh-keys command, run in-process through main()."""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ssh_keys import cli, dump_ppk, generate_private_key, parse_public_key_line
from ssh_keys.certificate import FOREVER, Certificate, CertType
from ssh_keys.cli import _cert_options, _join_dash_values, main, parse_validity
from ssh_keys.keyfile import load_private_key, write_private_key_file
from ssh_keys.known_hosts import KnownHosts

NOW = int(datetime(2024, 6, 1, 12, 0, 30, tzinfo=timezone.utc).timestamp())


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def set_stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


@pytest.fixture
def keypair(tmp_path: Path) -> Path:
    """An unencrypted ed25519 key at tmp/id with id.pub."""
    key = generate_private_key("ed25519", comment="me@example")
    path = tmp_path / "id"
    write_private_key_file(path, key)
    (tmp_path / "id.pub").write_text(key.public_key.to_line("me@example") + "\n")
    return path


# -- generate -----------------------------------------------------------------------------


def test_generate_writes_private_0600_and_pub(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "k"
    code, out, err = run(capsys, "generate", "-f", path, "-N", "", "-C", "c1")
    assert (code, err) == (0, "")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = load_private_key(path.read_bytes())
    line = (tmp_path / "k.pub").read_text()
    assert line == key.public_key.to_line("c1") + "\n"
    assert out.startswith("Generating public/private ed25519 key pair.\n")
    assert f"{key.public_key.fingerprint()} c1\n" in out
    assert "+--[ED25519 256]--+" in out


def test_generate_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "k"
    (tmp_path / "k.pub").write_text("keep me")
    code, _out, err = run(capsys, "generate", "-q", "-f", path, "-N", "")
    assert code == 1
    assert err == f"ssh-keys: {path}.pub already exists (use --force to overwrite)\n"
    assert not path.exists()
    code, _, _ = run(capsys, "generate", "-q", "-f", path, "-N", "", "--force")
    assert code == 0
    assert (tmp_path / "k.pub").read_text().startswith("ssh-ed25519 ")


@pytest.mark.parametrize(
    ("args", "algorithm", "bits"),
    [(("-t", "ecdsa", "-b", "384"), "ecdsa-sha2-nistp384", 384), (("-t", "ecdsa"), None, 256)],
)
def test_generate_types(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    algorithm: str | None,
    bits: int,
) -> None:
    code, _, _ = run(capsys, "generate", "-q", *args, "-f", tmp_path / "k", "-N", "")
    assert code == 0
    key = parse_public_key_line((tmp_path / "k.pub").read_text()).key
    assert key.bits == bits
    if algorithm:
        assert key.algorithm == algorithm


def test_generate_bad_size_is_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "generate", "-t", "rsa", "-b", "1024", "-f", tmp_path / "k")
    assert code == 2
    assert err.startswith("ssh-keys: RSA key size")
    assert not (tmp_path / "k").exists()


def test_generate_without_passphrase_or_terminal_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "generate", "-q", "-f", tmp_path / "k")
    assert code == 1
    assert "-N ''" in err
    assert "--passphrase-file" in err
    assert not (tmp_path / "k").exists()


@pytest.mark.parametrize("fmt", ["openssh", "pem", "pkcs8", "ppk"])
def test_generate_encrypted_formats_and_public(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    pw = tmp_path / "pw"
    pw.write_text("s3cret phrase\n")
    path = tmp_path / "k"
    args = ("-t", "ecdsa") if fmt == "pem" else ()
    code, _, err = run(
        capsys, "generate", "-q", *args, "-f", path, "--passphrase-file", pw, "--format", fmt
    )
    assert (code, err) == (0, "")
    pub = (tmp_path / "k.pub").read_text()
    # Encrypted: no passphrase and no terminal is a clear error, not a prompt or a traceback.
    code, out, err = run(capsys, "public", path)
    assert (code, out) == (1, "")
    assert err.startswith(f"ssh-keys: {path}: ")
    assert "--passphrase-file" in err
    code, out, _ = run(capsys, "public", path, "--passphrase-file", pw)
    assert code == 0
    assert out.split()[:2] == pub.split()[:2]
    code, _, err = run(capsys, "public", path, "-P", "wrong")
    assert code == 1
    assert err == f"ssh-keys: {path}: incorrect passphrase supplied to decrypt private key\n"


# -- fingerprint / public -----------------------------------------------------------------


def test_fingerprint_pub_and_private(keypair: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = parse_public_key_line((keypair.parent / "id.pub").read_text()).key
    expected = f"256 {key.fingerprint()} me@example (ED25519)\n"
    assert run(capsys, "fingerprint", f"{keypair}.pub") == (0, expected, "")
    assert run(capsys, "fingerprint", keypair) == (0, expected, "")
    # Without the .pub the comment comes from the private key.
    os.unlink(f"{keypair}.pub")
    assert run(capsys, "fingerprint", keypair) == (0, expected, "")
    _code, out, _ = run(capsys, "fingerprint", "-E", "md5", "-v", keypair)
    lines = out.splitlines()
    assert lines[0] == f"256 {key.fingerprint('md5')} me@example (ED25519)"
    assert lines[1] == "+--[ED25519 256]--+"
    assert lines[-1] == "+------[MD5]------+"
    assert len(lines) == 12


def test_fingerprint_multi_line_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = generate_private_key("ed25519").public_key
    b = generate_private_key("ecdsa").public_key
    text = (
        "# comment\n\n"
        f'command="echo hi there",no-pty {a.to_line("alice")}\n'
        f"host1,host2 {b.to_line()}\n"
        "not a key at all\n"
        f"@cert-authority *.example {a.to_line()}\n"
        f"{b.to_line('  spaced  comment ')}\n"
    )
    path = tmp_path / "keys"
    path.write_text(text)
    code, out, err = run(capsys, "fingerprint", path)
    assert (code, err) == (0, "")
    assert out == (
        f"256 {a.fingerprint()} alice (ED25519)\n"
        f"256 {b.fingerprint()} host1,host2 (ECDSA)\n"
        f"256 {b.fingerprint()} spaced  comment  (ECDSA)\n"
    )


def test_fingerprint_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk"
    junk.write_text("nothing here\n")
    assert run(capsys, "fingerprint", junk) == (
        1,
        "",
        f"ssh-keys: {junk} is not a public key file.\n",
    )
    missing = tmp_path / "missing"
    assert run(capsys, "fingerprint", missing) == (
        1,
        "",
        f"ssh-keys: {missing}: No such file or directory\n",
    )


def test_fingerprint_stdin(
    keypair: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    set_stdin(monkeypatch, (keypair.parent / "id.pub").read_bytes())
    code, out, _ = run(capsys, "fingerprint", "-")
    assert code == 0
    assert out.endswith(" me@example (ED25519)\n")


def test_public(keypair: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "public", keypair) == (0, (keypair.parent / "id.pub").read_text(), "")


# -- convert ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["pem", "pkcs8", "ppk", "openssh"])
def test_convert_private_round_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    original = generate_private_key("ecdsa", comment="c")
    path = tmp_path / "k"
    write_private_key_file(path, original)
    out_path = tmp_path / f"out.{fmt}"
    code, out, err = run(capsys, "convert", "--to", fmt, path, "-o", out_path)
    assert (code, out, err) == (0, "", "")
    assert stat.S_IMODE(out_path.stat().st_mode) == 0o600
    assert load_private_key(out_path.read_bytes()).public_key == original.public_key
    # Refuses to overwrite without --force.
    code, _, err = run(capsys, "convert", "--to", fmt, path, "-o", out_path)
    assert code == 1
    assert "already exists" in err
    assert run(capsys, "convert", "--to", fmt, path, "-o", out_path, "--force")[0] == 0


def test_convert_unsupported_is_a_clean_error(
    keypair: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "convert", "--to", "pem", keypair) == (
        1,
        "",
        "ssh-keys: Ed25519 keys have no traditional PEM form; use pkcs8\n",
    )


def test_convert_keeps_or_changes_passphrase(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = generate_private_key("ecdsa", comment="c")
    path = tmp_path / "k"
    write_private_key_file(path, key, passphrase=b"old")
    code, out, _ = run(capsys, "convert", "--to", "pkcs8", "-P", "old", path)
    assert code == 0
    assert "ENCRYPTED PRIVATE KEY" in out
    assert load_private_key(out, b"old").public_key == key.public_key
    code, out, _ = run(capsys, "convert", "--to", "pem", "-P", "old", "-N", "", path)
    assert code == 0
    assert "ENCRYPTED" not in out
    assert load_private_key(out).public_key == key.public_key


def test_convert_public(keypair: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pub = Path(f"{keypair}.pub")
    code, out, _ = run(capsys, "convert", "--to", "rfc4716", pub)
    assert code == 0
    assert out.startswith('---- BEGIN SSH2 PUBLIC KEY ----\nComment: "me@example"')
    rfc = keypair.parent / "k.rfc"
    rfc.write_text(out)
    # RFC 4716 back to an OpenSSH line, comment included.
    assert run(capsys, "convert", "--to", "openssh", rfc) == (0, pub.read_text(), "")
    code, out, _ = run(capsys, "convert", "--to", "pkcs8", pub)
    assert code == 0
    assert out.startswith("-----BEGIN PUBLIC KEY-----\n")
    code, out, err = run(capsys, "convert", "--to", "ppk", pub)
    assert (code, out) == (2, "")
    assert err.startswith("ssh-keys: a PPK file holds a private key")
    # fingerprint reads RFC 4716 too
    code, out, _ = run(capsys, "fingerprint", rfc)
    assert code == 0
    assert out.endswith(" me@example (ED25519)\n")


# -- certificates -------------------------------------------------------------------------


def test_parse_validity_forms() -> None:
    after, before = parse_validity("+1h", NOW)
    assert before == NOW + 3600
    assert after == (NOW - 59) // 60 * 60
    assert after <= NOW
    assert parse_validity("-1d:+52w", NOW) == (NOW - 86400, NOW + 52 * 7 * 86400)
    assert parse_validity("always:forever", NOW) == (0, FOREVER)
    assert parse_validity("-1h30m:+90", NOW) == (NOW - 5400, NOW + 90)
    assert parse_validity("0x10:0x20", NOW) == (16, 32)
    start = int(datetime(2024, 1, 1, tzinfo=timezone.utc).timestamp())
    end = int(datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc).timestamp())
    assert parse_validity("20240101Z:20250102030405Z", NOW) == (start, end)


@pytest.mark.parametrize("spec", ["+1x", "1h", "20240101", ":+1h", "+1h:", "+1d:-1d", "bad:ok"])
def test_parse_validity_rejects(spec: str) -> None:
    from ssh_keys.cli import UsageError

    with pytest.raises(UsageError):
        parse_validity(spec, NOW)


def test_cert_options() -> None:
    critical, ext = _cert_options(["no-pty", "force-command=/bin/ls"], CertType.USER)
    assert critical == {"force-command": "/bin/ls"}
    assert "permit-pty" not in ext
    assert "permit-agent-forwarding" in ext
    critical, ext = _cert_options(
        ["clear", "permit-X11-forwarding", "extension:a@b=v", "critical:c@d", "verify-required"],
        CertType.USER,
    )
    assert ext == {"permit-X11-forwarding": "", "a@b": "v"}
    assert critical == {"c@d": "", "verify-required": ""}
    assert _cert_options([], CertType.HOST) == ({}, {})


def test_dash_values_joined() -> None:
    assert _join_dash_values(["cert", "sign", "-V", "-1d:+1w", "-N", "-pw", "x"]) == [
        "cert",
        "sign",
        "-V=-1d:+1w",
        "-N=-pw",
        "x",
    ]


def test_cert_sign_and_inspect(
    keypair: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = generate_private_key("ed25519")
    write_private_key_file(tmp_path / "ca", ca)
    pub = Path(f"{keypair}.pub")
    code, out, err = run(
        capsys,
        "cert", "sign", "-s", tmp_path / "ca", "-I", "key id", "-n", "alice,bob",
        "-V", "20240101Z:20250101Z", "-z", "42", "-O", "no-pty", "-O", "source-address=10.0.0.0/8",
        pub,
    )  # fmt: skip
    cert_path = tmp_path / "id-cert.pub"
    assert code == 0
    assert out == ""
    assert err.startswith(
        f'Signed user key {cert_path}: id "key id" serial 42 for alice,bob valid '
    )
    line = parse_public_key_line(cert_path.read_text())
    cert = line.key
    assert isinstance(cert, Certificate)
    assert line.comment == "me@example"
    assert cert.valid_principals == ("alice", "bob")
    assert cert.serial == 42
    assert cert.signature_key == ca.public_key
    assert "permit-pty" not in cert.extensions
    assert cert.source_address == "10.0.0.0/8"

    code, out, err = run(capsys, "cert", "inspect", cert_path)
    assert code == 0
    assert err == ""
    assert out.startswith(f"{cert_path}:\n        Type: ssh-ed25519-cert-v01@openssh.com user cert")
    assert '        Key ID: "key id"\n' in out
    assert "        Serial: 42\n" in out

    # Not a certificate: message and exit 1.
    code, out, err = run(capsys, "cert", "inspect", pub)
    assert (code, out, err) == (1, "", f"ssh-keys: {pub}:1 is not a certificate\n")


def test_cert_sign_host_forever(
    keypair: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca = generate_private_key("ecdsa")
    write_private_key_file(tmp_path / "ca", ca)
    code, _, err = run(
        capsys, "cert", "sign", "-s", tmp_path / "ca", "-I", "h", "-h", f"{keypair}.pub"
    )
    assert code == 0
    assert err.endswith(" valid forever\n")
    cert = parse_public_key_line((tmp_path / "id-cert.pub").read_text()).key
    assert isinstance(cert, Certificate)
    assert cert.cert_type == CertType.HOST
    assert cert.extensions == {}


# -- SSHSIG -------------------------------------------------------------------------------


def test_sign_and_verify(
    keypair: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = tmp_path / "data"
    data.write_bytes(b"hello\n")
    code, out, err = run(capsys, "sign", "-f", keypair, "-n", "file", data)
    assert (code, out) == (0, "")
    assert err == f"Signing file {data}\nWrite signature to {data}.sig\n"
    code, _, err = run(capsys, "sign", "-f", keypair, "-n", "file", data)
    assert code == 1
    assert "already exists" in err

    key = parse_public_key_line(Path(f"{keypair}.pub").read_text()).key
    allowed = tmp_path / "allowed"
    allowed.write_text(f"me@x {key.to_line()}\n")
    base = ("verify", "-f", allowed, "-n", "file", "-s", f"{data}.sig")
    good = f'Good "file" signature for me@x with ED25519 key {key.fingerprint()}\n'
    assert run(capsys, *base, "-I", "me@x", data) == (0, good, "")
    set_stdin(monkeypatch, b"hello\n")
    assert run(capsys, *base, "-I", "me@x") == (0, good, "")
    code, out, err = run(capsys, *base, "-I", "other", data)
    assert (code, out) == (1, "Could not verify signature.\n")
    assert err.startswith("ssh-keys: ")
    data.write_bytes(b"tampered\n")
    code, out, _ = run(capsys, *base, "-I", "me@x", data)
    assert (code, out) == (1, "Could not verify signature.\n")


def test_sign_stdin_sha256(
    keypair: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ssh_keys.sshsig import parse_signature, verify

    set_stdin(monkeypatch, b"data")
    code, out, err = run(capsys, "sign", "-f", keypair, "-n", "ns", "-O", "hashalg=sha256")
    assert code == 0
    assert err == "Signing data on standard input\n"
    assert parse_signature(out).hash_algorithm == "sha256"
    verify(b"data", out, "ns")


# -- known_hosts --------------------------------------------------------------------------


@pytest.fixture
def known_hosts(tmp_path: Path) -> tuple[Path, str]:
    key = generate_private_key("ed25519").public_key.to_line()
    text = (
        "# comment\n"
        f"Host1,host2,10.0.0.1 {key} c1\n"
        f"@cert-authority *.x {key}\n"
        f"[host1]:2222 {key}\n"
        f"*.wild {key}\n"
        f"@revoked host1 {key}\n"
    )
    path = tmp_path / "known_hosts"
    path.write_text(text)
    return path, key


def test_known_hosts_find(
    known_hosts: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, key = known_hosts
    assert run(capsys, "known-hosts", "find", "host1", "-f", path) == (
        0,
        f"# Host host1 found: line 2 \nHost1,host2,10.0.0.1 {key} c1\n"
        f"# Host host1 found: line 6 REVOKED\n@revoked host1 {key}\n",
        "",
    )
    assert (
        run(capsys, "known-hosts", "find", "[host1]:2222", "-f", path)[1]
        == f"# Host [host1]:2222 found: line 4 \n[host1]:2222 {key}\n"
    )
    out = run(capsys, "known-hosts", "find", "a.x", "-f", path)[1]
    assert out.startswith("# Host a.x found: line 3 CA\n@cert-authority")
    assert run(capsys, "known-hosts", "find", "nope", "-f", path) == (1, "", "")


def test_known_hosts_hash(
    known_hosts: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path, key = known_hosts
    original = path.read_text()
    path.chmod(0o640)
    code, out, err = run(capsys, "known-hosts", "hash", "-f", path)
    assert (code, out) == (0, "")
    assert f"{path} updated.\nOriginal contents retained as {path}.old\n" in err
    assert "ignoring host name with wildcard: *.wild" in err
    assert Path(f"{path}.old").read_text() == original
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    lines = path.read_text().splitlines()
    assert len(lines) == 8  # three names of line 2 became three lines
    assert lines[0] == "# comment"
    assert all(line.startswith("|1|") and line.endswith(f"{key} c1") for line in lines[1:4])
    assert lines[4] == original.splitlines()[2]  # @cert-authority lines are kept
    assert lines[5].startswith("|1|")  # [host1]:2222
    assert lines[6:] == original.splitlines()[4:]
    known = KnownHosts.load(path)
    for name in ("host1", "host2", "10.0.0.1"):
        assert known.find(name)[0].line_number in (2, 3, 4)
    assert known.find("[host1]:2222")[0].hashed


def test_known_hosts_hash_refuses_invalid_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "kh"
    path.write_text("host ssh-ed25519 notbase64!\n")
    code, _, err = run(capsys, "known-hosts", "hash", "-f", path)
    assert code == 1
    assert "not a valid known_hosts file" in err
    assert path.read_text() == "host ssh-ed25519 notbase64!\n"
    assert not Path(f"{path}.old").exists()


# -- the command itself -------------------------------------------------------------------


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys)[0] == 2
    code, _, err = run(capsys, "bogus")
    assert code == 2
    assert "invalid choice" in err
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert "fingerprint" in out
    assert run(capsys, "fingerprint", "-E", "sha1", "x")[0] == 2


def test_python_dash_m(keypair: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ssh_keys", "fingerprint", f"{keypair}.pub"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert result.stdout.endswith(" me@example (ED25519)\n")
    result = subprocess.run(
        [sys.executable, "-m", "ssh_keys", "public", str(keypair.parent / "nope")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("ssh-keys: ")
    assert "Traceback" not in result.stderr


# -- fingerprints of encrypted private keys need no passphrase ------------------------------

_PUTTYGEN = shutil.which("puttygen")
_SSH_KEYGEN = shutil.which("ssh-keygen")


@pytest.fixture
def never_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    """A terminal to ask on, and a failure if anything asks."""

    def ask(prompt: str, what: str) -> bytes:
        raise AssertionError(f"asked for a passphrase: {prompt}")

    monkeypatch.setattr(cli, "_can_prompt", lambda: True)
    monkeypatch.setattr(cli, "_ask", ask)


@pytest.mark.interop
@pytest.mark.skipif(_PUTTYGEN is None, reason="puttygen (putty-tools) missing")
@pytest.mark.parametrize(("kind", "bits"), [("ed25519", None), ("ecdsa", "384"), ("rsa", "2048")])
@pytest.mark.parametrize("comment", ["putty enc", ""])
def test_fingerprint_encrypted_ppk_needs_no_passphrase(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    never_prompt: None,
    kind: str,
    bits: str | None,
    comment: str,
) -> None:
    assert _PUTTYGEN is not None
    (tmp_path / "pw").write_text("secret\n")
    path = tmp_path / "k.ppk"
    extra = ["-b", bits] if bits else []
    subprocess.run(
        [_PUTTYGEN, "-t", kind, *extra, "-C", comment, "-o", path,
         "--new-passphrase", tmp_path / "pw"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    assert b"Encryption: aes256-cbc" in path.read_bytes()
    # PuTTYgen itself reads the public half without the passphrase.
    line = subprocess.run(
        [_PUTTYGEN, "-O", "public-openssh", path], check=True, capture_output=True, text=True,
        timeout=60, stdin=subprocess.DEVNULL,
    ).stdout  # fmt: skip
    key = parse_public_key_line(line).key
    code, out, err = run(capsys, "fingerprint", path)
    assert (code, err) == (0, "")
    shown = comment or "no comment"
    assert out == f"{key.bits} {key.fingerprint()} {shown} ({key.key_type_label})\n"


@pytest.mark.parametrize("fmt", ["openssh", "ppk"])
def test_fingerprint_encrypted_keys_of_ours_need_no_passphrase(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], never_prompt: None, fmt: str
) -> None:
    key = generate_private_key("ed25519", comment="inside")
    path = tmp_path / "k"
    if fmt == "ppk":
        path.write_bytes(dump_ppk(key, "pw", argon2_memory=8, argon2_passes=1))
    else:
        write_private_key_file(path, key, passphrase="pw", rounds=2)
    code, out, err = run(capsys, "fingerprint", path)
    assert (code, err) == (0, "")
    # A PPK comment is in clear; OpenSSH's is encrypted, so ssh-keygen shows none either.
    shown = "inside" if fmt == "ppk" else "no comment"
    assert out == f"256 {key.public_key.fingerprint()} {shown} (ED25519)\n"


@pytest.mark.interop
@pytest.mark.skipif(_SSH_KEYGEN is None, reason="ssh-keygen missing")
def test_fingerprint_encrypted_openssh_key_matches_ssh_keygen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], never_prompt: None
) -> None:
    assert _SSH_KEYGEN is not None
    path = tmp_path / "id"
    subprocess.run(
        [_SSH_KEYGEN, "-q", "-t", "ecdsa", "-N", "pw", "-C", "c", "-f", path],
        check=True, capture_output=True,
    )  # fmt: skip
    path.with_suffix(".pub").unlink()
    expected = subprocess.run(
        [_SSH_KEYGEN, "-l", "-f", path], check=True, capture_output=True, text=True,
        stdin=subprocess.DEVNULL,
    ).stdout  # fmt: skip
    code, out, err = run(capsys, "fingerprint", path)
    assert (code, out, err) == (0, expected, "")
