"""Whatever the text, evaluation ends in a HostConfig or a ConfigError, never another error."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ssh_connection.config import ConfigError, HostConfig, LocalContext, SSHConfig

CTX = LocalContext(user="me", home="/nonexistent-home", uid=1000, hostname="box", env={"X": "1"})

KEYWORDS = [
    "Host",
    "Match",
    "HostName",
    "Port",
    "User",
    "IdentityFile",
    "CertificateFile",
    "ProxyJump",
    "ProxyCommand",
    "LocalForward",
    "RemoteForward",
    "DynamicForward",
    "SendEnv",
    "SetEnv",
    "RekeyLimit",
    "ConnectTimeout",
    "StrictHostKeyChecking",
    "UserKnownHostsFile",
    "ControlPersist",
    "ForwardAgent",
    "IgnoreUnknown",
    "LogLevel",
    "IdentityAgent",
    "ControlPath",
    "Include",
    "Bogus",
    "PubkeyAuthentication",
]
PIECES = [
    "",
    " ",
    "=",
    '"',
    "'",
    "\\",
    "#",
    "%",
    "%h",
    "%%",
    "${X}",
    "${",
    "~",
    "~x/",
    "[",
    "]",
    ":",
    "::1",
    "@",
    ",",
    "!",
    "*",
    "?",
    "all",
    "final",
    "canonical",
    "host",
    "exec",
    "user",
    "none",
    "yes",
    "no",
    "0",
    "22",
    "65536",
    "1G",
    "1m",
    "/tmp/s",
    "a",
    "b.c",
    "\t",
    "-",
]

line = st.builds(
    lambda kw, parts, sep: kw + sep + "".join(parts),
    st.sampled_from(KEYWORDS),
    st.lists(st.sampled_from(PIECES), max_size=8),
    st.sampled_from([" ", "=", " = ", "\t"]),
)
texts = st.lists(st.one_of(line, st.text(max_size=30)), max_size=12).map("\n".join)


@settings(max_examples=400, deadline=None)
@given(texts, st.sampled_from(["a", "b.c", "UPPER", "u@a"]))
def test_only_config_errors(text: str, host: str) -> None:
    config = SSHConfig.from_text(text, filename="fuzz", context=CTX)
    result: HostConfig | ConfigError
    try:
        result = config.resolve(host, run_exec=lambda command: len(command) % 2 == 0)
    except ConfigError as exc:
        result = exc
    if isinstance(result, ConfigError):
        assert result.file in ("fuzz", None) or result.file.startswith("/")
    else:
        assert isinstance(result, HostConfig)
