"""Key file formats against OpenSSH's ssh-keygen, both directions.

Keys ssh-keygen makes (every type and size, plain and passphrase-protected,
openssh / PEM / PKCS8, RFC 4716 and PEM public exports) load here with the
fingerprints ssh-keygen prints; keys we write are read by ``ssh-keygen -y``,
``-l``, ``-i`` and ``-p``.
"""

from __future__ import annotations

import base64
import contextlib
import os
import random
import shutil
import socket
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from openssh_tools import close_listener

from ssh_keys import (
    KeyFormatError,
    PassphraseRequired,
    PrivateKey,
    UnsupportedAlgorithm,
    WrongPassphrase,
    parse_public_key_line,
)
from ssh_keys.keyfile import (
    load_private_key,
    load_public_key,
    read_private_key_file,
    write_private_key_file,
)
from ssh_keys.openssh_private import CIPHERS, encode_openssh_private_key
from ssh_keys.pem import encode_pem_public_key
from ssh_keys.private_wire import read_private_entry, write_private_fields
from ssh_keys.rfc4716 import encode_rfc4716_public_key
from ssh_wire import Reader

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen"),
]

PW = "interop pass"  # ssh-keygen wants at least 5 characters for PEM
TYPES = {
    "ed25519": ["-t", "ed25519"],
    "ecdsa256": ["-t", "ecdsa", "-b", "256"],
    "ecdsa384": ["-t", "ecdsa", "-b", "384"],
    "ecdsa521": ["-t", "ecdsa", "-b", "521"],
    "rsa2048": ["-t", "rsa", "-b", "2048"],
    "rsa3072": ["-t", "rsa", "-b", "3072"],
    "dsa": ["-t", "dsa"],  # OpenSSH 9.2 still makes DSA keys
}
# ssh-keygen writes ed25519 in openssh format whatever -m says.
VARIANTS = ["openssh", "openssh-pw", "pem", "pem-pw", "pkcs8", "pkcs8-pw"]

ERRORS = (KeyFormatError, UnsupportedAlgorithm, WrongPassphrase, PassphraseRequired)


def keygen(*args: str | Path, check: bool = True) -> str:
    result = subprocess.run(["ssh-keygen", *map(str, args)], capture_output=True, timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"ssh-keygen {args} failed: {result.stderr.decode()}")
    return result.stdout.decode()


def fingerprint(path: Path) -> str:
    """The SHA256 fingerprint from ``ssh-keygen -l -f``."""
    return keygen("-l", "-f", path).split()[1]


@dataclass(frozen=True)
class Made:
    path: Path
    passphrase: str | None
    fingerprint: str
    comment: str


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Made]:
    """One key per type from ssh-keygen, re-saved in each format with ``ssh-keygen -p``."""
    work = tmp_path_factory.mktemp("keygen")
    out: dict[tuple[str, str], Made] = {}
    for name, args in TYPES.items():
        base = work / name
        comment = f"{name} made by ssh-keygen"
        keygen(*args, "-q", "-N", "", "-C", comment, "-f", base)
        fp = fingerprint(base.with_suffix(".pub"))
        for variant in VARIANTS:
            if name == "ed25519" and variant not in ("openssh", "openssh-pw"):
                continue
            path = work / f"{name}.{variant}"
            shutil.copy(base, path)
            path.chmod(0o600)
            fmt = variant.split("-")[0]
            pw = PW if variant.endswith("-pw") else None
            if fmt != "openssh" or pw:
                # -p rewrites the key, in the format -m names (openssh without -m).
                extra = ["-m", fmt.upper()] if fmt != "openssh" else []
                keygen("-p", "-q", "-a", "4", "-P", "", "-N", pw or "", *extra, "-f", path)
            out[name, variant] = Made(path, pw, fp, comment)
    return out


def _cases() -> list[tuple[str, str]]:
    return [
        (n, v)
        for n in TYPES
        for v in VARIANTS
        if not (n == "ed25519" and v not in ("openssh", "openssh-pw"))
    ]


