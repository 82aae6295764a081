"""hostkeys-00 / hostkeys-prove-00 on the client: parsing the announcement, checking the
proofs, and the known_hosts edits UpdateHostKeys makes (in memory and on temp files; the
real exchange with sshd is tests/interop/test_client_hostkey_update.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssh_connection import forwarding as fw
from ssh_connection.hostkey_update import (
    HostKeyProofInvalid,
    HostKeyUpdater,
    parse_announced_keys,
    proof_data,
    verify_proofs,
)
from ssh_keys import KnownHosts, generate_private_key
from ssh_wire import DecodeError

SESSION = b"\x01" * 32
A, B, C = (generate_private_key("ed25519") for _ in range(3))
R = generate_private_key("rsa", 2048)


def _proofs(*keys, session=SESSION, algorithm=None):  # type: ignore[no-untyped-def]
    return fw.encode_strings(k.sign(proof_data(session, k.public_key), algorithm) for k in keys)


def test_announcement_parsed_deduplicated_unknown_types_skipped() -> None:
    data = fw.encode_strings([A.public_key.blob, b"\x00\x00\x00\x07unknown", A.public_key.blob])
    assert parse_announced_keys(data) == [A.public_key]


def test_malformed_announcement_is_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        parse_announced_keys(b"\x00\x00\x01\x00abc")


def test_valid_proofs_pass() -> None:
    verify_proofs(_proofs(A, B), [A.public_key, B.public_key], SESSION)
    verify_proofs(_proofs(R, algorithm="rsa-sha2-512"), [R.public_key], SESSION)


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(lambda: _proofs(B, A), id="swapped"),
        pytest.param(lambda: _proofs(A, B, session=b"\x02" * 32), id="other-session"),
        pytest.param(lambda: _proofs(A), id="missing"),
        pytest.param(lambda: b"\x00\x00\x00", id="malformed"),
    ],
)
def test_bad_proofs_are_refused(reply) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(HostKeyProofInvalid):
        verify_proofs(reply(), [A.public_key, B.public_key], SESSION)


def test_sha1_rsa_proof_is_refused() -> None:
    with pytest.raises(HostKeyProofInvalid):
        verify_proofs(_proofs(R, algorithm="ssh-rsa"), [R.public_key], SESSION)


def _file(tmp_path: Path, *lines: tuple[str, int, object, bool]) -> Path:
    known = KnownHosts()
    for host, port, key, hashed in lines:
        known.add(host, port, key.public_key, hashed)  # type: ignore[attr-defined]
    path = tmp_path / "known_hosts"
    known.save(path)
    return path


def test_plan_adds_new_and_removes_gone_keys_leaving_other_hosts(tmp_path: Path) -> None:
    path = _file(tmp_path, ("h", 2222, A, False), ("other", 22, A, False), ("h", 2222, C, True))
    updater = HostKeyUpdater(path, "h", 2222)
    new, gone, skipped = updater.plan([A.public_key, B.public_key], A.public_key)
    assert (new, gone, skipped) == ([B.public_key], [C.public_key], None)
    updater.apply(new, gone)
    known = KnownHosts.load(path)
    assert set(known.lookup("h", 2222).trusted_keys) == {A.public_key, B.public_key}
    assert known.lookup("other", 22).trusted_keys == (A.public_key,)
    # the host had a hashed line: the new one is hashed too
    assert [e.hashed for e in known.lookup("h", 2222).entries] == [False, True]


def test_plan_skips_when_the_connection_key_was_not_announced(tmp_path: Path) -> None:
    path = _file(tmp_path, ("h", 22, A, False))
    assert HostKeyUpdater(path, "h", 22).plan([B.public_key], A.public_key)[2] is not None


def test_plan_skips_lines_that_are_patterns(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    path.write_text(f"h* {A.public_key.to_line()}\n")
    new, gone, skipped = HostKeyUpdater(path, "h", 22).plan(
        [A.public_key, B.public_key], A.public_key
    )
    assert (new, gone) == ([], []) and skipped is not None and "pattern" in skipped


def test_keys_known_in_other_files_are_not_added_again(tmp_path: Path) -> None:
    path = _file(tmp_path, ("h", 22, A, False))
    system = tmp_path / "system"
    other = KnownHosts()
    other.add("h", 22, B.public_key)
    other.save(system)
    updater = HostKeyUpdater(path, "h", 22, other_files=[system])
    assert updater.plan([A.public_key, B.public_key], A.public_key) == ([], [], None)


def test_rewrite_and_concurrent_appends_lose_no_lines(tmp_path: Path) -> None:
    """An UpdateHostKeys rewrite while other connections append new hosts (accept-new)."""
    import threading

    from ssh_connection.host_keys import KnownHostsPolicy

    path = _file(tmp_path, ("h", 22, A, False), ("h", 22, C, False))
    appender = KnownHostsPolicy("accept-new", user_files=[path], global_files=())
    updater = HostKeyUpdater(path, "h", 22)
    others = [generate_private_key("ed25519").public_key for _ in range(12)]
    threads = [
        threading.Thread(target=appender.verify, args=(f"n{i}", 22, key))
        for i, key in enumerate(others)
    ]
    threads.insert(6, threading.Thread(target=updater.apply, args=([B.public_key], [C.public_key])))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    known = KnownHosts.load(path)
    assert set(known.lookup("h", 22).trusted_keys) == {A.public_key, B.public_key}
    assert [known.lookup(f"n{i}", 22).trusted_keys for i in range(12)] == [(k,) for k in others]
