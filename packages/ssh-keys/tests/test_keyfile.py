"""The format-detecting front door and safe key file writing."""

from __future__ import annotations

import os
import stat
import sys
import types
import warnings
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from ssh_keys import (
    KeyFormatError,
    PassphraseRequired,
    PrivateKey,
    UnsupportedAlgorithm,
    WrongPassphrase,
    generate_private_key,
)
from ssh_keys.keyfile import (
    UnprotectedPrivateKeyWarning,
    load_private_key,
    load_public_key,
    read_private_key_file,
    read_public_key_file,
    serialize_private_key,
    write_private_key_file,
)
from ssh_keys.pem import encode_pem_public_key
from ssh_keys.rfc4716 import encode_rfc4716_public_key


@cache
def keys() -> dict[str, PrivateKey]:
    return {
        "ed25519": generate_private_key("ed25519", comment="me@host"),
        "ecdsa": generate_private_key("ecdsa", 384, comment="ec"),
        "rsa": generate_private_key("rsa", 2048, comment="rsa"),
    }


@pytest.fixture
def umask_zero() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize("fmt", ["openssh", "pem", "pkcs8"])
@pytest.mark.parametrize("name", ["ecdsa", "rsa", "ed25519"])
@pytest.mark.parametrize("pw", [None, "pass phrase"])
def test_serialize_and_load_detects_format(name: str, fmt: str, pw: str | None) -> None:
    key = keys()[name]
    if name == "ed25519" and fmt == "pem":
        with pytest.raises(UnsupportedAlgorithm):  # no traditional PEM form; ssh-keygen neither
            serialize_private_key(key, fmt, pw)
        return
    data = serialize_private_key(key, fmt, pw, rounds=1)
    back = load_private_key(data, pw)
    assert back.public_key == key.public_key
    assert load_private_key(data.decode(), pw).public_key == key.public_key
    if fmt == "openssh":
        assert back.comment == key.comment
    if pw:
        with pytest.raises(PassphraseRequired):
            load_private_key(data)
        with pytest.raises(WrongPassphrase):
            load_private_key(data, "nope")


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="format"):
        serialize_private_key(keys()["ed25519"], "der")


def test_load_private_rejects_other_things() -> None:
    pub = keys()["rsa"].public_key
    with pytest.raises(KeyFormatError, match="public key"):
        load_private_key(encode_pem_public_key(pub))
    with pytest.raises(KeyFormatError, match="public key"):
        load_private_key(encode_rfc4716_public_key(pub))
    with pytest.raises(KeyFormatError):
        load_private_key(pub.to_line())
    with pytest.raises(KeyFormatError):
        load_private_key(b"\x30\x82\x01\x00\xff")  # DER
    with pytest.raises(UnsupportedAlgorithm):
        load_private_key("---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nxx\n")


def test_ppk_goes_to_the_ppk_module(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[object, object]] = []
    fake = types.ModuleType("ssh_keys.ppk")

    def load_ppk(data: bytes | str, passphrase: bytes | str | None) -> PrivateKey:
        calls.append((data, passphrase))
        return keys()["ed25519"]

    fake.load_ppk = load_ppk  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ssh_keys.ppk", fake)
    data = b"PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n"
    assert load_private_key(data, "pw") is keys()["ed25519"]
    assert calls == [(data, "pw")]


def test_load_public_key_formats() -> None:
    key = keys()["ecdsa"]
    pub = key.public_key
    line = load_public_key(pub.to_line("a comment") + "\n")
    assert (line.key, line.comment) == (pub, "a comment")
    commented = f"# header\n\n{pub.to_line('c')}\n"
    assert load_public_key(commented.encode()).key == pub
    rfc = load_public_key(encode_rfc4716_public_key(pub, "rfc comment"))
    assert (rfc.key, rfc.comment) == (pub, "rfc comment")
    pem = load_public_key(encode_pem_public_key(pub))
    assert (pem.key, pem.comment) == (pub, "")
    with pytest.raises(KeyFormatError, match="private key"):
        load_public_key(serialize_private_key(key))
    with pytest.raises(KeyFormatError):
        load_public_key("# only a comment\n")


# -- writing files ------------------------------------------------------------------


def test_written_file_is_0600_under_umask_zero(tmp_path: Path, umask_zero: None) -> None:
    path = tmp_path / "id_ed25519"
    write_private_key_file(path, keys()["ed25519"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["id_ed25519"]  # no temporary file left behind
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = read_private_key_file(path)
    assert back.public_key == keys()["ed25519"].public_key
    assert back.comment == "me@host"


def test_replaces_existing_file_atomically(tmp_path: Path, umask_zero: None) -> None:
    path = tmp_path / "key"
    path.write_text("old contents")
    path.chmod(0o644)
    write_private_key_file(path, keys()["rsa"], "pem", "pw")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_private_key_file(path, "pw").public_key == keys()["rsa"].public_key


def test_symlink_at_target_is_replaced_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    link = tmp_path / "id_key"
    link.symlink_to(victim)
    write_private_key_file(link, keys()["ed25519"])
    assert victim.read_text() == "precious"
    assert not link.is_symlink()
    assert read_private_key_file(link).public_key == keys()["ed25519"].public_key


def test_failed_write_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "dir_in_the_way"
    target.mkdir()
    (target / "x").write_text("x")
    with pytest.raises(OSError):  # noqa: PT011 - rename onto a non-empty directory
        write_private_key_file(target, keys()["ed25519"])
    assert sorted(os.listdir(tmp_path)) == ["dir_in_the_way"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_unprotected_file_warns(tmp_path: Path) -> None:
    path = tmp_path / "key"
    write_private_key_file(path, keys()["ecdsa"])
    path.chmod(0o644)
    with pytest.warns(UnprotectedPrivateKeyWarning, match="UNPROTECTED PRIVATE KEY FILE"):
        key = read_private_key_file(path)
    assert key.public_key == keys()["ecdsa"].public_key


def test_read_refuses_non_regular_and_huge_files(tmp_path: Path) -> None:
    with pytest.raises(KeyFormatError):
        read_private_key_file(tmp_path)
    big = tmp_path / "big"
    fd = os.open(big, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"x" * (1024 * 1024 + 10))
    os.close(fd)
    with pytest.raises(KeyFormatError, match="1 MiB"):
        read_private_key_file(big)


def test_read_public_key_file(tmp_path: Path) -> None:
    pub = keys()["rsa"].public_key
    path = tmp_path / "id_rsa.pub"
    path.write_text(pub.to_line("rsa") + "\n")
    assert read_public_key_file(path).key == pub
