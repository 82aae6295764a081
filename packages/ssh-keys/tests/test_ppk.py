"""PuTTY private key files: round trips, known files, PuTTYgen both ways, errors, fuzz."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_ssh_private_key
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssh_keys import (
    KeyFormatError,
    PassphraseRequired,
    PrivateKey,
    UnsupportedAlgorithm,
    WrongPassphrase,
    generate_private_key,
    parse_public_key_line,
    private_key_from_crypto,
)
from ssh_keys import ppk as ppk_module
from ssh_keys.ppk import dump_ppk, is_ppk, load_ppk, ppk_public_key
from ssh_wire import SSHError

PUTTYGEN = shutil.which("puttygen")
needs_puttygen = pytest.mark.skipif(PUTTYGEN is None, reason="puttygen (putty-tools) missing")
# cryptography warns when it reads an OpenSSH DSA key; DSA is here on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:SSH DSA keys are deprecated")

FAST = {"argon2_memory": 64, "argon2_passes": 1}

# Written by PuTTYgen 0.78, passphrase "secret".
V3_ARGON2I = b"""\
PuTTY-User-Key-File-3: ssh-ed25519
Encryption: aes256-cbc
Comment: fixture v3
Public-Lines: 2
AAAAC3NzaC1lZDI1NTE5AAAAIG2dDt3EgpYRjX6NrFvlL3ZdGs3u0jiX8BC9p+RZ
7Y5T
Key-Derivation: Argon2i
Argon2-Memory: 64
Argon2-Passes: 2
Argon2-Parallelism: 2
Argon2-Salt: 072ef733fa8a5fbb59bef7b2f1bcad8d
Private-Lines: 1
fDlHWEKfGsCeJiU5zRQPHKaMSmt6ew4C6xLuPnAJWPBLYHwlESWqIt/zJc9sXrAq
Private-MAC: 4b2047ea86fe8a2850a37b0c54b010a066fb51bf8851ef8f7806d6493e521614
"""
V3_ARGON2I_PUBLIC = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG2dDt3EgpYRjX6NrFvlL3ZdGs3u0jiX8BC9p+RZ7Y5T"
)

V2_ENCRYPTED = b"""\
PuTTY-User-Key-File-2: ssh-ed25519
Encryption: aes256-cbc
Comment: fixture v2
Public-Lines: 2
AAAAC3NzaC1lZDI1NTE5AAAAIJVqIukUfpaibyqMkI3D8TMZIQRbLBFHlLnjGJ1k
JXca
Private-Lines: 1
P6lkT/jChqH8+GgHPUt25DSoPffou8SJ0D0HYWvvO6sWb5MOmjxeoh/i2MXswRz6
Private-MAC: ba7fa20afe8cf496a4ed0c3b3581e334280ee41f
"""
V2_ENCRYPTED_PUBLIC = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJVqIukUfpaibyqMkI3D8TMZIQRbLBFHlLnjGJ1kJXca"
)

V3_PLAIN = b"""\
PuTTY-User-Key-File-3: ssh-ed25519
Encryption: none
Comment: my comment
Public-Lines: 2
AAAAC3NzaC1lZDI1NTE5AAAAIJ0OA4WzjNjtr0j+IWNntS2Vsr6FpAPoJfrrBOp0
MHP6
Private-Lines: 1
AAAAIFYufSPAlCrlN511PEO9hHxlXrSXu86Gk/NcHUAXFpkt
Private-MAC: 01934a7a17d0947d98dc75505d2cbe725fd710d86a65fda5c956ffa975dce406
"""
V3_PLAIN_PUBLIC = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ0OA4WzjNjtr0j+IWNntS2Vsr6FpAPoJfrrBOp0MHP6"


def _keys() -> list[PrivateKey]:
    keys = [
        generate_private_key("ed25519", comment="ed"),
        generate_private_key("ecdsa", 256, comment="p256"),
        generate_private_key("ecdsa", 384, comment="p384"),
        generate_private_key("ecdsa", 521, comment="p521"),
        private_key_from_crypto(rsa.generate_private_key(65537, 2048), "rsa"),
        private_key_from_crypto(dsa.generate_private_key(1024), "dsa"),
    ]
    return keys


KEYS = _keys()
KEY_IDS = ["ed25519", "p256", "p384", "p521", "rsa", "dsa"]


def _same_private(a: PrivateKey, b: PrivateKey) -> None:
    assert a.public_key == b.public_key
    ca, cb = getattr(a, "crypto_key"), getattr(b, "crypto_key")  # noqa: B009
    if isinstance(ca, ed25519.Ed25519PrivateKey):
        assert a.seed == b.seed  # type: ignore[attr-defined]
    else:
        assert ca.private_numbers() == cb.private_numbers()


# -- round trips ----------------------------------------------------------------


@pytest.mark.parametrize("key", KEYS, ids=KEY_IDS)
def test_round_trip_plain(key: PrivateKey) -> None:
    data = dump_ppk(key)
    assert data.startswith(b"PuTTY-User-Key-File-3: " + key.algorithm.encode() + b"\n")
    assert b"Encryption: none\n" in data
    assert b"Key-Derivation" not in data
    loaded = load_ppk(data)
    _same_private(loaded, key)
    assert loaded.comment == key.comment
    # A passphrase given for a plain file is ignored, as PuTTY does.
    assert load_ppk(data.decode(), "whatever").public_key == key.public_key


@pytest.mark.parametrize("key", KEYS, ids=KEY_IDS)
def test_round_trip_encrypted(key: PrivateKey) -> None:
    data = dump_ppk(key, "pass phrase", **FAST)
    assert b"Encryption: aes256-cbc\n" in data
    assert b"Key-Derivation: Argon2id\n" in data
    loaded = load_ppk(data, b"pass phrase")
    _same_private(loaded, key)
    assert loaded.comment == key.comment
    with pytest.raises(WrongPassphrase):
        load_ppk(data, "pass phrasE")
    with pytest.raises(PassphraseRequired):
        load_ppk(data)


def test_loaded_key_signs() -> None:
    key = load_ppk(dump_ppk(generate_private_key("ecdsa", 384), "pw", **FAST), "pw")
    key.public_key.verify(b"data", key.sign(b"data"))


def test_empty_passphrase_writes_plain() -> None:
    key = KEYS[0]
    assert b"Encryption: none" in dump_ppk(key, "")


def test_unicode_comment_round_trip() -> None:
    key = generate_private_key("ed25519", comment="clé de José ✓")
    assert load_ppk(dump_ppk(key)).comment == "clé de José ✓"


def test_comment_with_newline_refused() -> None:
    key = generate_private_key("ed25519", comment="two\nlines")
    with pytest.raises(ValueError, match="CR or LF"):
        dump_ppk(key)


def test_dump_argon2_parameters_checked() -> None:
    key = KEYS[0]
    with pytest.raises(ValueError, match="memory"):
        dump_ppk(key, "pw", argon2_memory=1 << 30)
    with pytest.raises(ValueError, match="passes"):
        dump_ppk(key, "pw", argon2_passes=0)
    with pytest.raises(ValueError, match="parallelism"):
        dump_ppk(key, "pw", argon2_parallelism=0)


def test_is_ppk() -> None:
    assert is_ppk(V3_PLAIN)
    assert is_ppk(V3_PLAIN.decode())
    assert not is_ppk(b"-----BEGIN OPENSSH PRIVATE KEY-----\n")


# -- files PuTTYgen wrote (no puttygen needed) ------------------------------------


def test_known_v3_plain() -> None:
    key = load_ppk(V3_PLAIN)
    assert key.public_key.to_line() == V3_PLAIN_PUBLIC
    assert key.comment == "my comment"


@pytest.mark.skipif(ppk_module._ARGON2["Argon2i"] is None, reason="no Argon2i in cryptography")
def test_known_v3_argon2i_parallelism_2() -> None:
    key = load_ppk(V3_ARGON2I, "secret")
    assert key.public_key.to_line() == V3_ARGON2I_PUBLIC
    assert key.comment == "fixture v3"
    with pytest.raises(WrongPassphrase):
        load_ppk(V3_ARGON2I, "Secret")


def test_known_v2_encrypted() -> None:
    key = load_ppk(V2_ENCRYPTED, "secret")
    assert key.public_key.to_line() == V2_ENCRYPTED_PUBLIC
    assert key.comment == "fixture v2"
    with pytest.raises(WrongPassphrase):
        load_ppk(V2_ENCRYPTED, "")
    with pytest.raises(PassphraseRequired):
        load_ppk(V2_ENCRYPTED)


@pytest.mark.parametrize("newline", [b"\r\n", b"\r"])
def test_other_line_endings(newline: bytes) -> None:
    assert load_ppk(V2_ENCRYPTED.replace(b"\n", newline), "secret").comment == "fixture v2"


# -- errors -------------------------------------------------------------------------


def test_unencrypted_mac_mismatch_is_corruption() -> None:
    bad = V3_PLAIN.replace(b"Comment: my comment", b"Comment: my commenT")
    with pytest.raises(KeyFormatError, match="corrupt"):
        load_ppk(bad)


def test_encrypted_public_half_tamper_is_caught() -> None:
    other = KEYS[0].public_key.blob
    data = dump_ppk(generate_private_key("ed25519"), "pw", **FAST)
    lines = data.split(b"\n")
    b64 = base64.b64encode(other)
    lines[4:6] = [b64[:64], b64[64:]]
    with pytest.raises(WrongPassphrase):
        load_ppk(b"\n".join(lines), "pw")


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        (b"PuTTY-User-Key-File-3", b"PuTTY-User-Key-File-1", UnsupportedAlgorithm),
        (b"PuTTY-User-Key-File-3", b"PuTTY-User-Key-File-4", UnsupportedAlgorithm),
        (b"File-3: ssh-ed25519", b"File-3: ssh-ed448", UnsupportedAlgorithm),
        (b"File-3: ssh-ed25519", b"File-3: ssh-rsa", KeyFormatError),
        (b"Encryption: none", b"Encryption: aes128-cbc", UnsupportedAlgorithm),
        (b"Public-Lines: 2", b"Public-Lines: 99", KeyFormatError),
        (b"Public-Lines: 2", b"Public-Lines: -2", KeyFormatError),
        (b"Public-Lines: 2", b"Public-Lines: 99999999999999999999", KeyFormatError),
        (b"Private-MAC: 01", b"Private-MAC: zz", KeyFormatError),
        (b"Comment:", b"Kommentar:", KeyFormatError),
    ],
)
def test_malformed_headers(old: bytes, new: bytes, error: type[Exception]) -> None:
    assert old in V3_PLAIN
    with pytest.raises(error):
        load_ppk(V3_PLAIN.replace(old, new, 1))


@pytest.mark.parametrize(
    ("data", "public", "comment"),
    [
        (V3_ARGON2I, V3_ARGON2I_PUBLIC, "fixture v3"),
        (V2_ENCRYPTED, V2_ENCRYPTED_PUBLIC, "fixture v2"),
        (V3_PLAIN, V3_PLAIN_PUBLIC, "my comment"),
    ],
)
def test_public_key_needs_no_passphrase(data: bytes, public: str, comment: str) -> None:
    line = ppk_public_key(data)
    assert line.key == parse_public_key_line(public).key
    assert line.comment == comment
    assert ppk_public_key(data.decode()) == line
    with pytest.raises(KeyFormatError):
        ppk_public_key(data.replace(b"Public-Lines: 2", b"Public-Lines: x"))


def test_trailing_garbage_refused() -> None:
    with pytest.raises(KeyFormatError, match="after Private-MAC"):
        load_ppk(V3_PLAIN + b"more\n")
    assert load_ppk(V3_PLAIN + b"\n\n").comment == "my comment"


def _encrypted_fixture() -> bytes:
    return dump_ppk(KEYS[0], "pw", argon2_memory=8, argon2_passes=1)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"Argon2-Memory: 8\n", b"Argon2-Memory: 4194304\n"),  # 4 GiB
        (b"Argon2-Passes: 1\n", b"Argon2-Passes: 4294967295\n"),
        # 256 MiB is allowed alone, but not 64 passes over it.
        (b"Argon2-Memory: 8\nArgon2-Passes: 1\n", b"Argon2-Memory: 262144\nArgon2-Passes: 64\n"),
        (b"Argon2-Parallelism: 1\n", b"Argon2-Parallelism: 100000\n"),
        (b"Argon2-Parallelism: 1\n", b"Argon2-Parallelism: 2\n"),  # memory < 8 x lanes
        (b"Argon2-Salt: ", b"Argon2-Salt: 0011\nX-"),  # 2-byte salt: Argon2 needs 8
    ],
)
def test_hostile_argon2_parameters_refused_before_derivation(
    old: bytes, new: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _encrypted_fixture()
    assert old in data
    data = data.replace(old, new)
    if b"X-" in new:  # drop the real salt line we pushed down
        data = re.sub(rb"X-[0-9a-f]+\n", b"", data)

    def boom(*args: object) -> bytes:
        raise AssertionError("Argon2 must not run on refused parameters")

    monkeypatch.setattr(ppk_module, "_argon2_derive", boom)
    with pytest.raises(KeyFormatError, match="Argon2"):
        load_ppk(data, "pw")


@pytest.mark.parametrize("flavour", ["Argon2i", "Argon2d"])
def test_missing_argon2_flavour_is_unsupported(
    flavour: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _encrypted_fixture().replace(b"Argon2id", flavour.encode())
    monkeypatch.setitem(ppk_module._ARGON2, flavour, None)
    with pytest.raises(UnsupportedAlgorithm, match=flavour):
        load_ppk(data, "pw")


def test_unknown_kdf_unsupported() -> None:
    with pytest.raises(UnsupportedAlgorithm):
        load_ppk(_encrypted_fixture().replace(b"Argon2id", b"scrypt"), "pw")


def test_not_a_ppk() -> None:
    for data in (b"", b"hello", "ssh-ed25519 AAAA", b"\xff" * 100, b"PuTTY-User-Key-File-"):
        with pytest.raises(KeyFormatError):
            load_ppk(data)


def test_oversized_input_refused() -> None:
    with pytest.raises(KeyFormatError, match="larger"):
        load_ppk(V3_PLAIN + b"\n" * (2 << 20))


# -- mutation fuzz ----------------------------------------------------------------

_FUZZ_TARGETS = [
    (V3_PLAIN, None),
    (V2_ENCRYPTED, "secret"),
    (dump_ppk(KEYS[1], "pw", argon2_memory=8, argon2_passes=1), "pw"),
    (dump_ppk(KEYS[4]), None),
]


def _mutate_check(data: bytes, passphrase: str | None, mutated: bytes) -> None:
    original = load_ppk(data, passphrase).public_key
    try:
        key = load_ppk(mutated, passphrase)
    except SSHError:
        return
    # Only changes the MAC does not cover (line endings, trailing blank lines) load,
    # and never as a different key.
    assert key.public_key == original


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    target=st.integers(0, len(_FUZZ_TARGETS) - 1),
    position=st.integers(0, 10_000),
    kind=st.sampled_from(["flip", "byte", "delete", "insert", "truncate", "cut-front"]),
    value=st.integers(0, 255),
)
def test_mutations_raise_only_package_errors(
    target: int, position: int, kind: str, value: int
) -> None:
    data, passphrase = _FUZZ_TARGETS[target]
    i = position % len(data)
    buf = bytearray(data)
    if kind == "flip":
        buf[i] ^= 1 << (value % 8)
    elif kind == "byte":
        buf[i] = value
    elif kind == "delete":
        del buf[i]
    elif kind == "insert":
        buf.insert(i, value)
    elif kind == "truncate":
        del buf[i:]
    else:
        del buf[:i]
    _mutate_check(data, passphrase, bytes(buf))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_after_header(junk: bytes) -> None:
    with pytest.raises(SSHError):
        load_ppk(b"PuTTY-User-Key-File-3: ssh-ed25519\n" + junk, "pw")


# -- PuTTYgen as the peer -----------------------------------------------------------


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    assert PUTTYGEN is not None
    return subprocess.run(
        [PUTTYGEN, *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )


def _puttygen(*args: str | Path) -> str:
    done = _run(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def putty_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("putty")
    (d / "pw").write_text("secret\n")  # puttygen drops the newline
    (d / "empty").write_text("")
    return d


_PUTTY_TYPES = [
    ("ed25519", ()),
    ("ecdsa", ("-b", "256")),
    ("ecdsa", ("-b", "384")),
    ("ecdsa", ("-b", "521")),
    ("rsa", ("-b", "2048")),
    ("dsa", ("-b", "1024")),
]
_PUTTY_IDS = ["ed25519", "p256", "p384", "p521", "rsa", "dsa"]


@pytest.fixture(scope="module", params=range(len(_PUTTY_TYPES)), ids=_PUTTY_IDS)
def putty_key(request: pytest.FixtureRequest, putty_dir: Path) -> tuple[Path, str]:
    """A key PuTTYgen generated (unencrypted v3) and its OpenSSH public line."""
    kind, extra = _PUTTY_TYPES[request.param]
    path = putty_dir / f"gen-{request.param}.ppk"
    _puttygen(
        "-t",
        kind,
        *extra,
        "-C",
        f"putty {kind}",
        "-o",
        path,
        "--new-passphrase",
        putty_dir / "empty",
    )
    line = _puttygen(path, "-O", "public-openssh").strip()
    return path, line


_FORMATS = {
    "v3-plain": (None, ()),
    "v3-argon2id": ("secret", ("--ppk-param", "passes=1,memory=64")),
    "v3-argon2i": ("secret", ("--ppk-param", "kdf=argon2i,passes=1,memory=256,parallelism=2")),
    "v3-argon2d": ("secret", ("--ppk-param", "kdf=argon2d,passes=2,memory=64")),
    "v2-plain": (None, ("--ppk-param", "version=2")),
    "v2-encrypted": ("secret", ("--ppk-param", "version=2")),
}


@needs_puttygen
@pytest.mark.interop
@pytest.mark.parametrize("fmt", list(_FORMATS))
def test_puttygen_files_load(fmt: str, putty_key: tuple[Path, str], putty_dir: Path) -> None:
    source, line = putty_key
    passphrase, params = _FORMATS[fmt]
    flavour = {"v3-argon2i": "Argon2i", "v3-argon2d": "Argon2d"}.get(fmt)
    if flavour and ppk_module._ARGON2[flavour] is None:
        pytest.skip(f"no {flavour} in this cryptography")
    out = putty_dir / f"{source.stem}-{fmt}.ppk"
    pw_file = putty_dir / ("pw" if passphrase else "empty")
    _puttygen(
        source,
        "-P",
        "--old-passphrase",
        putty_dir / "empty",
        "--new-passphrase",
        pw_file,
        *params,
        "-O",
        "private",
        "-o",
        out,
    )
    data = out.read_bytes()
    assert data.startswith(b"PuTTY-User-Key-File-" + (b"2" if fmt.startswith("v2") else b"3"))
    key = load_ppk(data, passphrase)
    assert key.public_key.to_line(key.comment) == line
    if passphrase:
        with pytest.raises(WrongPassphrase):
            load_ppk(data, "not it")
    # The private half matches what PuTTYgen exports for OpenSSH.
    openssh = putty_dir / f"{out.stem}.openssh"
    _puttygen(
        out,
        "--old-passphrase",
        pw_file,
        "--new-passphrase",
        putty_dir / "empty",
        "-O",
        "private-openssh-new",
        "-o",
        openssh,
    )
    theirs = private_key_from_crypto(load_ssh_private_key(openssh.read_bytes(), None))
    _same_private(key, theirs)


@needs_puttygen
@pytest.mark.interop
def test_puttygen_default_parameters_load(putty_dir: Path) -> None:
    path = putty_dir / "default.ppk"
    _puttygen("-t", "ed25519", "-o", path, "--new-passphrase", putty_dir / "pw")
    assert b"Key-Derivation: Argon2id" in path.read_bytes()
    line = _puttygen(path, "--old-passphrase", putty_dir / "pw", "-O", "public-openssh").strip()
    key = load_ppk(path.read_bytes(), "secret")
    assert key.public_key.to_line(key.comment) == line


@needs_puttygen
@pytest.mark.interop
@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
@pytest.mark.parametrize("key", KEYS, ids=KEY_IDS)
def test_our_files_load_in_puttygen(key: PrivateKey, encrypted: bool, putty_dir: Path) -> None:
    name = f"ours-{key.algorithm}-{encrypted}"
    path = putty_dir / f"{name}.ppk"
    if encrypted:
        path.write_bytes(dump_ppk(key, "secret", argon2_memory=256, argon2_passes=2))
    else:
        path.write_bytes(dump_ppk(key))
    pw_file = putty_dir / ("pw" if encrypted else "empty")
    line = _puttygen(path, "--old-passphrase", pw_file, "-O", "public-openssh").strip()
    assert line == key.public_key.to_line(key.comment)
    openssh = putty_dir / f"{name}.openssh"
    _puttygen(
        path,
        "--old-passphrase",
        pw_file,
        "--new-passphrase",
        putty_dir / "empty",
        "-O",
        "private-openssh-new",
        "-o",
        openssh,
    )
    _same_private(key, private_key_from_crypto(load_ssh_private_key(openssh.read_bytes(), None)))


@needs_puttygen
@pytest.mark.interop
def test_puttygen_rejects_our_file_with_wrong_passphrase(putty_dir: Path) -> None:
    path = putty_dir / "wrong.ppk"
    path.write_bytes(dump_ppk(KEYS[0], "other", **FAST))
    out = putty_dir / "wrong.openssh"
    done = _run(path, "--old-passphrase", putty_dir / "pw", "-O", "private-openssh-new", "-o", out)
    assert done.returncode != 0
    assert not out.exists()


def test_ecdsa_curve_objects() -> None:
    # Guard the CURVES mapping this module relies on for private scalars.
    key = load_ppk(dump_ppk(KEYS[3]))
    assert isinstance(getattr(key, "crypto_key").curve, ec.SECP521R1)  # noqa: B009
