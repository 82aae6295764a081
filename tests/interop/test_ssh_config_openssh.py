"""ssh_config evaluation against OpenSSH's own: ``ssh -G -F FILE HOST`` is the oracle.

For every (config file, host) pair, the keywords we interpret are compared with what ssh
prints. Where ``ssh -G`` prints a value unexpanded (IdentityFile, CertificateFile,
ProxyCommand, GlobalKnownHostsFile) the test expands ssh's text with the tokens of ssh's own
result before comparing; algorithm lists are compared only when written without ``+-^``
modifiers (we keep those for the transport, ssh prints them applied).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from ssh_connection.config import ConfigError, HostConfig, LocalContext, SSHConfig
from ssh_connection.config_tokens import (
    ALL_TOKENS,
    PROXY_TOKENS,
    connection_hash,
    expand_tilde,
    expand_tokens,
)

SSH = shutil.which("ssh")
pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(SSH is None, reason="OpenSSH ssh not installed"),
]

CTX = LocalContext.current()

CONFIGS: dict[str, str] = {
    "basic": """
# comment line
Host alpha
    HostName alpha.example.com
    Port 2201
    User alice
    IdentityFile ~/.ssh/alpha_%r_%h
    IdentityFile "/tmp/with space/key"
    IdentitiesOnly yes
    CertificateFile ~/.ssh/alpha-cert.pub

Host beta beta.*
    Port=2202
    User = bob
    StrictHostKeyChecking accept-new
    ConnectTimeout 1m5s
    ServerAliveInterval 15
    ServerAliveCountMax 5
    Compression yes
    BatchMode yes

Host *.example.org !bad.example.org
    User org
    HashKnownHosts yes
    UserKnownHostsFile ~/.ssh/kh_%h /tmp/kh_%p_%r
    GlobalKnownHostsFile /etc/ssh/g1 ~/g2

Host *
    Port 2299
    User fallback
    IdentityFile ~/.ssh/fallback
    ForwardAgent yes
    LogLevel verbose
""",
    "first_wins": """
Host multi
    User first
    User second
    SendEnv LANG LC_*
    SendEnv FOO
    SetEnv A=1 B="two words" A=3
Host multi
    Port 1001
    Port 1002
    SendEnv -FOO BAR
    SetEnv C=3
    LocalForward 8080 localhost:80
    LocalForward [::1]:9090 [::2]:90
    LocalForward 127.0.0.1:8081 /tmp/remote.sock
    RemoteForward 9000 db.internal:5432
    RemoteForward 9001
    DynamicForward 1080
    DynamicForward 127.0.0.1:1081
Host *
    LocalForward 8080 localhost:80
    RequestTTY force
    PreferredAuthentications publickey,password
    PasswordAuthentication no
    KbdInteractiveAuthentication no
    PubkeyAuthentication no
    NumberOfPasswordPrompts 1
    RekeyLimit 1G 1h
    AddressFamily inet6
    BindAddress 127.0.0.1
    Ciphers aes128-ctr,aes256-ctr
    KexAlgorithms curve25519-sha256
    MACs hmac-sha2-256
    HostKeyAlgorithms +ssh-rsa
    PubkeyAcceptedAlgorithms ssh-ed25519
    UpdateHostKeys ask
    ControlMaster auto
    ControlPath ~/.ssh/cm-%C-%r@%h:%p
    ControlPersist 10m
    HostKeyAlias the-alias
""",
    "proxies": """
Host j1
    ProxyJump alice@jump1:2222,jump2
    ProxyCommand nc %h %p
Host c1
    ProxyCommand ssh -W %h:%p -l %r gateway   # not a comment: rest of line
    ProxyJump never
Host none1
    ProxyJump none
Host *
    ProxyCommand /usr/bin/nc -X connect %h %p
""",
    "match": """
Match originalhost orig*
    User by-original
Match host *.real.example
    Port 3000
Host web*
    HostName %h.real.example
Match user admin
    Port 3001
Match !localuser nobody-here
    IdentityAgent ~/.ssh/agent.sock
