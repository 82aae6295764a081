"""ssh_config parsing and evaluation (the ssh -G comparison is in tests/interop)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ssh_connection.config import (
    DEFAULT_IDENTITY_FILES,
    ConfigError,
    Forward,
    HostConfig,
    LocalContext,
    ProxyHop,
    SSHConfig,
    transport_config,
)
from ssh_wire.errors import SSHError


@pytest.fixture
def ctx(tmp_path: Path) -> LocalContext:
    return LocalContext(
        user="me",
        home=str(tmp_path / "home"),
        uid=os.getuid(),
        hostname="box.local.example",
        env={"HOME": str(tmp_path / "home"), "SOCK": "/run/s.sock"},
        home_of=lambda name: "/home/" + name if name == "other" else None,
    )


def resolve(text: str, host: str, ctx: LocalContext, **kw: object) -> HostConfig:
    return SSHConfig.from_text(text, filename="cfg", context=ctx).resolve(host, **kw)  # type: ignore[arg-type]


def test_defaults(ctx: LocalContext) -> None:
    cfg = resolve("", "Example.COM", ctx)
    assert (cfg.host, cfg.hostname, cfg.port, cfg.user) == ("Example.COM", "example.com", 22, "me")
    assert cfg.identity_files == tuple(p.replace("~", ctx.home) for p in DEFAULT_IDENTITY_FILES)
    assert cfg.user_known_hosts_files == (
        f"{ctx.home}/.ssh/known_hosts",
        f"{ctx.home}/.ssh/known_hosts2",
    )
    assert cfg.strict_host_key_checking == "ask" and cfg.update_host_keys == "yes"
    assert cfg.proxy_jump == () and cfg.proxy_command is None
    assert cfg.kex_algorithms is None and cfg.connect_timeout is None


def test_syntax_forms(ctx: LocalContext) -> None:
    text = (
        "  # indented comment\n"
        "\n"
        "HOST=h\n"
        "  port=2222\n"
        "  User = 'quoted name'\n"
        '  IdentityFile "/k/with space" # trailing comment\n'
        "  IdentityFile /k/esc\\ aped\n"
        "  SendEnv\tA\tB\r\n"
        "  ProxyCommand   sh -c 'nc %h %p'  \n"
    )
    cfg = resolve(text, "h", ctx)
    assert cfg.port == 2222 and cfg.user == "quoted name"
    assert cfg.identity_files == ("/k/with space", "/k/esc aped")
    assert cfg.send_env == ("A", "B")
    assert cfg.proxy_command == "sh -c 'nc h 2222'"


def test_first_value_wins_lists_accumulate(ctx: LocalContext) -> None:
    text = """
Host h
  Port 1
  IdentityFile /a
  LocalForward 1 x:1
Host *
  Port 2
  IdentityFile /b
  IdentityFile /a
  LocalForward 2 y:2
  CertificateFile /c
  UserKnownHostsFile /k1 /k2
  UserKnownHostsFile /k3
"""
    cfg = resolve(text, "h", ctx)
    assert cfg.port == 1
    assert cfg.identity_files == ("/a", "/b")
    assert [f.listen_port for f in cfg.local_forwards] == [1, 2]
    assert cfg.certificate_files == ("/c",)
    assert cfg.user_known_hosts_files == ("/k1", "/k2")
    assert cfg.update_host_keys == "no"


def test_host_patterns(ctx: LocalContext) -> None:
    text = """
Host *.example.com !secret.example.com
  User wild
Host ?
  User single
Host *
  User other
"""
    assert resolve(text, "a.example.com", ctx).user == "wild"
    assert resolve(text, "secret.example.com", ctx).user == "other"
    assert resolve(text, "x", ctx).user == "single"
    assert resolve(text, "A.EXAMPLE.COM", ctx).user == "other"  # Host is case-sensitive


def test_match_criteria(ctx: LocalContext) -> None:
    text = """
Host alias
  HostName %h.real
Match host *.real user me
  Port 10
Match originalhost ALIAS
  User by-original
Match localuser me !host nothing
  ServerAliveInterval 5
Match all
  Compression yes
"""
    cfg = resolve(text, "alias", ctx)
    assert (cfg.hostname, cfg.port, cfg.user) == ("alias.real", 10, "by-original")
    assert cfg.server_alive_interval == 5 and cfg.compression
    assert resolve(text, "bob@alias", ctx).port == 22  # Match user sees the -l / user@ name


def test_match_final_second_pass(ctx: LocalContext) -> None:
    text = """
Host short
  HostName Full.Example
Host full.example
  Port 99
Match final host full.example
  User final
Match canonical
  BatchMode yes