@pytest.mark.parametrize(("name", "variant"), _cases())
def test_load_what_ssh_keygen_writes(
    made: dict[tuple[str, str], Made], name: str, variant: str
) -> None:
    m = made[name, variant]
    data = m.path.read_bytes()
    if variant.startswith("pem"):
        assert b"-----BEGIN OPENSSH" not in data
        assert (b"Proc-Type: 4,ENCRYPTED" in data) == bool(m.passphrase)
    if variant.startswith("pkcs8"):
        label = b"ENCRYPTED PRIVATE KEY" if m.passphrase else b"-----BEGIN PRIVATE KEY"
        assert label in data
    key = load_private_key(data, m.passphrase)
    assert key.public_key.fingerprint() == m.fingerprint
    if variant.startswith("openssh"):
        assert key.comment == m.comment
    if m.passphrase:
        with pytest.raises(PassphraseRequired):
            load_private_key(data)
        with pytest.raises(WrongPassphrase):
            load_private_key(data, m.passphrase + "!")


def _loaded(made: dict[tuple[str, str], Made], name: str) -> PrivateKey:
    return load_private_key(made[name, "openssh"].path.read_bytes())


_WRITE_CASES = [
    (n, fmt, pw)
    for n in TYPES
    for fmt in ("openssh", "pem", "pkcs8")
    for pw in (None, PW)
    if not (n == "ed25519" and fmt != "openssh")  # ssh-keygen 9.2 reads no PEM ed25519
]


@pytest.mark.parametrize(("name", "fmt", "pw"), _WRITE_CASES)
def test_ssh_keygen_reads_what_we_write(
    made: dict[tuple[str, str], Made], tmp_path: Path, name: str, fmt: str, pw: str | None
) -> None:
    key = _loaded(made, name)
    path = tmp_path / "ours"
    write_private_key_file(path, key, fmt, pw, rounds=4)
    line = keygen("-y", "-P", pw or "", "-f", path).strip()
    assert parse_public_key_line(line).key == key.public_key
    if fmt == "openssh":
        # ssh-keygen -l reads the clear public part of an openssh file, even encrypted.
        assert fingerprint(path) == made[name, "openssh"].fingerprint
        if pw is None:
            assert line.endswith(key.comment)
    if pw:
        result = subprocess.run(
            ["ssh-keygen", "-y", "-P", "wrong pass", "-f", str(path)],
            capture_output=True,
            timeout=30,
        )
        assert result.returncode != 0


def test_ssh_keygen_rewrites_our_file(made: dict[tuple[str, str], Made], tmp_path: Path) -> None:
    """ssh-keygen -p decrypts our file and re-encrypts it; we read its result."""
    key = _loaded(made, "ecdsa384")
    path = tmp_path / "ours"
    write_private_key_file(path, key, "openssh", "first pass", rounds=4)
    keygen("-p", "-q", "-a", "4", "-P", "first pass", "-N", "second pass", "-f", path)
    back = read_private_key_file(path, "second pass")
    assert back.public_key == key.public_key
    assert back.comment == key.comment


@pytest.mark.parametrize("cipher", sorted(CIPHERS))
def test_each_cipher_both_ways(
    made: dict[tuple[str, str], Made], tmp_path: Path, cipher: str
) -> None:
    key = _loaded(made, "ed25519")
    ours = tmp_path / "ours"
    write_private_key_file(ours, key, "openssh", PW, cipher=cipher, rounds=4)
    assert parse_public_key_line(keygen("-y", "-P", PW, "-f", ours)).key == key.public_key

    theirs = tmp_path / "theirs"
    keygen("-t", "ed25519", "-q", "-a", "4", "-Z", cipher, "-N", PW, "-C", "z", "-f", theirs)
    loaded = read_private_key_file(theirs, PW)
    assert loaded.public_key.fingerprint() == fingerprint(theirs.with_suffix(".pub"))
    with pytest.raises(WrongPassphrase):
        read_private_key_file(theirs, PW + "x")


def test_cipher_none_with_bcrypt(tmp_path: Path) -> None:
    """``-Z none -N pw``: OpenSSH wants a passphrase but encrypts nothing."""
    path = tmp_path / "k"
    keygen("-t", "ed25519", "-q", "-a", "4", "-Z", "none", "-N", PW, "-f", path)
    with pytest.raises(PassphraseRequired):
        read_private_key_file(path)
    key = read_private_key_file(path, "anything")
    assert key.public_key.fingerprint() == fingerprint(path.with_suffix(".pub"))