Match canonical
    User never-without-canonicalization
Match all
    ServerAliveInterval 7
""",
    "final": """
Host short
    HostName Long.Final.Example
Host long.final.example
    Port 4000
Match final host long.final.example
    User finaluser
Match final
    ServerAliveCountMax 9
Host *
    User early
""",
    "ignore": """
IgnoreUnknown Foo*,UseKeychain
Host *
    UseKeychain yes
    FooBar baz
    GSSAPIAuthentication no
    AddKeysToAgent yes
    Port 2020
""",
    "edge": """
Host FOO
    Port 1111
Host foo
    Port 2222
Host a,b
    User comma-glob
Host tab	sep
    User tabbed
Host q*
    HostName "%h.%%.example"   # trailing comment
    User "quoted user"
    IdentityFile ~/.ssh/id_%%_%u_%l_%L_%d_%i_%k_%C_%n
    IdentityFile ~/.ssh/id_dup
    IdentityFile ~/.ssh/id_dup
    UserKnownHostsFile ${HOME}/kh_env
    IdentityAgent SSH_AUTH_SOCK
    ForwardAgent ${HOME}/agent.sock
    LogLevel DEBUG
    ControlPath none
    ProxyCommand none
    ProxyJump j9
Match host !qa*,q*
    Port 3333
Match user root,alice
    ServerAliveInterval 2
Match !user root,alice
    ServerAliveInterval 3
Match canonical all
    ServerAliveCountMax 11
Match !final
    Compression yes
Host *
    KbdInteractiveAuthentication=no
    PasswordAuthentication = no
    StrictHostKeyChecking off
    RequestTTY no
    ControlMaster autoask
    ControlPersist yes
    UserKnownHostsFile none