"""
    cfg = resolve(text, "short", ctx)
    assert (cfg.hostname, cfg.port, cfg.user) == ("full.example", 99, "final")
    assert cfg.batch_mode


def test_match_exec(ctx: LocalContext) -> None:
    text = 'Match exec "check %h %p %r %n %u %%"\n  Port 7\nMatch host no exec x\n  Port 8\n'
    seen: list[str] = []
    cfg = resolve(text, "e", ctx, run_exec=lambda c: seen.append(c) or True)
    assert cfg.port == 7 and seen == ["check e 22 me e me %"]
    with pytest.raises(ConfigError, match="run_exec") as info:
        resolve(text, "e", ctx)
    assert (info.value.file, info.value.line) == ("cfg", 1)
    assert resolve(text, "e", ctx, run_exec=lambda c: False).port == 22


def test_tokens_and_environment(ctx: LocalContext) -> None:
    text = """
Host t
  HostName %h.d
  User u
  Port 2200
  HostKeyAlias alias
  IdentityFile ~/id_%h_%p_%r_%u_%n_%k_%L_%l_%i_%%
  IdentityFile %d/x
  IdentityFile ~other/key
  CertificateFile ${HOME}/cert
  IdentityAgent ${SOCK}
  ControlPath /tmp/%C
  LocalForward /tmp/%h.sock /remote/${SOCK}
  RemoteForward 80 ${SOCK}/not-a-path-var:1
"""
    cfg = resolve(text.replace("  RemoteForward 80 ${SOCK}/not-a-path-var:1\n", ""), "t", ctx)
    uid = os.getuid()
    assert cfg.identity_files == (
        f"{ctx.home}/id_t.d_2200_u_me_t_alias_box_box.local.example_{uid}_%",
        f"{ctx.home}/x",
        "/home/other/key",
    )
    assert cfg.certificate_files == (f"{ctx.home}/cert",)
    assert cfg.identity_agent == "/run/s.sock"
    assert cfg.control_path is not None and len(cfg.control_path) == len("/tmp/") + 40
    assert cfg.local_forwards == (
        Forward(listen_path="/tmp/t.d.sock", connect_path="/remote//run/s.sock"),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("IdentityFile ~/%z\n", "unknown token %z"),
        ("IdentityFile ~/%\n", "end of string"),
        ("IdentityFile ${NOPE}/x\n", "NOPE"),
        ("IdentityFile ${HOME\n", "unterminated"),
        ("IdentityFile ~nobody/x\n", "no such user"),
        ("HostName %p.x\n", "unknown token %p"),
        ("ProxyCommand nc %u\n", "unknown token %u"),
    ],
)
def test_expansion_errors(ctx: LocalContext, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve(text, "h", ctx)


def test_proxy_jump_forms(ctx: LocalContext) -> None:
    cfg = resolve("ProxyJump a@j1:2200,ssh://b@[::1]:23,j3\n", "h", ctx)
    assert cfg.proxy_jump == (
        ProxyHop("j1", "a", 2200),
        ProxyHop("::1", "b", 23),
        ProxyHop("j3"),
    )
    assert resolve("ProxyJump none\nProxyJump j\n", "h", ctx).proxy_jump == ()
    assert resolve("ProxyJump none\nProxyCommand nc\n", "h", ctx).proxy_command == "nc"
    assert resolve("ProxyCommand nc\nProxyJump j\n", "h", ctx).proxy_jump == ()
    assert resolve("ProxyJump j\nProxyCommand nc\n", "h", ctx).proxy_command is None
    assert resolve("ProxyCommand none\n", "h", ctx).proxy_command is None


def test_forward_forms(ctx: LocalContext) -> None:
    text = """
LocalForward 8080 localhost:80
LocalForward [::1]:8081 [fe80::1]:81
LocalForward *:8082 h:82
LocalForward :8083 h:83
LocalForward /tmp/l.sock h:84
RemoteForward 9000
RemoteForward 0.0.0.0:9001 /var/run/r.sock
DynamicForward 1080
DynamicForward [::1]:1081
"""
    cfg = resolve(text, "h", ctx)
    assert cfg.local_forwards == (
        Forward(None, 8080, None, "localhost", 80),
        Forward("::1", 8081, None, "fe80::1", 81),
        Forward("*", 8082, None, "h", 82),
        Forward("", 8083, None, "h", 83),
        Forward(None, None, "/tmp/l.sock", "h", 84),
    )
    assert cfg.remote_forwards[0].dynamic and cfg.remote_forwards[0].listen_port == 9000
    assert cfg.remote_forwards[1] == Forward("0.0.0.0", 9001, None, None, None, "/var/run/r.sock")
    assert [f.listen_spec() for f in cfg.dynamic_forwards] == ["1080", "[::1]:1081"]
    assert cfg.local_forwards[1].connect_spec() == "[fe80::1]:81"


def test_send_and_set_env(ctx: LocalContext) -> None:
    text = "SendEnv LANG LC_* XX\nSendEnv -LC_* YY\nSetEnv A=1 B=x=y A=2\nSetEnv C=3\n"
    cfg = resolve(text, "h", ctx)
    assert cfg.send_env == ("LANG", "XX", "YY")
    assert cfg.set_env == (("A", "1"), ("B", "x=y"))


def test_values(ctx: LocalContext) -> None:
    text = """
