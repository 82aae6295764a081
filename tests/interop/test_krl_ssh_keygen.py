"""KRLs written by ``ssh-keygen -k``, checked against ``ssh-keygen -Q`` for many keys."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest
from openssh_tools import HAVE_OPENSSH, SshdFactory, run_ssh

from ssh_keys import (
    PublicKey,
    generate_private_key,
    load_private_key,
    sign_certificate,
    write_private_key_file,
)
from ssh_keys.certificate import Certificate
from ssh_keys.krl import load_revoked_keys, parse_krl

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen"),
]


def keygen(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["ssh-keygen", *map(str, args)], capture_output=True, text=True, timeout=60
    )
    if check and result.returncode != 0:
        raise AssertionError(f"ssh-keygen {args} failed: {result.stderr}")
    return result


def make_ca(directory: Path, kind: str) -> Path:
    path = directory / f"ca_{kind}"
    keygen("-q", "-t", kind, "-N", "", "-f", path)
    return path


def oracle(krl: Path, keys: dict[str, PublicKey], directory: Path) -> dict[str, bool]:
    """What ``ssh-keygen -Q`` says of each key: True for REVOKED."""
    paths = []
    for name, key in keys.items():
        path = directory / f"{name}.pub"
        path.write_text(key.to_line(name) + "\n")
        paths.append(path)
    result = keygen("-Q", "-f", krl, *paths, check=False)
    assert result.returncode in (0, 1), result.stderr
    verdicts: dict[str, bool] = {}
    for line in result.stdout.splitlines():
        path, _, verdict = line.rpartition(": ")
        name = Path(path.split(" (")[0]).name.removesuffix(".pub")
        verdicts[name] = verdict == "REVOKED"
    assert verdicts.keys() == keys.keys(), result.stdout + result.stderr
    return verdicts


def compare(krl_path: Path, keys: dict[str, PublicKey], tmp_path: Path) -> None:
    ours = load_revoked_keys(krl_path)
    assert not ours.plain
    theirs = oracle(krl_path, keys, tmp_path)
    mine = {name: ours.is_revoked(key) for name, key in keys.items()}
    assert mine == theirs
    assert any(theirs.values()) and not all(theirs.values())  # the test means something


@pytest.mark.parametrize("ca_kind", ["ed25519", "ecdsa", "rsa"])
def test_spec_file(tmp_path: Path, ca_kind: str) -> None:
    ca_path = make_ca(tmp_path, ca_kind)
    ca = load_private_key(ca_path.read_bytes())
    other_ca = generate_private_key("ed25519")
    users = [generate_private_key("ed25519") for _ in range(6)]
    rsa_user = generate_private_key("rsa", 2048)
    hashed = generate_private_key("ecdsa", 256)
    spec = tmp_path / "spec"
    spec.write_text(
        "# revocations\n"
        "serial: 5\n"
        "serial: 10-20\n"
        "serial: 0x40\n"
        "id: alice\n"
        "id: spaced out id\n"
        f"key: {users[0].public_key.to_line()}\n"
        f"sha1: {users[1].public_key.to_line()}\n"
        f"sha256: {users[2].public_key.to_line()}\n"
        f"hash: {rsa_user.public_key.fingerprint()}\n"
        f"{hashed.public_key.to_line()}\n"
    )
    krl = tmp_path / "krl"
    keygen("-k", "-f", krl, "-s", f"{ca_path}.pub", "-z", "42", spec)
    keys: dict[str, PublicKey] = {}
    for i, user in enumerate(users):
        keys[f"plain{i}"] = user.public_key
    keys["rsa"] = rsa_user.public_key
    keys["hashed"] = hashed.public_key
    keys["ca"] = ca.public_key
    for serial in (0, 1, 4, 5, 6, 9, 10, 15, 20, 21, 0x40, 2**64 - 1):
        keys[f"serial{serial}"] = sign_certificate(ca, users[5].public_key, serial=serial)
        keys[f"other{serial}"] = sign_certificate(other_ca, users[5].public_key, serial=serial)
    for key_id in ("alice", "Alice", "spaced out id", "bob"):
        name = key_id.replace(" ", "_")
        keys[f"id_{name}"] = sign_certificate(ca, users[5].public_key, key_id=key_id, serial=3)
        keys[f"otherid_{name}"] = sign_certificate(other_ca, users[5].public_key, key_id=key_id)
    # Certificates of revoked keys are revoked whatever their CA.
    keys["cert_of_key"] = sign_certificate(other_ca, users[0].public_key, serial=77)
    keys["cert_of_sha1"] = sign_certificate(other_ca, users[1].public_key, serial=78)
    keys["cert_of_sha256"] = sign_certificate(other_ca, users[2].public_key, serial=79)
    compare(krl, keys, tmp_path)
    parsed = load_revoked_keys(krl)
    assert parsed.version == 42
    assert [s.ca_key for s in parsed.certificates] == [ca.public_key]


def test_many_serials_pick_every_encoding(tmp_path: Path) -> None:
    """Dense, sparse and run-like serials make ssh-keygen use lists, ranges and bitmaps."""
    ca_path = make_ca(tmp_path, "ed25519")
    ca = load_private_key(ca_path.read_bytes())
    user = generate_private_key("ed25519").public_key
    rng = random.Random(7)
    revoked: set[int] = set()
    revoked.update(rng.sample(range(1, 2000), 700))  # dense: bitmaps
    revoked.update(range(5000, 9000))  # a run: ranges
    revoked.update(rng.sample(range(10**6, 10**12), 40))  # sparse: lists
    lines = [f"serial: {s}" for s in sorted(revoked)]
    spec = tmp_path / "spec"
    spec.write_text("\n".join(lines) + "\n")
    krl = tmp_path / "krl"
    keygen("-k", "-f", krl, "-s", f"{ca_path}.pub", spec)
    parsed = parse_krl(krl.read_bytes())
    section = parsed.certificates[0]
    assert section.bitmaps and section.ranges and section.sorted_serials
    probes = set(rng.sample(sorted(revoked), 60)) | set(rng.sample(range(1, 10000), 60))
    probes |= {0, 1999, 2000, 4999, 5000, 8999, 9000, 9001}
    keys: dict[str, PublicKey] = {
        f"s{s}": sign_certificate(ca, user, serial=s) for s in sorted(probes)
    }
    compare(krl, keys, tmp_path)
    for s in range(0, 12000):
        fake = _FakeCert(s, ca.public_key)
        assert section.revokes(fake) is (s in revoked and s != 0)  # type: ignore[arg-type]


class _FakeCert:
    """Enough of a certificate for CertificateRevocations.revokes (no signing cost)."""

    def __init__(self, serial: int, ca: PublicKey) -> None:
        self.serial = serial
        self.key_id = ""
        self.signature_key = ca


def test_keys_and_certificates_as_arguments_and_update(tmp_path: Path) -> None:
    ca_path = make_ca(tmp_path, "ed25519")
    ca = load_private_key(ca_path.read_bytes())
    plain = generate_private_key("ed25519")
    holder = generate_private_key("ed25519").public_key
    by_serial = sign_certificate(ca, holder, serial=99, key_id="x")
    by_id = sign_certificate(ca, holder, serial=0, key_id="no-serial")
    files = []
    for name, key in (("plain", plain.public_key), ("by_serial", by_serial), ("by_id", by_id)):
        path = tmp_path / f"arg_{name}.pub"
        path.write_text(key.to_line() + "\n")
        files.append(path)
    krl = tmp_path / "krl"
    keygen("-k", "-f", krl, files[0])
    keygen("-k", "-u", "-f", krl, files[1], files[2])
    later = generate_private_key("ed25519").public_key
    keys: dict[str, PublicKey] = {
        "plain": plain.public_key,
        "by_serial": by_serial,
        "same_serial": sign_certificate(ca, later, serial=99),
        "by_id": by_id,
        "same_id": sign_certificate(ca, later, serial=0, key_id="no-serial"),
        "untouched": sign_certificate(ca, later, serial=100, key_id="y"),
        "later": later,
    }
    compare(krl, keys, tmp_path)
    assert isinstance(keys["by_serial"], Certificate)


def test_empty_krl(tmp_path: Path) -> None:
    krl = tmp_path / "krl"
    keygen("-k", "-f", krl)
    parsed = load_revoked_keys(krl)
    assert not parsed.certificates and not parsed.keys
    assert not parsed.is_revoked(generate_private_key("ed25519").public_key)


# -- sshd's RevokedKeys as the oracle for plain files (ssh-keygen -Q reads only KRLs) -------


@pytest.mark.skipif(not HAVE_OPENSSH, reason="needs sshd and ssh")
@pytest.mark.parametrize("kind", ["plain", "krl"])
def test_sshd_revoked_keys_agrees(kind: str, tmp_path: Path, sshd_factory: SshdFactory) -> None:
    """sshd refuses exactly the keys and certificates our reading says are revoked
    (with check_ca: sshd also checks a certificate's CA key against RevokedKeys)."""
    ca, other_ca = generate_private_key("ed25519"), generate_private_key("ed25519")
    # u3 holds certificates only: not in authorized_keys, so a login with it is the cert's.
    users = {f"u{i}": generate_private_key("ed25519") for i in range(4)}
    logins: dict[str, tuple[Path, Path | None, PublicKey]] = {}
    for name, key in users.items():
        path = tmp_path / name
        write_private_key_file(path, key)
        if name != "u3":
            logins[name] = (path, None, key.public_key)
    for name, (signer, serial, who) in {
        "cert_ca_ok": (other_ca, 1, "u3"),
        "cert_ca_revoked": (ca, 2, "u3"),
        "cert_of_revoked_key": (other_ca, 3, "u0"),
        "cert_serial": (other_ca, 7, "u3"),
    }.items():
        cert = sign_certificate(
            signer, users[who].public_key, serial=serial, principals=["root"], key_id=name
        )
        cert_path = tmp_path / f"{name}-cert.pub"
        cert_path.write_text(cert.to_line() + "\n")
        logins[name] = (tmp_path / who, cert_path, cert)
    revoked = tmp_path / "revoked"
    if kind == "plain":
        revoked.write_text(
            f"# plain list\n{users['u0'].public_key.to_line()}\n\n{ca.public_key.to_line()}\n"
        )
    else:
        spec = tmp_path / "spec"
        ca_pub = tmp_path / "other_ca.pub"
        ca_pub.write_text(other_ca.public_key.to_line() + "\n")
        spec.write_text(
            f"key: {users['u0'].public_key.to_line()}\nkey: {ca.public_key.to_line()}\nserial: 7\n"
        )
        keygen("-k", "-f", revoked, "-s", ca_pub, spec)
    authorized = tmp_path / "authorized_keys"
    authorized.write_text(
        "".join(u.public_key.to_line() + "\n" for n, u in users.items() if n != "u3")
    )
    cas = tmp_path / "cas"
    cas.write_text(ca.public_key.to_line() + "\n" + other_ca.public_key.to_line() + "\n")
    server = sshd_factory.start(
        PermitRootLogin="yes",
        AuthorizedKeysFile=str(authorized),
        TrustedUserCAKeys=str(cas),
        RevokedKeys=str(revoked),
    )
    ours = load_revoked_keys(revoked)
    assert ours.plain is (kind == "plain")
    verdicts = {}
    for name, (key_path, cert_path, public) in logins.items():
        options = {"IdentityFile": str(key_path)}
        if cert_path is not None:
            options["CertificateFile"] = str(cert_path)
        result = run_ssh(server.port, options, user="root")
        sshd_accepts = "Authenticated to 127.0.0.1" in result.log
        verdicts[name] = (sshd_accepts, not ours.is_revoked(public, check_ca=True))
    assert all(a == b for a, b in verdicts.values()), [(n, v) for n, v in verdicts.items()]
    accepted = {name for name, (a, _) in verdicts.items() if a}
    # Serial 7 is revoked only in the KRL (a plain file cannot name serials).
    expected = {"u1", "u2", "cert_ca_ok"} | ({"cert_serial"} if kind == "plain" else set())
    assert accepted == expected, verdicts