""",
}

HOSTS = ["alpha", "beta", "beta.x", "x.example.org", "bad.example.org", "other", "multi"]
HOSTS += ["j1", "c1", "none1", "orig-host", "webapp", "web2", "admin@webx", "short", "LONG"]
HOSTS += ["FOO", "foo", "tab", "qa1", "qb", "alice@qc", "Q"]


def _ssh_g(config: Path, host: str, *extra: str, env: dict[str, str] | None = None) -> str:
    assert SSH is not None
    proc = subprocess.run(
        [SSH, "-G", "-F", str(config), *extra, host],
        capture_output=True,
        text=True,
        env=env,
        timeout=20,
        check=False,
    )
    if proc.returncode != 0:
        raise ConfigError(proc.stderr.strip())
    return proc.stdout


def _parse_g(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        out.setdefault(key, []).append(value)
    return out


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _ours(cfg: HostConfig) -> dict[str, list[str]]:
    """Our HostConfig in ssh -G's vocabulary, for the keywords we interpret."""
    strict = {"yes": "true", "no": "false"}
    tristate = {"yes": "true", "no": "false"}
    out: dict[str, list[str]] = {
        "hostname": [cfg.hostname],
        "port": [str(cfg.port)],
        "user": [cfg.user],
        "identitiesonly": [_yes(cfg.identities_only)],
        "stricthostkeychecking": [
            strict.get(cfg.strict_host_key_checking, cfg.strict_host_key_checking)
        ],
        "hashknownhosts": [_yes(cfg.hash_known_hosts)],
        "connecttimeout": ["none" if cfg.connect_timeout is None else str(cfg.connect_timeout)],
        "serveraliveinterval": [str(cfg.server_alive_interval)],
        "serveralivecountmax": [str(cfg.server_alive_count_max)],
        "forwardagent": [cfg.forward_agent_path or _yes(cfg.forward_agent)],
        "requesttty": [tristate.get(cfg.request_tty, cfg.request_tty)],
        "batchmode": [_yes(cfg.batch_mode)],
        "passwordauthentication": [_yes(cfg.password_authentication)],
        "kbdinteractiveauthentication": [_yes(cfg.kbd_interactive_authentication)],
        "numberofpasswordprompts": [str(cfg.number_of_password_prompts)],
        "compression": [_yes(cfg.compression)],
        "rekeylimit": [f"{cfg.rekey_limit_bytes} {cfg.rekey_limit_seconds}"],
        "addressfamily": [cfg.address_family],
        "loglevel": [cfg.log_level],
        "updatehostkeys": [tristate.get(cfg.update_host_keys, cfg.update_host_keys)],
        "controlmaster": [tristate.get(cfg.control_master, cfg.control_master)],
        "controlpersist": [cfg.control_persist],
        "canonicalizehostname": [
            tristate.get(cfg.canonicalize_hostname, cfg.canonicalize_hostname)
        ],
        "userknownhostsfile": [" ".join(cfg.user_known_hosts_files) or "none"],
        "globalknownhostsfile": [" ".join(cfg.global_known_hosts_files) or "none"],
        "identityfile": list(cfg.identity_files),
        "certificatefile": list(cfg.certificate_files),
        "sendenv": list(cfg.send_env),
        "setenv": [f"{k}={v}" for k, v in cfg.set_env],
        "localforward": [f"{f.listen_spec()} {f.connect_spec()}" for f in cfg.local_forwards],
        "remoteforward": [
            f"{f.listen_spec()} {f.connect_spec() or '[socks]:0'}" for f in cfg.remote_forwards
        ],
        # ssh -G also lists local forwards to a unix socket under dynamicforward (they share
        # its local forward table and have no target host); order is compared loosely.
        "dynamicforward": sorted(
            f.listen_spec()
            for f in (*cfg.dynamic_forwards, *cfg.local_forwards)
            if f.dynamic or f.connect_path is not None
        ),
        "proxycommand": [cfg.proxy_command] if cfg.proxy_command else [],
        "proxyjump": [
            ",".join(
                (f"{h.user}@" if h.user else "") + h.host + (f":{h.port}" if h.port else "")
                for h in cfg.proxy_jump
            )
        ]
        if cfg.proxy_jump
        else [],
        "pubkeyauthentication": ["true" if cfg.pubkey_authentication else "false"],
    }
    optional = {
        "identityagent": cfg.identity_agent,
        "bindaddress": cfg.bind_address,
        "controlpath": cfg.control_path,
        "hostkeyalias": cfg.host_key_alias,
        "preferredauthentications": ",".join(cfg.preferred_authentications)
        if cfg.preferred_authentications
        else None,
    }
    for key, value in optional.items():
        out[key] = [value] if value is not None else []
    for key, alg in [
        ("kexalgorithms", cfg.kex_algorithms),
        ("ciphers", cfg.ciphers),
        ("macs", cfg.macs),
        ("hostkeyalgorithms", cfg.host_key_algorithms),
        ("pubkeyacceptedalgorithms", cfg.pubkey_accepted_algorithms),
    ]:
        if alg is not None and alg[0] not in "+-^":
            out[key] = [alg]
    return out


def _theirs(raw: dict[str, list[str]], original: str) -> dict[str, list[str]]:
    """ssh -G output with the values it leaves unexpanded expanded from its own result."""
    out = {k: list(v) for k, v in raw.items()}
    host, port, user = raw["hostname"][0], int(raw["port"][0]), raw["user"][0]
    alias = raw.get("hostkeyalias", [original])[0]
    tokens = {
        "C": connection_hash(CTX.hostname, host, port, user),
        "d": CTX.home,
        "h": host,
        "i": str(CTX.uid),
        "j": raw.get("proxyjump", [""])[0],
        "k": alias,
        "L": CTX.short_hostname,
        "l": CTX.hostname,
        "n": original,
        "p": str(port),
        "r": user,
        "u": CTX.user,
    }

    def path(text: str) -> str:
        return expand_tokens(expand_tilde(text, CTX), tokens, ALL_TOKENS, CTX.env)

    out["dynamicforward"] = sorted(raw.get("dynamicforward", []))
    # We keep PubkeyAuthentication as a yes/no: unbound and host-bound both mean yes.
    out["pubkeyauthentication"] = [
        "false" if v == "false" else "true" for v in raw["pubkeyauthentication"]
    ]
    for key in ("identityfile", "certificatefile"):
        out[key] = [path(v) for v in raw.get(key, [])]
    out["globalknownhostsfile"] = [
        " ".join(expand_tilde(p, CTX) for p in v.split(" ")) for v in raw["globalknownhostsfile"]
    ]
    out["proxycommand"] = [
        expand_tokens(v, tokens, PROXY_TOKENS) for v in raw.get("proxycommand", [])
    ]
    for key in ("proxyjump", "identityagent", "bindaddress", "controlpath", "hostkeyalias"):
        out.setdefault(key, [])
    out.setdefault("preferredauthentications", [])
    out.setdefault("certificatefile", [])
    for key in ("sendenv", "setenv", "localforward", "remoteforward", "dynamicforward"):
        out.setdefault(key, [])
    return out


