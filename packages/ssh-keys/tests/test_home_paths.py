"""File-reading functions expand ``~`` the way ssh does for its own paths."""

from __future__ import annotations

from pathlib import Path

import pytest

import ssh_keys


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".ssh").mkdir()
    return tmp_path


def test_key_files_known_hosts_and_authorized_keys_expand_home(home: Path) -> None:
    key = ssh_keys.generate_private_key("ed25519", comment="me")
    ssh_keys.write_private_key_file(home / ".ssh" / "id_ed25519", key)
    (home / ".ssh" / "id_ed25519.pub").write_text(key.public_key.to_line("me") + "\n")
    (home / ".ssh" / "authorized_keys").write_text(key.public_key.to_line() + "\n")
    known = ssh_keys.KnownHosts("")
    known.add("example.org", 22, key.public_key)
    known.save(home / ".ssh" / "known_hosts")

    loaded = ssh_keys.read_private_key_file("~/.ssh/id_ed25519")
    assert loaded.public_key == key.public_key
    assert ssh_keys.read_public_key_file("~/.ssh/id_ed25519.pub").key == key.public_key
    assert list(ssh_keys.AuthorizedKeys.load("~/.ssh/authorized_keys").find(key.public_key))
    status = ssh_keys.KnownHosts.load("~/.ssh/known_hosts").check("example.org", 22, key.public_key)
    assert status is ssh_keys.HostKeyStatus.TRUSTED
