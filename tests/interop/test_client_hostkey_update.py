"""UpdateHostKeys with our client against OpenSSH's sshd: sshd announces its host keys
(hostkeys-00@openssh.com) after login; we have it prove the new ones
(hostkeys-prove-00@openssh.com) and rewrite known_hosts. The sshd runs with two host keys,
then is restarted on the same port with one of them rotated out and a new one in.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from openssh_tools import HostKeyFiles, Sshd

from ssh_connection import sync
from ssh_keys import KnownHosts, PublicKey
from ssh_keys.keyfile import read_public_key_file
from ssh_transport import TransportConfig

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("sshd") is None, reason="OpenSSH sshd not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="sshd interop needs root (CI runs as root)"),
]


@dataclass
class KeyedSshd(Sshd):
    """An sshd with exactly ``host_keys`` (no certificates), on ``fixed_port`` if set."""

    host_keys: list[Path] = field(default_factory=list)
    fixed_port: int = 0

    def write_config(self) -> None:
        if self.fixed_port:
            self.port = self.fixed_port
        lines = [f"HostKey {path}" for path in self.host_keys]
        settings = {
            "ListenAddress": "127.0.0.1",
            "Port": str(self.port),
            "UsePAM": "no",
            "StrictModes": "no",
            "PidFile": "none",
            "LogLevel": "DEBUG3",
            "PermitRootLogin": "yes",
            "PubkeyAuthentication": "yes",
            "PasswordAuthentication": "no",
            "KbdInteractiveAuthentication": "no",
            **self.options,
        }
        lines += [f"{k} {v}" for k, v in settings.items()]
        self.config_path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("rotkeys")
    made = {}
    for name, kind in (("a", "ed25519"), ("b", "ecdsa"), ("c", "ed25519"), ("user", "ed25519")):
        path = d / name
        subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path)], check=True)
        made[name] = path
    (d / "authorized_keys").write_text(Path(f"{made['user']}.pub").read_text())
    return made


def _public(path: Path) -> PublicKey:
    return read_public_key_file(f"{path}.pub").key


@pytest.fixture
def start(tmp_path: Path, keys: dict[str, Path], host_key_files: HostKeyFiles) -> Iterator[object]:
    started: list[KeyedSshd] = []

    def run(names: list[str], port: int = 0) -> KeyedSshd:
        server = KeyedSshd(
            tmp_path / f"sshd{len(started)}",
            host_key_files,
            {"AuthorizedKeysFile": str(keys["user"].parent / "authorized_keys")},
            host_keys=[keys[n] for n in names],
            fixed_port=port,
        )
        started.append(server)
        return server.start()  # type: ignore[return-value]

    yield run
    for server in started:
        server.stop()


def _config(tmp_path: Path, keys: dict[str, Path], port: int, extra: str = "") -> Path:
    path = tmp_path / "config"
    path.write_text(
        f"""
Host rotating
    HostName 127.0.0.1
    Port {port}
    User root
    IdentityFile {keys["user"]}
    IdentitiesOnly yes
    IdentityAgent none
    UserKnownHostsFile {tmp_path}/known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    HostKeyAlgorithms ssh-ed25519,ecdsa-sha2-nistp256
{extra}
"""
    )
    return path


def _recorded(tmp_path: Path, port: int) -> set[PublicKey]:
    return set(KnownHosts.load(tmp_path / "known_hosts").lookup("127.0.0.1", port).trusted_keys)


def test_new_key_added_then_rotated_key_removed(
    tmp_path: Path, keys: dict[str, Path], start
) -> None:  # type: ignore[no-untyped-def]
    a, b, c = _public(keys["a"]), _public(keys["b"]), _public(keys["c"])
    first = start(["a", "b"])
    known = KnownHosts()
    known.add("127.0.0.1", first.port, a)
    known.save(tmp_path / "known_hosts")
    config = _config(tmp_path, keys, first.port, "    UpdateHostKeys yes")

    with sync.connect("rotating", ssh_config=config) as conn:
        update = conn.wait_host_keys()
        assert set(update.announced) == {a, b}
        assert (update.added, update.removed, update.skipped) == ((b,), (), None)
    assert _recorded(tmp_path, first.port) == {a, b}
    assert "hostkeys-prove-00@openssh.com" in first.log_text()

    # Rotate: a goes, c comes; we log in with b, the key both servers share.
    first.stop()
    second = start(["b", "c"], port=first.port)
    ecdsa_only = TransportConfig(host_key_algorithms="ecdsa-sha2-nistp256")
    with sync.connect("rotating", ssh_config=config, config=ecdsa_only) as conn:
        update = conn.wait_host_keys()
        assert (update.added, update.removed) == ((c,), (a,))
    assert _recorded(tmp_path, second.port) == {b, c}
    # StrictHostKeyChecking yes now trusts the new ed25519 key c.
    with sync.connect("rotating", ssh_config=config) as conn:
        assert conn.transport.host_key == c
        assert conn.wait_host_keys().added == ()


def test_hashed_known_hosts_stay_hashed(tmp_path: Path, keys: dict[str, Path], start) -> None:  # type: ignore[no-untyped-def]
    a, b = _public(keys["a"]), _public(keys["b"])
    server = start(["a", "b"])
    known = KnownHosts()
    known.add("127.0.0.1", server.port, a, hashed=True)
    known.save(tmp_path / "known_hosts")
    config = _config(tmp_path, keys, server.port, "    UpdateHostKeys yes")
    with sync.connect("rotating", ssh_config=config) as conn:
        assert conn.wait_host_keys().added == (b,)
    lines = (tmp_path / "known_hosts").read_text().splitlines()
    assert len(lines) == 2 and all(line.startswith("|1|") for line in lines)
    assert _recorded(tmp_path, server.port) == {a, b}


def test_update_is_off_unless_asked(tmp_path: Path, keys: dict[str, Path], start) -> None:  # type: ignore[no-untyped-def]
    a, b = _public(keys["a"]), _public(keys["b"])
    server = start(["a", "b"])
    known = KnownHosts()
    known.add("127.0.0.1", server.port, a)
    known.save(tmp_path / "known_hosts")
    before = (tmp_path / "known_hosts").read_text()
    config = _config(tmp_path, keys, server.port)  # a UserKnownHostsFile: ssh's default is no
    with sync.connect("rotating", ssh_config=config) as conn:
        update = conn.wait_host_keys()
        assert set(update.announced) == {a, b} and update.skipped is not None
        assert conn.server_host_keys is not None and set(conn.server_host_keys) == {a, b}
    assert (tmp_path / "known_hosts").read_text() == before


def test_shared_line_is_left_alone(tmp_path: Path, keys: dict[str, Path], start) -> None:  # type: ignore[no-untyped-def]
    a = _public(keys["a"])
    server = start(["a", "b"])
    line = f"[127.0.0.1]:{server.port},otherhost {a.to_line()}\n"
    (tmp_path / "known_hosts").write_text(line)
    config = _config(tmp_path, keys, server.port, "    UpdateHostKeys yes")
    with sync.connect("rotating", ssh_config=config) as conn:
        update = conn.wait_host_keys()
        assert update.added == () and update.skipped is not None
        assert "more hosts" in update.skipped
    assert (tmp_path / "known_hosts").read_text() == line
