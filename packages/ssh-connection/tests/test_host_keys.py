"""Host key policies on known_hosts files; ssh-keygen -H / -F as oracles where installed."""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from ssh_connection.config import LocalContext, SSHConfig
from ssh_connection.host_keys import (
    CallbackPolicy,
    HostCertificateInvalid,
    HostKeyChanged,
    HostKeyError,
    HostKeyOutcome,
    HostKeyRevoked,
    HostKeyUnknown,
    KnownHostsPolicy,
    policy_from_config,
)
from ssh_keys import CertType, KnownHosts, generate_private_key, sign_certificate
from ssh_keys.known_hosts import hash_host
from ssh_wire.errors import SSHError

SSH_KEYGEN = shutil.which("ssh-keygen")
needs_keygen = pytest.mark.skipif(SSH_KEYGEN is None, reason="ssh-keygen not installed")

ED = generate_private_key("ed25519")
ED2 = generate_private_key("ed25519")
EC = generate_private_key("ecdsa")
CA = generate_private_key("ed25519")
OTHER_CA = generate_private_key("ed25519")


def line(hosts: str, key: object, marker: str = "") -> str:
    text = f"{hosts} {key.public_key.to_line()}\n"  # type: ignore[attr-defined]
    return f"{marker} {text}" if marker else text


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "home" / ".ssh" / "known_hosts", tmp_path / "global_known_hosts"


def policy(files: tuple[Path, Path], mode: str = "strict", **kw: object) -> KnownHostsPolicy:
    user, glob = files
    return KnownHostsPolicy(mode, user_files=[user], global_files=[glob], **kw)  # type: ignore[arg-type]