def _compare(ours: HostConfig, raw: dict[str, list[str]], original: str) -> dict[str, object]:
    mine, theirs = _ours(ours), _theirs(raw, original)
    return {
        key: (value, theirs.get(key)) for key, value in mine.items() if value != theirs.get(key)
    }


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("sshconfig")
    for name, text in CONFIGS.items():
        (d / name).write_text(text)
    return d


def _destination(host: str) -> tuple[str, str]:
    """(destination as given to ssh, host name part)."""
    return host, host.rpartition("@")[2]


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("host", HOSTS)
def test_agrees_with_ssh_g(config_dir: Path, name: str, host: str) -> None:
    path = config_dir / name
    raw = _parse_g(_ssh_g(path, host))
    ours = SSHConfig.from_file(path, context=CTX).resolve(host)
    assert _compare(ours, raw, _destination(host)[1]) == {}


def test_command_line_user_and_port_win(config_dir: Path) -> None:
    path = config_dir / "basic"
    raw = _parse_g(_ssh_g(path, "alpha", "-l", "cli", "-p", "7", "-o", "Compression=yes"))
    ours = SSHConfig.from_file(path, context=CTX).resolve(
        "alpha", user="cli", port=7, options=["Compression=yes"]
    )
    assert _compare(ours, raw, "alpha") == {}


def _include_tree(tmp: Path) -> Path:
    (tmp / "conf.d").mkdir()
    (tmp / "conf.d" / "10-a.conf").write_text("Host inc-a\n  Port 1010\n  User from-include\n")
    (tmp / "conf.d" / "20-b.conf").write_text(
        "Port 1020\nHost inc-b\n  Port 1021\nMatch host inc-a\n  ServerAliveInterval 3\n"
    )
    (tmp / "nested.conf").write_text(f"Include {tmp}/conf.d/*.conf\nUser nested\n")
    main = tmp / "main.conf"
    main.write_text(
        f"Host inc-*\n  Include {tmp}/nested.conf\n"
        f"Host other\n  Include {tmp}/conf.d/20-b.conf\n"
        f"Host *\n  Include {tmp}/missing-*.conf\n  Port 1099\n  ServerAliveInterval 9\n"
    )
    for f in (*tmp.glob("*.conf"), *tmp.glob("conf.d/*")):
        f.chmod(0o600)
    return main


@pytest.mark.parametrize("host", ["inc-a", "inc-b", "inc-c", "other", "elsewhere"])
def test_include_agrees_with_ssh_g(tmp_path: Path, host: str) -> None:
    main = _include_tree(tmp_path)
    raw = _parse_g(_ssh_g(main, host))
    ours = SSHConfig.from_file(main, context=CTX).resolve(host)
    assert _compare(ours, raw, host) == {}


def test_relative_include_is_under_home_ssh(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "extra.conf").write_text("Port 5555\n")
    (home / ".ssh" / "extra.conf").chmod(0o600)
    main = tmp_path / "main.conf"
    main.write_text("Include extra.conf\n")
    env = dict(os.environ, HOME=str(home))
    raw = _parse_g(_ssh_g(main, "h", env=env))
    ctx = LocalContext(user=CTX.user, home=str(home), uid=CTX.uid, hostname=CTX.hostname)
    ours = SSHConfig.from_file(main, context=ctx).resolve("h")
    assert raw["port"] == ["5555"] == [str(ours.port)]