@pytest.mark.parametrize("name", list(TYPES))
def test_rfc4716_both_ways(made: dict[tuple[str, str], Made], tmp_path: Path, name: str) -> None:
    pub_path = made[name, "openssh"].path.with_name(f"{name}.pub")
    exported = keygen("-e", "-m", "RFC4716", "-f", pub_path)
    loaded = load_public_key(exported)
    assert loaded.key.fingerprint() == made[name, "openssh"].fingerprint
    assert "converted by" in loaded.comment

    ours = tmp_path / "ours.rfc"
    ours.write_text(encode_rfc4716_public_key(loaded.key, "x" * 100 + " long, wrapped"))
    imported = keygen("-i", "-m", "RFC4716", "-f", ours).strip()
    assert parse_public_key_line(imported).key == loaded.key


@pytest.mark.parametrize("name", [n for n in TYPES if n != "ed25519"])
def test_pem_public_both_ways(made: dict[tuple[str, str], Made], tmp_path: Path, name: str) -> None:
    pub_path = made[name, "openssh"].path.with_name(f"{name}.pub")
    modes = ["PKCS8", "PEM"] if name.startswith("rsa") else ["PKCS8"]
    for mode in modes:
        exported = keygen("-e", "-m", mode, "-f", pub_path)
        loaded = load_public_key(exported)
        assert loaded.key.fingerprint() == made[name, "openssh"].fingerprint
        ours = tmp_path / f"ours.{mode}"
        ours.write_bytes(
            encode_pem_public_key(loaded.key, format="spki" if mode == "PKCS8" else "pkcs1")
        )
        imported = keygen("-i", "-m", mode, "-f", ours).strip()
        assert parse_public_key_line(imported).key == loaded.key


def test_group_readable_key_warns_and_ssh_keygen_refuses(
    made: dict[tuple[str, str], Made], tmp_path: Path
) -> None:
    path = tmp_path / "open"
    shutil.copy(made["ed25519", "openssh"].path, path)
    path.chmod(0o640)
    with pytest.warns(UserWarning, match="UNPROTECTED"):
        read_private_key_file(path)
    result = subprocess.run(["ssh-keygen", "-y", "-f", str(path)], capture_output=True, timeout=30)
    assert b"UNPROTECTED PRIVATE KEY FILE" in result.stderr


@pytest.mark.parametrize(
    ("name", "variant"),
    [
        ("ecdsa256", "openssh-pw"),
        ("rsa2048", "pem-pw"),
        ("dsa", "pkcs8-pw"),
        ("ed25519", "openssh"),
    ],
)
def test_damaged_ssh_keygen_files(
    made: dict[tuple[str, str], Made], name: str, variant: str
) -> None:
    """Mutations of real ssh-keygen files: only this package's errors, never a crash."""
    m = made[name, variant]
    text = m.path.read_text()
    rng = random.Random(f"{name}{variant}")
    first_body = text.index("\n") + 1
    for _ in range(60):
        i = rng.randrange(first_body, len(text))
        choice = rng.randrange(3)
        if choice == 0:
            damaged = text[:i] + rng.choice("AQgw+/=") + text[i + 1 :]
        elif choice == 1:
            damaged = text[:i] + text[i + 1 :]
        else:
            damaged = text[:i]
        with contextlib.suppress(*ERRORS):
            load_private_key(damaged, m.passphrase, max_rounds=8)


def test_our_key_written_under_openssh_default(tmp_path: Path) -> None:
    """A key we generate and encode with defaults (aes256-ctr, 16 rounds) loads in ssh-keygen."""
    from ssh_keys import generate_private_key

    key = generate_private_key("ed25519", comment="ours@here")
    path = tmp_path / "id"
    path.write_bytes(encode_openssh_private_key(key, PW))
    path.chmod(0o600)
    assert keygen("-y", "-P", PW, "-f", path).strip() == key.public_key.to_line("ours@here")


# -- the same per-type encoding as ssh-add sends it (agent ADD_IDENTITY) ---------------