StrictHostKeyChecking off
ConnectTimeout 1m30s
ServerAliveInterval 1h
RekeyLimit 512M 2m
ControlPersist 5m
LogLevel debug
PubkeyAuthentication host-bound
ForwardAgent ${HOME}/agent
PreferredAuthentications publickey,password
RequestTTY force
AddressFamily inet
"""
    cfg = resolve(text, "h", ctx)
    assert cfg.strict_host_key_checking == "no"
    assert (cfg.connect_timeout, cfg.server_alive_interval) == (90, 3600)
    assert (cfg.rekey_limit_bytes, cfg.rekey_limit_seconds) == (512 << 20, 120)
    assert cfg.control_persist == "300" and cfg.log_level == "DEBUG"
    assert cfg.pubkey_authentication and cfg.forward_agent
    assert cfg.forward_agent_path == f"{ctx.home}/agent"
    assert cfg.preferred_authentications == ("publickey", "password")
    assert (cfg.request_tty, cfg.address_family) == ("force", "inet")


def test_command_line_overrides(ctx: LocalContext) -> None:
    text = "Host h\n  User fileuser\n  Port 1\n  Compression no\n"
    cfg = resolve(text, "cli@h", ctx, port=2, options=["Compression=yes", "LogLevel ERROR"])
    assert (cfg.user, cfg.port, cfg.compression, cfg.log_level) == ("cli", 2, True, "ERROR")
    with pytest.raises(ConfigError, match="command-line"):
        resolve("", "h", ctx, options=["Host x"])
    with pytest.raises(ConfigError, match="invalid characters"):
        resolve("", "-oProxyCommand=evil", ctx)
    with pytest.raises(ConfigError, match="invalid characters"):
        resolve("", "h", ctx, user="a;b")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("Host a\n  Bogus 1\n", 2, "Bad configuration option: bogus"),
        ("Host a\nHost b\n  Port x\n", 3, "Bad port"),
        ("Port 1 2\n", 1, "extra arguments"),
        ("\n\nUser\n", 3, "no argument"),
        ("User 'x\n", 1, "invalid quotes"),
        ("Match\n", 1, "no argument"),
        ("Match foo bar\n", 1, "Unsupported Match attribute"),
        ("Match host\n", 1, "Missing Match criteria"),
        ("Match all final\n", 1, "cannot be combined"),
        ("Match final host a all\n", 1, "cannot be combined"),
        ('Host ""\n', 1, "empty argument"),
        ("Compression maybe\n", 1, "unsupported option"),
        ("LocalForward 1\n", 1, "missing forwarding target"),
        ("LocalForward 0 h:1\n", 1, "Bad port"),
        ("DynamicForward 1 h:2\n", 1, "extra arguments"),
        ("RemoteForward [::1 h:1\n", 1, "unbalanced"),
        ("SetEnv A\n", 1, "Invalid SetEnv"),
        ("SendEnv A=1\n", 1, "Invalid environment"),
        ("RekeyLimit 10\n", 1, "RekeyLimit"),
        ("RekeyLimit 1G 1x\n", 1, "invalid time"),
        ("ConnectTimeout m\n", 1, "invalid time"),
        ("ProxyJump @h\n", 1, "invalid ProxyJump"),
        ("ProxyJump h:99999\n", 1, "Bad port"),
        ("IdentityAgent relative\n", 1, "IdentityAgent"),
        ("LogLevel LOUD\n", 1, "log level"),
        ("Include ''\n", 1, "empty Include"),
    ],
)
def test_errors_name_file_and_line(ctx: LocalContext, text: str, line: int, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        resolve(text, "z", ctx)
    assert (info.value.file, info.value.line) == ("cfg", line)
    assert isinstance(info.value, SSHError) and isinstance(info.value, ValueError)
    assert str(info.value).startswith(f"cfg line {line}: ")


def test_ignore_unknown(ctx: LocalContext) -> None:
    text = "IgnoreUnknown usekeychain,foo*\nUseKeychain yes\nFooBar 1\nGSSAPIAuthentication no\n"
    cfg = resolve(text, "h", ctx)
    assert cfg.other == {"gssapiauthentication": ("no",)}
    with pytest.raises(ConfigError, match="usekeychain"):
        resolve("UseKeychain yes\nIgnoreUnknown usekeychain\n", "h", ctx)


def test_include(tmp_path: Path, ctx: LocalContext) -> None:
    ssh_dir = Path(ctx.home) / ".ssh"
    (ssh_dir / "conf.d").mkdir(parents=True)
    (ssh_dir / "conf.d" / "b.conf").write_text("Host b\n  Port 2\n")
    (ssh_dir / "conf.d" / "a.conf").write_text("Port 1\nHost a\n  Port 3\n")
    (ssh_dir / "conf.d" / "sub").mkdir()  # directories matched by a glob are skipped
    for f in (ssh_dir / "conf.d").glob("*.conf"):
        f.chmod(0o600)
    text = "Host x\n  Include conf.d/*\nHost *\n  Include ~/.ssh/none-*\n  User u\n"
    assert resolve(text, "x", ctx).port == 1  # a.conf's top, read inside the active block
    assert resolve(text, "b", ctx).port == 22  # Include under an inactive Host applies nothing
    cfg = SSHConfig.from_text(
        "Include conf.d/a.conf\n", filename="sys", user_config=False, context=ctx
    )
    assert cfg.resolve("h").port == 22  # system config: relative to /etc/ssh
    with pytest.raises(ConfigError, match="bad include path"):
        SSHConfig.from_text("Include ~/x\n", user_config=False, context=ctx).resolve("h")


def test_include_loop_and_permissions(tmp_path: Path, ctx: LocalContext) -> None:
    loop = tmp_path / "loop.conf"
    loop.write_text(f"Include {loop}\n")
    loop.chmod(0o600)
    with pytest.raises(ConfigError, match="Too many recursive"):
        SSHConfig.from_file(loop, context=ctx).resolve("h")
    loose = tmp_path / "loose.conf"
    loose.write_text("Port 5\n")
    loose.chmod(0o666)
    with pytest.raises(ConfigError, match="Bad owner or permissions") as info:
        resolve(f"Include {loose}\n", "h", ctx)
    assert info.value.file == str(loose)
    # A file given directly (ssh -F) is not permission-checked; a missing one is an error.
    assert SSHConfig.from_file(loose, context=ctx).resolve("h").port == 5
    with pytest.raises(ConfigError, match="no such file"):
        SSHConfig.from_file(tmp_path / "absent", context=ctx).resolve("h")


def test_default_sources(tmp_path: Path, ctx: LocalContext) -> None:
    user = Path(ctx.home) / ".ssh" / "config"
    user.parent.mkdir(parents=True)
    user.write_text("Host h\n  Port 11\n")
    user.chmod(0o600)
    system = tmp_path / "ssh_config"
    system.write_text("Host *\n  Port 12\n  User sys\n")
    cfg = SSHConfig.default(system_config=system, context=ctx)
    assert (cfg.resolve("h").port, cfg.resolve("h").user, cfg.resolve("o").port) == (11, "sys", 12)
    missing = SSHConfig.default(
        user_config=tmp_path / "nope", system_config=tmp_path / "nope2", context=ctx
    )
    assert missing.resolve("h").port == 22
    user.chmod(0o620)
    with pytest.raises(ConfigError, match="permissions"):
        SSHConfig.default(system_config=None, context=ctx).resolve("h")


def test_local_context_current() -> None:
    ctx = LocalContext.current()
    assert ctx.user and ctx.home and ctx.hostname
    assert ctx.short_hostname == ctx.hostname.split(".")[0]


def test_host_config_is_frozen(ctx: LocalContext) -> None:
    cfg = resolve("", "h", ctx)
    with pytest.raises(AttributeError):
        cfg.port = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        cfg.other["x"] = ("y",)  # type: ignore[index]
    assert hash(cfg) == hash(resolve("", "h", ctx)) and cfg == resolve("", "h", ctx)


def test_transport_config(ctx: LocalContext) -> None:
    text = "Ciphers +aes128-cbc\nKexAlgorithms -*sha1\nCompression yes\nRekeyLimit 1M 30m\n"
    tc = transport_config(resolve(text, "h", ctx), handshake_timeout=5.0)
    assert (tc.ciphers, tc.kex_algorithms, tc.macs) == ("+aes128-cbc", "-*sha1", None)
    assert tc.compression == "zlib@openssh.com,zlib,none"
    assert (tc.rekey_bytes, tc.rekey_seconds, tc.handshake_timeout) == (1 << 20, 1800.0, 5.0)
    lists = tc.algorithm_lists()
    assert "aes128-cbc" in lists.ciphers and lists.compression[0] == "zlib@openssh.com"
    plain = transport_config(resolve("", "h", ctx))
    assert plain.compression is None and plain.rekey_seconds == 3600.0