def _exec_runner(calls: list[str]) -> Callable[[str], bool]:
    def run(command: str) -> bool:
        calls.append(command)
        return subprocess.run(command, shell=True, check=False).returncode == 0

    return run


def test_match_exec_with_tokens(tmp_path: Path) -> None:
    marker = tmp_path / "exec-ran-for"
    cfg = tmp_path / "exec.conf"
    cfg.write_text(
        "Host e\n  HostName e.example\n"
        f'Match exec "test %h = e.example && touch {marker}-%n-%p-%r"\n  Port 6000\n'
        "Match exec false\n  User never\n"
        'Match host nomatch exec "exit 0"\n  User never2\n'
    )
    raw = _parse_g(_ssh_g(cfg, "e"))
    calls: list[str] = []
    ours = SSHConfig.from_file(cfg, context=CTX).resolve("e", run_exec=_exec_runner(calls))
    assert _compare(ours, raw, "e") == {}
    assert calls == [f"test e.example = e.example && touch {marker}-e-22-{CTX.user}", "false"]
    with pytest.raises(ConfigError, match="run_exec"):
        SSHConfig.from_file(cfg, context=CTX).resolve("e")


BAD_CONFIGS = {
    "unknown keyword": "Host x\n  NoSuchKeyword yes\n",
    "bad port": "Host elsewhere\n  Port abc\n",
    "extra args": "Port 22 23\n",
    "no argument": "User\n",
    "bad quotes": 'IdentityFile "unterminated\n',
    "bad match": "Match nosuch x\n",
    "match all combined": "Match all host x\n",
    "match missing arg": "Match host\n",
    "bad flag": "Compression maybe\n",
    "bad strict": "StrictHostKeyChecking sometimes\n",
    "bad forward": "LocalForward 8080\n",
    "bad setenv": "SetEnv NOEQUALS\n",
    "bad sendenv": "SendEnv A=B\n",
    "bad rekey": "RekeyLimit 3\n",
    "bad time": "ConnectTimeout 5x\n",
    "bad jump": "ProxyJump user@\n",
}


@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_errors_agree_with_ssh_g(tmp_path: Path, name: str) -> None:
    cfg = tmp_path / "bad.conf"
    cfg.write_text(BAD_CONFIGS[name])
    with pytest.raises(ConfigError):
        _ssh_g(cfg, "x")
    with pytest.raises(ConfigError) as info:
        SSHConfig.from_file(cfg, context=CTX).resolve("x")
    assert info.value.file == str(cfg)
    assert info.value.line is not None


@pytest.mark.parametrize("destination", ["a,b", "a;b", "h$x", "u;x@h", "a b"])
def test_invalid_destinations_refused_like_ssh(config_dir: Path, destination: str) -> None:
    with pytest.raises(ConfigError):
        _ssh_g(config_dir / "basic", destination)
    with pytest.raises(ConfigError, match="invalid characters"):
        SSHConfig.from_file(config_dir / "basic", context=CTX).resolve(destination)


