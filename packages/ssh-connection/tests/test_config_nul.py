"""A NUL byte in a configuration line is a clear error naming the line, in both parsers
(found by fuzz/: ``Include ~\\0x`` reached pwd.getpwnam and os.path.expanduser, which
raise a bare ValueError on NUL)."""

from __future__ import annotations

import pytest

from ssh_connection.config import ConfigError, LocalContext, SSHConfig
from ssh_connection.sshd_config import SshdConfigError, parse_sshd_config

CTX = LocalContext(user="me", home="/nonexistent-home", uid=1000, hostname="box", env={})


@pytest.mark.parametrize("line", ["Include ~\0x/y", "HostName a\0b", "User \0"])
def test_ssh_config_line_with_nul(line: str) -> None:
    with pytest.raises(ConfigError, match="NUL byte") as info:
        SSHConfig.from_text(f"Port 22\n{line}\n", context=CTX).resolve("host")
    assert info.value.line == 2


def test_ssh_config_option_with_nul() -> None:
    with pytest.raises(ConfigError, match="NUL byte"):
        SSHConfig.from_text("", context=CTX).resolve("host", options=["User a\0b"])


@pytest.mark.parametrize("line", ["Include ~\0x/y", "HostKey /a\0b"])
def test_sshd_config_line_with_nul(line: str) -> None:
    with pytest.raises(SshdConfigError, match="NUL byte") as info:
        parse_sshd_config(f"Port 22\n{line}\n", filename="cfg")
    assert "cfg" in str(info.value) and "2" in str(info.value)