def _capture_ssh_add(work: Path, key_path: Path) -> list[bytes]:
    """Run ssh-add against a minimal agent socket; return the messages it sent."""
    sock_path = work / "agent.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(sock_path))
    server.listen(1)
    server.settimeout(30)
    messages: list[bytes] = []

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            buf = b""
            while chunk := conn.recv(65536):
                buf += chunk
                while len(buf) >= 4 and len(buf) >= 4 + int.from_bytes(buf[:4], "big"):
                    n = int.from_bytes(buf[:4], "big")
                    msg, buf = buf[4 : 4 + n], buf[4 + n :]
                    messages.append(msg)
                    ok = msg[:1] in (b"\x11", b"\x19")  # ADD_IDENTITY, ADD_ID_CONSTRAINED
                    conn.sendall(b"\x00\x00\x00\x01" + (b"\x06" if ok else b"\x05"))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        subprocess.run(
            ["ssh-add", str(key_path)],
            env={**os.environ, "SSH_AUTH_SOCK": str(sock_path)},
            capture_output=True,
            timeout=30,
            check=True,
        )
        thread.join(30)
    finally:
        close_listener(server, thread)
    return [m for m in messages if m[:1] in (b"\x11", b"\x19")]


@pytest.mark.skipif(shutil.which("ssh-add") is None, reason="needs ssh-add")
@pytest.mark.parametrize("name", ["ed25519", "ecdsa384", "rsa2048", "dsa"])
def test_private_fields_match_ssh_add(
    made: dict[tuple[str, str], Made], tmp_path: Path, name: str
) -> None:
    """ssh-add sends the key, then key + certificate: both decode, and we encode them alike."""
    key_path = tmp_path / "id"
    shutil.copy(made[name, "openssh"].path, key_path)
    key_path.chmod(0o600)
    shutil.copy(made[name, "openssh"].path.with_name(f"{name}.pub"), tmp_path / "id.pub")
    keygen("-q", "-t", "ed25519", "-N", "", "-f", tmp_path / "ca")
    keygen("-q", "-s", tmp_path / "ca", "-I", "cert-id", "-n", "bob", tmp_path / "id.pub")
    cert_blob = base64.b64decode((tmp_path / "id-cert.pub").read_text().split()[1])

    plain_msg, cert_msg = _capture_ssh_add(tmp_path, key_path)
    key = load_private_key(key_path.read_bytes())
    for msg, cert in ((plain_msg, None), (cert_msg, cert_blob)):
        r = Reader(msg[1:])
        entry = read_private_entry(r)
        r.string("comment")
        assert r.at_end()
        assert entry.key.public_key == key.public_key
        assert entry.certificate == cert
        expected = write_private_fields(key, certificate=cert)
        assert msg[1 : 1 + len(expected)] == expected


@pytest.mark.skipif(shutil.which("ssh-add") is None, reason="needs ssh-add")
@pytest.mark.parametrize("kind", ["sk-ed25519", "sk-ecdsa"])
def test_security_key_files_and_fields_match_ssh_add(tmp_path: Path, kind: str) -> None:
    """SK key files we write load in ssh-keygen and ssh-add (no token needed to add one)."""
    from ssh_keys import SKECDSAPublicKey, SKEd25519PublicKey, SKPrivateKey, generate_private_key

    if kind == "sk-ed25519":
        raw = generate_private_key("ed25519").public_key.raw  # type: ignore[attr-defined]
        public: SKEd25519PublicKey | SKECDSAPublicKey = SKEd25519PublicKey(raw, "ssh:")
    else:
        point = generate_private_key("ecdsa").public_key.point  # type: ignore[attr-defined]
        public = SKECDSAPublicKey(point, "ssh:test")
    key = SKPrivateKey(public, 0x01, b"key handle bytes", b"", comment="sk key")
    key_path = tmp_path / "id"
    write_private_key_file(key_path, key)
    (tmp_path / "id.pub").write_text(key.public_key.to_line("sk key") + "\n")
    assert parse_public_key_line(keygen("-y", "-f", key_path)).key == key.public_key
    keygen("-q", "-t", "ed25519", "-N", "", "-f", tmp_path / "ca")
    keygen("-q", "-s", tmp_path / "ca", "-I", "cert-id", "-n", "bob", tmp_path / "id.pub")
    cert_blob = base64.b64decode((tmp_path / "id-cert.pub").read_text().split()[1])

    plain_msg, cert_msg = _capture_ssh_add(tmp_path, key_path)
    for msg, cert in ((plain_msg, None), (cert_msg, cert_blob)):
        r = Reader(msg[1:])
        entry = read_private_entry(r)
        assert r.text("comment") == "sk key"
        assert isinstance(entry.key, SKPrivateKey)
        assert (entry.key.key_handle, entry.key.flags) == (b"key handle bytes", 0x01)
        assert entry.certificate == cert
        assert msg[1 : r.offset + 1 - len(b"sk key") - 4] == write_private_fields(key, cert)