ONE_LINERS = [
    "Host=a\n Port 5",
    '"Port" 7',
    'Port "8"',
    "Port 5 # comment",
    "Port 5#c",
    "UserKnownHostsFile ~/a ~/b\nUserKnownHostsFile ~/c",
    "UserKnownHostsFile ~/kh_%h_%p_%r_%u_%n_%k_%C",
    "HostName %%h",
    'HostName ""',
    "HostName UPPER.%h.Example",
    "Host a\n\nHost b\nPort 5",
    "SendEnv",
    "CertificateFile ~/%h",
    "LocalForward 5 h:6 # x",
    "LogLevel debug3",
    "LogLevel Debug1",
    "ConnectTimeout 0",
    "ServerAliveCountMax -1",
    "NumberOfPasswordPrompts abc",
    "BindAddress  ::1",
    "ControlPersist 0",
    "ControlPersist 1h",
    "ControlMaster ask",
    "RequestTTY yes",
    "UpdateHostKeys no",
    "StrictHostKeyChecking yes",
    "StrictHostKeyChecking no",
    "ForwardAgent no",
    "ForwardAgent /tmp/agent.sock",
    "RekeyLimit default none",
    "RekeyLimit 100K",
    "RekeyLimit 15",
    "IdentityAgent SSH_AUTH_SOCK",
    "IdentityAgent none",
    "AddressFamily inet",
    "Compression maybe",
    "Port 0",
    "Port ssh",
    "IdentityFile none",
    "CertificateFile none",
    "IdentityAgent ~/agent",
    "IdentityAgent $SSH_AUTH_SOCK",
    "HostName %h\nHost a\n HostName other",
    "Include\n",
    "Host\n",
    "Host *\n  Host a",
    "User a b",
    'SetEnv A="quoted value" B=',
    'SendEnv ""',
    "LocalForward 8080",
    "LocalForward 8080 host",
    "LocalForward 8080 [::1]",
    "LocalForward bad:port h:1",
    "RemoteForward /tmp/x.sock /tmp/y.sock",
    "DynamicForward /tmp/socks.sock",
    "ProxyJump a b",
    "ProxyJump a:0",
    "ProxyJump [::1",
    "StrictHostKeyChecking ASK",
    "Compression YES",
    "AddressFamily inet7",
    "RequestTTY sometimes",
    "ConnectTimeout -1",
    "ConnectTimeout 1x",
    "ServerAliveInterval 0",
    "RekeyLimit 1.5G",
    "RekeyLimit 1Gx",
    "RekeyLimit -1",
    "ControlPersist never",
    "KexAlgorithms ''",
    "Port http",
    "Port no-such-service",
    "LocalForward https h:http",
    "Port 65536",
    "Match host a\n Port 9",
    "Match !host a\n Port 9",
    "Match originalhost A\n Port 9",
    "Match host A\n Port 9",
    "Match user root\n Port 9",
    "Match localuser root\n Port 9",
    "Match host a user x\n Port 9",
    "Match host a,!a\n Port 9",
    "Match host b,!c\n Port 9",
    "Match host *\n Port 9",
    "Match final all\n Port 9",
    "Match !final\n Port 9",
    "Match !all\n Port 9",
    "Match host a all\n Port 9",
    "Match all # comment\n Port 9",
    "Host !a\n Port 9",
    "Host !b\n Port 9",
    "Host !b *\n Port 9",
    "Host a # comment\n Port 9",
    "Host *\n Port 9\nHost a\n Port 10",
    "Host A\n Port 9",
    "Host a\n Include /nonexistent/x*\n Port 9",
    "SetEnv A=1\nSetEnv B=2",
    "SendEnv A\nSendEnv -A",
    "SendEnv A*\nSendEnv -A?",
    "IdentityFile ~/a\nIdentityFile ~/b\nIdentityFile ~/a",
    "IdentitiesOnly true",
    "HashKnownHosts yes",
    "PubkeyAuthentication unbound",
    "PasswordAuthentication false",
    "ChallengeResponseAuthentication no",
    "PreferredAuthentications password",
    "ProxyJump a,b:2\nProxyJump c",
    "ProxyCommand exec nc %h %p",
    "ProxyCommand nc '%h' \"%p\"",
    "KexAlgorithms curve25519-sha256,ecdh-sha2-nistp256",
    "HostKeyAlias x%%",
    "DynamicForward 127.0.0.1:1080",
    "RemoteForward [::]:80 localhost:8080",
    "LocalForward 8080 [::1]:80\nLocalForward 8080 [::1]:80",
    "GlobalKnownHostsFile none",
    "UserKnownHostsFile none",
    "ControlPath ~/.ssh/%r@%h:%p",
    "ControlPath none",
    "ServerAliveInterval 1h1m",
    "ConnectTimeout 1w",
    "NoSuchOption x",
    "CanonicalizeHostname yes\nMatch canonical\n Port 9",
    "CanonicalizeHostname no\nMatch canonical\n Port 9",
    "CanonicalizeHostname yes\nHost a\n HostName b\nHost b\n Port 9",
    "IgnoreUnknown nosuch*\nNoSuchOption x",
]


