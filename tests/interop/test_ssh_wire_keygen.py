"""ssh-wire reads the public key blobs ssh-keygen writes, and writes them back identically."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from ssh_wire import Reader, Writer

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen not installed"),
]


def keygen(tmp_path: Path, *args: str) -> tuple[str, bytes, str]:
    """A fresh key: its algorithm name, blob, and the fingerprint ssh-keygen prints."""
    path = tmp_path / "key"
    subprocess.run(
        ["ssh-keygen", "-q", "-N", "", "-C", "wire@test", "-f", str(path), *args],
        check=True,
        capture_output=True,
    )
    algorithm, b64, _ = (tmp_path / "key.pub").read_text().split(" ", 2)
    listed = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(path) + ".pub"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[1]
    return algorithm, base64.b64decode(b64, validate=True), listed


def fingerprint(blob: bytes) -> str:
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def test_ed25519(tmp_path: Path) -> None:
    algorithm, blob, listed = keygen(tmp_path, "-t", "ed25519")
    r = Reader(blob)
    assert r.ascii("algorithm") == algorithm == "ssh-ed25519"
    key = r.string("key")
    r.expect_end()
    assert len(key) == 32
    assert Writer().string(algorithm.encode()).string(key).getvalue() == blob
    assert fingerprint(blob) == listed


@pytest.mark.parametrize(("bits", "curve"), [(256, "nistp256"), (384, "nistp384")])
def test_ecdsa(tmp_path: Path, bits: int, curve: str) -> None:
    algorithm, blob, listed = keygen(tmp_path, "-t", "ecdsa", "-b", str(bits))
    r = Reader(blob)
    assert r.ascii("algorithm") == algorithm == f"ecdsa-sha2-{curve}"
    assert r.ascii("curve") == curve
    point = r.string("Q")
    r.expect_end()
    assert point[0] == 4  # uncompressed
    assert len(point) == 1 + 2 * ((bits + 7) // 8)
    assert fingerprint(blob) == listed


def test_rsa_mpints_are_minimal_and_round_trip(tmp_path: Path) -> None:
    algorithm, blob, listed = keygen(tmp_path, "-t", "rsa", "-b", "2048")
    r = Reader(blob, strict=True)  # strict: OpenSSH writes minimal mpints
    assert r.ascii("algorithm") == algorithm == "ssh-rsa"
    e = r.positive_mpint("e")
    n = r.positive_mpint("n")
    r.expect_end()
    assert e == 65537
    assert n.bit_length() == 2048
    assert Writer().string(b"ssh-rsa").mpint(e).mpint(n).getvalue() == blob
    assert fingerprint(blob) == listed