def write(path: Path, text: str, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def test_strict_known_unknown_changed(files: tuple[Path, Path]) -> None:
    user, _ = files
    write(user, "# comment\n" + line("host.example,10.0.0.1", ED) + line("other", EC))
    p = policy(files)
    assert p.verify("host.example", 22, ED.public_key) is HostKeyOutcome.TRUSTED
    assert p.check("HOST.example", 22, ED.public_key)
    with pytest.raises(HostKeyChanged) as changed:
        p.verify("host.example", 22, ED2.public_key)
    err = changed.value
    assert (err.host, err.port, err.known_file, err.known_line) == (
        "host.example",
        22,
        str(user),
        2,
    )
    assert err.fingerprint == ED2.public_key.fingerprint()
    assert err.known_fingerprint == ED.public_key.fingerprint()
    assert isinstance(err, HostKeyError) and isinstance(err, SSHError)
    # Only another key type on record: a change too, as ssh reports it.
    with pytest.raises(HostKeyChanged):
        p.verify("host.example", 22, EC.public_key)
    with pytest.raises(HostKeyUnknown) as unknown:
        p.verify("nowhere", 22, EC.public_key)
    assert str(user) in unknown.value.files
    assert not p.check("nowhere", 22, ED.public_key)
    assert not user.with_name("known_hosts.tmp").exists()


def test_non_default_port_uses_bracket_names(files: tuple[Path, Path]) -> None:
    user, _ = files
    write(user, line("[host.example]:2222", ED) + line("host.example", EC))
    p = policy(files)
    assert p.check("host.example", 2222, ED.public_key)
    # Only an ECDSA key is known on port 22: an Ed25519 one there counts as a change.
    with pytest.raises(HostKeyChanged):
        p.verify("host.example", 22, ED.public_key)
    with pytest.raises(HostKeyChanged):
        p.verify("host.example", 2222, EC.public_key)
    # Not recorded for [host]:port at all: the bare name's entry is used, as ssh does.
    assert p.check("host.example", 2200, EC.public_key)
    assert not p.check("host.example", 2200, ED2.public_key)
    with pytest.raises(HostKeyUnknown):  # a different key under the bare name is no change
        p.verify("host.example", 2200, generate_private_key("ecdsa").public_key)


def test_global_file_and_several_files(files: tuple[Path, Path]) -> None:
    user, glob = files
    write(user, line("a", EC))
    write(glob, line("b", ED))
    p = policy(files)
    assert p.check("b", 22, ED.public_key)
    assert p.check("a", 22, EC.public_key)
    # A change in the global file is still a change, located there.
    with pytest.raises(HostKeyChanged) as info:
        p.verify("b", 22, ED2.public_key)
    assert info.value.known_file == str(glob)


def test_accept_new_adds_then_refuses_changes(files: tuple[Path, Path]) -> None:
    user, _ = files
    p = policy(files, "accept-new")
    assert p.verify("new.example", 2200, ED.public_key) is HostKeyOutcome.ADDED
    assert stat.S_IMODE(user.parent.stat().st_mode) == 0o700
    assert "[new.example]:2200 ssh-ed25519 " in user.read_text()
    assert p.verify("new.example", 2200, ED.public_key) is HostKeyOutcome.TRUSTED
    before = user.read_text()
    with pytest.raises(HostKeyChanged):
        p.verify("new.example", 2200, ED2.public_key)
    assert user.read_text() == before


def test_appending_keeps_mode_and_lines(files: tuple[Path, Path]) -> None:
    user, _ = files
    original = "# keep me\n" + line("a", EC)
    write(user, original, 0o640)
    policy(files, "accept-new").verify("b", 22, ED.public_key)
    assert stat.S_IMODE(user.stat().st_mode) == 0o640
    assert user.read_text().startswith(original)


def test_hashed_entries_written_and_read(files: tuple[Path, Path]) -> None:
    user, _ = files
    p = policy(files, "accept-new", hash_new=True)
    p.verify("hashed.example", 22, ED.public_key)
    text = user.read_text()
    assert text.startswith("|1|") and "hashed.example" not in text
    assert p.verify("hashed.example", 22, ED.public_key) is HostKeyOutcome.TRUSTED
    write(user, f"{hash_host('[h2]:2022')} {EC.public_key.to_line()}\n")
    assert p.check("h2", 2022, EC.public_key)


@needs_keygen
def test_ssh_keygen_hashed_file_and_lookup(files: tuple[Path, Path]) -> None:
    user, _ = files
    write(user, line("plain.example", ED) + line("[ported.example]:2022", EC))
    subprocess.run([SSH_KEYGEN, "-H", "-f", str(user)], check=True, capture_output=True)
    assert "plain.example" not in user.read_text()
    p = policy(files)
    assert p.check("plain.example", 22, ED.public_key)
    assert p.check("ported.example", 2022, EC.public_key)
    assert not p.check("ported.example", 22, EC.public_key)
    # Keys we add are found by ssh-keygen -F, hashed or not.
    policy(files, "accept-new", hash_new=True).verify("added.example", 2200, ED2.public_key)
    policy(files, "accept-new").verify("plain2.example", 22, ED2.public_key)
    for name in ("[added.example]:2200", "plain2.example"):
        out = subprocess.run(
            [SSH_KEYGEN, "-F", name, "-f", str(user)], capture_output=True, text=True, check=False
        )
        assert out.returncode == 0, name
        assert ED2.public_key.to_line().split()[1] in out.stdout


def test_warn_mode_accepts_with_warnings(
    files: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    user, _ = files
    write(user, line("w", ED))
    p = policy(files, "warn")
    with caplog.at_level(logging.WARNING, logger="ssh_connection.host_keys"):
        assert p.verify("w", 22, ED2.public_key) is HostKeyOutcome.ACCEPTED_CHANGED
        assert p.verify("w2", 22, ED.public_key) is HostKeyOutcome.ADDED
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "HOST KEY CHANGED" in messages and f"{user}:1" in messages
    assert "Permanently added w2" in messages


def test_ask_mode(files: tuple[Path, Path]) -> None:
    asked: list[tuple[str, int]] = []

    def ask(host: str, port: int, key: object, problem: HostKeyError) -> bool:
        asked.append((host, port))
        assert isinstance(problem, HostKeyUnknown)
        return host == "yes"

    p = policy(files, "ask", ask=ask)
    assert p.verify("yes", 22, ED.public_key) is HostKeyOutcome.ADDED
    with pytest.raises(HostKeyUnknown):
        p.verify("no", 22, ED.public_key)
    with pytest.raises(HostKeyChanged):
        p.verify("yes", 22, ED2.public_key)  # changed keys are never asked about
    assert asked == [("yes", 22), ("no", 22)]
    with pytest.raises(ValueError, match="ask"):
        policy(files, "ask")


@pytest.mark.parametrize("mode", ["strict", "accept-new", "warn"])
def test_revoked_always_refused(files: tuple[Path, Path], mode: str) -> None:
    user, glob = files
    write(user, line("r", ED))
    write(glob, line("*", ED, "@revoked"))
    p = policy(files, mode)
    with pytest.raises(HostKeyRevoked) as info:
        p.verify("r", 22, ED.public_key)
    assert (info.value.file, info.value.line) == (str(glob), 1)
    assert not p.check("elsewhere", 22, ED.public_key)


def host_cert(principals: list[str], ca: object = CA, **kw: object) -> object:
    return sign_certificate(
        ca,  # type: ignore[arg-type]
        ED.public_key,
        cert_type=kw.pop("cert_type", CertType.HOST),  # type: ignore[arg-type]
        principals=principals,
        **kw,  # type: ignore[arg-type]
    )


def test_cert_authority(files: tuple[Path, Path]) -> None:
    user, _ = files
    write(user, line("*.example.com", CA, "@cert-authority"))
    p = policy(files)
    good = host_cert(["web.example.com"])
    assert p.verify("web.example.com", 22, good) is HostKeyOutcome.CERTIFIED  # type: ignore[arg-type]
    # A non-22 port is looked up as [host]:port, then (as ssh) as the bare name.
    assert p.verify("web.example.com", 2222, good) is HostKeyOutcome.CERTIFIED  # type: ignore[arg-type]
    write(user, line("[*.example.com]:*", CA, "@cert-authority"))
    assert p.verify("web.example.com", 2222, good) is HostKeyOutcome.CERTIFIED  # type: ignore[arg-type]
    assert not p.check("web.example.com", 22, good)  # type: ignore[arg-type]
    write(user, line("*.example.com", CA, "@cert-authority"))
    wildcard = host_cert(["*.example.com"])
    assert p.check("db.example.com", 22, wildcard)  # type: ignore[arg-type]
    for bad, why in [
        (host_cert(["other.example.com"]), "principal"),
        (host_cert(["web.example.com"], valid_before=1000), "expired"),
        (host_cert(["web.example.com"], cert_type=CertType.USER), "host certificate"),
    ]:
        with pytest.raises(HostCertificateInvalid, match=why):
            p.verify("web.example.com", 22, bad)  # type: ignore[arg-type]
    # A CA not trusted for the host: the certified key is checked as a plain key.
    untrusted = host_cert(["web.example.com"], ca=OTHER_CA)
    with pytest.raises(HostKeyUnknown):
        p.verify("web.example.com", 22, untrusted)  # type: ignore[arg-type]
    write(user, line("*.example.com", CA, "@cert-authority") + line("web.example.com", ED))
    assert p.verify("web.example.com", 22, untrusted) is HostKeyOutcome.TRUSTED  # type: ignore[arg-type]
    # Revoking the CA refuses every certificate it signed.
    write(user, line("*.example.com", CA, "@cert-authority") + line("*", CA, "@revoked"))
    with pytest.raises(HostKeyRevoked):
        p.verify("web.example.com", 22, good)  # type: ignore[arg-type]


def test_accept_new_records_the_plain_key_of_a_certificate(files: tuple[Path, Path]) -> None:
    user, _ = files
    cert = host_cert(["c"], ca=OTHER_CA)
    policy(files, "accept-new").verify("c", 22, cert)  # type: ignore[arg-type]
    assert ED.public_key.to_line().split()[1] in user.read_text()
    assert "cert" not in user.read_text()


def test_host_key_alias(files: tuple[Path, Path]) -> None:
    user, _ = files
    write(user, line("the-alias", ED))
    p = policy(files, host_key_alias="the-alias")
    assert p.check("10.1.2.3", 2222, ED.public_key)
    assert not policy(files).check("10.1.2.3", 2222, ED.public_key)


def test_for_host_raises_and_callback_policy(files: tuple[Path, Path]) -> None:
    hook = policy(files).for_host("nowhere", 22)
    with pytest.raises(HostKeyUnknown):
        hook(ED.public_key, "ssh-ed25519")
    cb = CallbackPolicy(lambda host, port, key: host == "ok")
    assert cb("ok", 22, ED.public_key) and not cb.check("no", 22, ED.public_key)
    assert cb.for_host("ok")(ED.public_key, "ssh-ed25519")
    with pytest.raises(HostKeyError, match="refused"):
        cb.verify("no", 22, ED.public_key)


def test_policy_from_config(tmp_path: Path) -> None:
    ctx = LocalContext(user="me", home=str(tmp_path), uid=os.getuid(), hostname="local")
    cfg = SSHConfig.from_text(
        "Host s\n StrictHostKeyChecking accept-new\n HashKnownHosts yes\n"
        " UserKnownHostsFile ~/kh %d/kh2\n GlobalKnownHostsFile none\n"
        "Host b\n BatchMode yes\n",
        context=ctx,
    )
    p = policy_from_config(cfg.resolve("s"))
    assert p.mode == "accept-new" and p.hash_new
    assert p.user_files == (f"{tmp_path}/kh", f"{tmp_path}/kh2") and p.global_files == ()
    assert policy_from_config(cfg.resolve("x")).mode == "strict"  # ask without a callback
    assert policy_from_config(cfg.resolve("x"), ask=lambda *a: True).mode == "ask"
    assert policy_from_config(cfg.resolve("b"), ask=lambda *a: True).mode == "strict"
    with pytest.raises(ValueError, match="mode"):
        KnownHostsPolicy("maybe")  # type: ignore[arg-type]


def test_appending_through_a_symlink_keeps_the_link(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    user, _ = files
    target = tmp_path / "dotfiles" / "known_hosts"
    write(target, line("a", EC))
    user.parent.mkdir(parents=True)
    user.symlink_to(target)
    policy(files, "accept-new").verify("b", 22, ED.public_key)
    assert user.is_symlink()
    assert "b ssh-ed25519" in target.read_text()


def test_unreadable_or_unwritable_files(files: tuple[Path, Path], tmp_path: Path) -> None:
    user, glob = files
    glob.mkdir()  # a directory where a file should be: skipped like an unreadable file
    write(user, line("a", ED))
    assert policy(files).check("a", 22, ED.public_key)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    p = KnownHostsPolicy("accept-new", user_files=[blocker / "known_hosts"], global_files=[])
    assert p.verify("b", 22, ED.public_key) is HostKeyOutcome.ACCEPTED_NOT_RECORDED
    bad_name = policy(files, "accept-new", hash_new=True)
    assert bad_name.verify("w*ld", 22, ED.public_key) is HostKeyOutcome.ACCEPTED_NOT_RECORDED
    nowhere = KnownHostsPolicy("accept-new", user_files=[], global_files=[])
    assert nowhere.verify("c", 22, ED.public_key) is HostKeyOutcome.ACCEPTED_NOT_RECORDED
    assert KnownHostsPolicy(home=str(tmp_path)).user_files[0] == f"{tmp_path}/.ssh/known_hosts"


def test_concurrent_accept_new_loses_no_entries(files: tuple[Path, Path]) -> None:
    """Many connections recording new hosts at once (a many-hosts run) each add a line."""
    import threading

    checker = policy(files, "accept-new")
    keys = [generate_private_key("ed25519").public_key for _ in range(16)]
    threads = [
        threading.Thread(target=checker.verify, args=(f"host{i}", 22, key))
        for i, key in enumerate(keys)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    known = KnownHosts.load(files[0])
    assert [known.lookup(f"host{i}", 22).trusted_keys for i in range(16)] == [(k,) for k in keys]


def test_appending_after_a_line_without_newline(files: tuple[Path, Path]) -> None:
    user = files[0]
    old = generate_private_key("ed25519").public_key
    write(user, f"old {old.to_line()}")  # no final newline
    new = generate_private_key("ed25519").public_key
    policy(files, "accept-new").verify("new", 22, new)
    known = KnownHosts.load(user)
    assert known.lookup("old", 22).trusted_keys == (old,)
    assert known.lookup("new", 22).trusted_keys == (new,)