@pytest.mark.parametrize("text", ONE_LINERS)
def test_small_configs_agree_with_ssh_g(tmp_path: Path, text: str) -> None:
    cfg = tmp_path / "one.conf"
    cfg.write_text(text + "\n")
    try:
        raw = _parse_g(_ssh_g(cfg, "a"))
    except ConfigError:
        with pytest.raises(ConfigError):
            SSHConfig.from_file(cfg, context=CTX).resolve("a")
        return
    ours = SSHConfig.from_file(cfg, context=CTX).resolve("a")
    assert _compare(ours, raw, "a") == {}


@pytest.mark.parametrize("host", ["localhost", "example.org", "u@h"])
def test_default_files_agree_with_plain_ssh_g(host: str) -> None:
    """No -F: ~/.ssh/config and /etc/ssh/ssh_config (with its Include), whatever they hold."""
    assert SSH is not None
    proc = subprocess.run([SSH, "-G", host], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        with pytest.raises(ConfigError):
            SSHConfig.default(context=CTX).resolve(host)
        return
    ours = SSHConfig.default(context=CTX).resolve(host)
    assert _compare(ours, _parse_g(proc.stdout), host.rpartition("@")[2]) == {}


# -- host key checking driven by the config, against ssh's own decision ---------------------

from openssh_tools import HAVE_OPENSSH, HostKeyFiles, Sshd  # noqa: E402 - conftest's sys.path

from ssh_connection.host_keys import HostKeyError, policy_from_config  # noqa: E402
from ssh_keys import parse_public_key_line  # noqa: E402

WRONG_ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEcIrGxXZbPqdbuhNc4cN5TUmrWkj7t9Jj9wvdMN3e8W"


def _host_key_case(keys: HostKeyFiles, port: int, case: str) -> tuple[str, str, str]:
    """(known_hosts text, HostKeyAlgorithms, extra config) for one scenario."""
    ed = keys.public_line("ed25519").strip()
    ca = (keys.directory / "ca.pub").read_text().strip()
    name = f"[127.0.0.1]:{port}"
    cert = "ssh-ed25519-cert-v01@openssh.com"
    return {
        "empty": ("", "ssh-ed25519", ""),
        "known": (f"{name} {ed}\n", "ssh-ed25519", ""),
        "known-without-port": (f"127.0.0.1 {ed}\n", "ssh-ed25519", ""),
        "known-by-pattern": (f"[127.0.0.*]:* {ed}\n", "ssh-ed25519", ""),
        "negated": (f"[127.0.0.*]:*,!{name} {ed}\n", "ssh-ed25519", ""),
        "changed": (f"{name} {WRONG_ED25519}\n", "ssh-ed25519", ""),
        "other-type-known": (f"{name} {keys.public_line('ecdsa256').strip()}\n", "ssh-ed25519", ""),
        "revoked": (f"{name} {ed}\n@revoked * {ed}\n", "ssh-ed25519", ""),
        "ca": (f"@cert-authority [127.0.0.1]:* {ca}\n", cert, ""),
        "ca-wrong-name": (f"@cert-authority 127.0.0.1 {ca}\n", cert, ""),
        "ca-revoked": (f"@cert-authority * {ca}\n@revoked * {ca}\n", cert, ""),
        "ca-alias-not-principal": (f"@cert-authority * {ca}\n", cert, "HostKeyAlias other"),
        "ca-alias-principal": (f"@cert-authority * {ca}\n", cert, "HostKeyAlias localhost"),
        "cert-plain-known": (f"{name} {ed}\n", cert, ""),
        "alias": (f"the-alias {ed}\n", "ssh-ed25519", "HostKeyAlias the-alias"),
        "alias-miss": (f"{name} {ed}\n", "ssh-ed25519", "HostKeyAlias the-alias"),
    }[case]


HOST_KEY_CASES = [
    "empty", "known", "known-without-port", "known-by-pattern", "negated", "changed",
    "other-type-known", "revoked", "ca", "ca-wrong-name", "ca-revoked",
    "ca-alias-not-principal", "ca-alias-principal", "cert-plain-known", "alias", "alias-miss",
]  # fmt: skip


def _ssh_accepts(config: Path) -> bool:
    assert SSH is not None
    proc = subprocess.run(
        [SSH, "-F", str(config), "target", "true"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if os.environ.get("S2_DEBUG"):
        print(proc.stderr)
    if "Host key verification failed" in proc.stderr:
        return False
    assert "Permission denied" in proc.stderr, proc.stderr  # got as far as authentication
    return True


@pytest.mark.skipif(not HAVE_OPENSSH, reason="OpenSSH sshd not installed")
@pytest.mark.parametrize("mode", ["yes", "accept-new", "no"])
@pytest.mark.parametrize("case", HOST_KEY_CASES)
@pytest.mark.parametrize("hashed", [False, True], ids=["plain", "hashed"])
def test_host_key_decisions_agree_with_ssh(
    sshd: Sshd, host_key_files: HostKeyFiles, tmp_path: Path, mode: str, case: str, hashed: bool
) -> None:
    known, algorithm, extra = _host_key_case(host_key_files, sshd.port, case)
    results: dict[str, tuple[bool, str]] = {}
    for who in ("ssh", "ours"):
        d = tmp_path / who
        d.mkdir()
        user_kh = d / "known_hosts"
        user_kh.write_text(known)
        if hashed and known:
            assert shutil.which("ssh-keygen")
            subprocess.run(
                ["ssh-keygen", "-H", "-f", str(user_kh)], check=True, capture_output=True
            )
        cfg = d / "config"
        cfg.write_text(
            "Host target\n  HostName 127.0.0.1\n"
            f"  Port {sshd.port}\n  User nobody\n  BatchMode yes\n  IdentitiesOnly yes\n"
            "  IdentityFile /nonexistent\n  PreferredAuthentications publickey\n"
            f"  HostKeyAlgorithms {algorithm}\n  StrictHostKeyChecking {mode}\n"
            f"  UserKnownHostsFile {user_kh}\n  GlobalKnownHostsFile {d}/global_known_hosts\n"
            f"  HashKnownHosts {'yes' if hashed else 'no'}\n  CheckHostIP no\n"
            f"  UpdateHostKeys no\n  ConnectTimeout 10\n  {extra}\n"
        )
        if who == "ssh":
            accepted = _ssh_accepts(cfg)
        else:
            resolved = SSHConfig.from_file(cfg, context=CTX).resolve("target")
            key_path = (
                host_key_files.cert("ed25519")
                if "cert" in algorithm
                else host_key_files.directory / "host_ed25519.pub"
            )
            key = parse_public_key_line(key_path.read_text()).key
            try:
                policy_from_config(resolved).verify(resolved.hostname, resolved.port, key)
                accepted = True
            except HostKeyError:
                accepted = False
        results[who] = (accepted, user_kh.read_text())
    if "revoked" in case and mode == "no":
        # Deliberate: ssh connects to a revoked key under StrictHostKeyChecking=no (with
        # password authentication disabled); we refuse revoked keys in every mode.
        assert results["ssh"][0] and not results["ours"][0]
        return
    assert results["ours"][0] == results["ssh"][0]
    # Whether a line was added (and for which name) must agree too; hashes differ by salt.
    ssh_lines, our_lines = (r[1].splitlines() for r in (results["ssh"], results["ours"]))
    assert len(our_lines) == len(ssh_lines)
    if not hashed:
        assert [x.split()[:2] for x in our_lines] == [x.split()[:2] for x in ssh_lines]
