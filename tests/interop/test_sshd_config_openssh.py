"""sshd_config parsing compared with OpenSSH's own reading: ``sshd -T -f FILE -C ...``.

For every keyword we print, our effective values (after Match) must equal the lines sshd -T
prints; configurations sshd refuses we must refuse on the same line.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from ssh_connection.sshd_config import ConfigError, load_sshd_config
from ssh_connection.sshd_config_match import system_groups

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not Path(SSHD).exists(), reason="needs sshd"),
    pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen"),
]

Conn = tuple[str, str, str, str, int]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("hostkeys")
    for name in ("k1", "k2"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", d / name], check=True)
    return d / "k1", d / "k2"


def lines_by_keyword(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for line in text.splitlines():
        keyword, _, value = line.partition(" ")
        out[keyword].append(value)
    return out


def sshd_t(config: Path, conn: Conn | None, cwd: Path) -> dict[str, list[str]]:
    cmd = [SSHD, "-T", "-f", str(config)]
    if conn is not None:
        user, host, addr, laddr, lport = conn
        cmd += ["-C", f"user={user},host={host},addr={addr},laddr={laddr},lport={lport}"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return lines_by_keyword(result.stdout)


def compare(config: Path, conns: list[Conn | None], include_dir: Path, cwd: Path) -> None:
    if "Match" in config.read_text():
        conns = [c for c in conns if c is not None]  # sshd -T needs -C for Match criteria
    parsed = load_sshd_config(
        config, include_dir=str(include_dir), groups_of=system_groups, cwd=str(cwd)
    )
    for conn in conns:
        settings = parsed.settings() if conn is None else parsed.for_connection(*conn)
        ours = lines_by_keyword(settings.dump())
        theirs = sshd_t(config, conn, cwd)
        for keyword, values in ours.items():
            assert values == theirs.get(keyword, []), (keyword, conn)
        # Keywords sshd prints only when set (lists) must be absent from ours too.
        for keyword in ("allowusers", "acceptenv", "setenv", "subsystem", "channeltimeout"):
            assert ours.get(keyword, []) == theirs.get(keyword, []), (keyword, conn)


CONNS: list[Conn | None] = [
    None,
    ("alice", "client.example.com", "10.1.2.3", "127.0.0.1", 22),
    ("bob", "other.example.org", "192.168.7.9", "127.0.0.2", 2222),
    ("root", "h", "2001:db8::5", "::1", 22),
    ("nobody", "BUILD7.example.com", "10.200.0.1", "10.0.0.1", 2022),
]

CONFIGS = {
    "first_wins_and_lists": """
# global first-wins and accumulating keywords
HostKey {k1}
hostkey={k2}
Port 2222
Port\t2022
ListenAddress 127.0.0.1
ListenAddress [::1]:2300
PasswordAuthentication no
PasswordAuthentication yes
MaxAuthTries 3
maxauthtries 9
LoginGraceTime 1m30s
ClientAliveInterval 2h
ClientAliveCountMax 0
AcceptEnv LANG LC_*
AcceptEnv  FOO # trailing comment
SetEnv A=1 "B=x y"
SetEnv C=3
Subsystem sftp internal-sftp -l INFO
Subsystem\tother "/usr/bin/other prog" arg
AllowUsers alice bob@10.0.0.0/8
AllowUsers carol
DenyUsers dave
AllowGroups wheel staff
DenyGroups nogroup
AuthenticationMethods publickey,password publickey
PermitOpen host:22 10.0.0.1:*
PermitListen 8080 localhost:9090
AuthorizedKeysFile %h/.ssh/a "%%/b" /etc/keys/%u
AuthorizedPrincipalsFile /etc/principals/%u
TrustedUserCAKeys /etc/ssh/ca.pub
RevokedKeys /etc/ssh/krl
Banner /etc/issue.net
ForceCommand /bin/echo "forced here"
PermitRootLogin prohibit-password
AllowTcpForwarding all
AllowStreamLocalForwarding local
GatewayPorts clientspecified
MaxStartups 5
MaxSessions 4
RekeyLimit 1G 1h
UnusedConnectionTimeout 5m
ChannelTimeout session=1m *=5
LogLevel DEBUG1
StrictModes no
ChallengeResponseAuthentication no
KbdInteractiveAuthentication yes
X11Forwarding yes
PermitTTY no
AllowAgentForwarding no
PubkeyAuthentication yes
PidFile /run/test-sshd.pid
HostCertificate {k1}-cert.pub
""",
    "algorithms": """
HostKey {k1}
Ciphers +aes128-cbc,3des-cbc
MACs -hmac-sha1*,umac-64*
KexAlgorithms ^curve25519-sha256,diffie-hellman-group14-sha1
HostKeyAlgorithms ssh-ed25519,rsa-sha2-512
PubkeyAcceptedAlgorithms -ssh-rsa*,*nistp384*
CASignatureAlgorithms ^ssh-ed25519
""",
    "match": """
HostKey {k1}
PasswordAuthentication yes
AllowUsers g1
AcceptEnv G1
X11Forwarding no
Match User alice,bob
  PasswordAuthentication no
  AllowUsers m1
  AcceptEnv M1
  SetEnv X=1
  ChannelTimeout session=5m
  MaxAuthTries 2
  Banner none
Match Address 10.0.0.0/8,!10.200.0.0/16
  PasswordAuthentication yes
  AllowUsers m2 m3
  AcceptEnv M2
  MaxAuthTries 4
  LogLevel VERBOSE
  PermitOpen none
  AuthorizedKeysFile none
Match Host *.example.org LocalPort 2222
  X11Forwarding yes
  AllowTcpForwarding local
  RekeyLimit 512M
Match LocalAddress 127.0.0.0/8,::1 User !alice,*
  GatewayPorts yes
  PermitRootLogin no
Match Group root
  MaxSessions 1
  ForceCommand internal-sftp
Match Group nogroup,!root User nobody
  MaxSessions 2
  PermitTTY no
Match Host build?.example.com
  ClientAliveInterval 10
Match All
  MaxAuthTries 7
  ClientAliveCountMax 9
""",
    "edge_forms": """
HostKey {k1}
Port = 2200
Port 2201
AddressFamily inet6
  Banner "/a #b" #c
ForceCommand echo "x  y" # the comment stays, as in sshd
RekeyLimit default none
UnusedConnectionTimeout 0
LoginGraceTime 0
MaxStartups 10:30:60
ChannelTimeout none
PermitListen [::1]:80 127.0.0.1:*
PERMITROOTLOGIN forced-commands-only
LogLevel debug3
PasswordAuthentication=no
KbdInteractiveAuthentication = no
Match All
  MaxAuthTries 2
""",
    "more_forms": """
HostKey {k1}
HostKey ./k2
PidFile run/sshd.pid
Banner banner.txt
TrustedUserCAKeys ca.pub
RevokedKeys revoked
ChannelTimeout foo=5 session:*=1h
PermitOpen *:80 [::1]:22 h:*
LoginGraceTime 1M
ClientAliveInterval 1H2S
AuthorizedKeysFile "/a b/c" d
MaxAuthTries 010
DenyGroups a,b
AuthenticationMethods publickey,keyboard-interactive:pam
AddressFamily inet
Port 2022
ListenAddress 127.0.0.1:2023
ListenAddress 127.0.0.2
UnusedConnectionTimeout none
""",
    "include": """
HostKey {k1}
Include {dir}/conf.d/*.conf
PasswordAuthentication no
Match User alice
  Include {dir}/in_match.conf
  MaxSessions 3
Match User bob
  Include {dir}/missing/*.conf {dir}/bob.conf
""",
}

INCLUDED = {
    "conf.d/10-first.conf": "MaxAuthTries 2\nPort 2200\nMatch Address 10.0.0.0/8\n  Banner /b10\n",
    # The Match above ended with its file: this line is global again.
    "conf.d/20-second.conf": "MaxAuthTries 5\nPort 2201\nX11Forwarding yes\n",
    "bob.conf": "Match All\n  ClientAliveInterval 33\nMatch Host *.org\n  GatewayPorts yes\n",
    "in_match.conf": "PermitTTY no\nMatch Host *.example.com\n  LogLevel ERROR\n",
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_effective_config_matches_sshd(name: str, tmp_path: Path, keys: tuple[Path, Path]) -> None:
    k1, k2 = keys
    if name == "first_wins_and_lists":
        subprocess.run(["ssh-keygen", "-q", "-s", k1, "-I", "h", "-h", f"{k1}.pub"], check=True)
    for rel, text in INCLUDED.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    config = tmp_path / "sshd_config"
    config.write_text(CONFIGS[name].format(k1=k1, k2=k2, dir=tmp_path))
    compare(config, CONNS, tmp_path, k1.parent)  # relative HostKey paths: beside k1


BAD = {
    "unknown": "Frobnicate yes\n",
    "missing_argument": "PasswordAuthentication\n",
    "bad_flag": "PasswordAuthentication maybe\n",
    "extra_argument": "Port 22 23\n",
    "global_in_match": "Match User x\nPort 22\n",
    "bad_match_attribute": "Match Colour blue\n",
    "match_missing_pattern": "Match User\n",
    "match_all_combined": "Match All User x\n",
    "bad_cidr": "Match Address 10.0.0.1/8\n",
    "quotes": 'Banner "/etc/issue\n',
    "bad_time": "LoginGraceTime 5x\n",
    "bad_int": "MaxAuthTries -1\n",
    "bad_max_startups": "MaxStartups 10:30\n",
    "bad_env": "AcceptEnv A=B\n",
    "bad_setenv": "SetEnv NOEQUALS\n",
    "duplicate_subsystem": "Subsystem sftp a\nSubsystem sftp b\n",
    "bad_cipher": "Ciphers nonesuch-cipher\n",
    "bad_root_login": "PermitRootLogin sometimes\n",
    "bad_auth_methods": "AuthenticationMethods any,publickey password\n",
    "bad_permit_open": "PermitOpen nohostport\n",
    "empty_banner": 'Banner ""\n',
    "permitlisten_port_zero": "PermitListen 0\n",
    "allowusers_bad_cidr": "AllowUsers bob@10.0.0.1/8\n",
    "subsystem_in_match": "Match User bob\nSubsystem x y\n",
    "rekey_too_small": "RekeyLimit 8\n",
    "global_in_included_match": "Match User bob\nInclude {dir}/inc\n",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_refused_like_sshd(name: str, tmp_path: Path, keys: tuple[Path, Path]) -> None:
    config = tmp_path / "sshd_config"
    (tmp_path / "inc").write_text("Match All\nPort 22\n")
    config.write_text(f"HostKey {keys[0]}\n" + BAD[name].format(dir=tmp_path))
    result = subprocess.run(
        [SSHD, "-t", "-f", str(config)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode != 0
    with pytest.raises(ConfigError) as info:
        load_sshd_config(config)
    found = re.search(r"line (\d+)", result.stderr)
    if found:
        assert info.value.line == int(found.group(1)), result.stderr


def test_unsupported_accepted_like_sshd(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    text = (
        f"HostKey {keys[0]}\nUsePAM yes\nUseDNS no\nPrintMotd no\nProtocol 2\n"
        "Match User x\n  IPQoS lowdelay\n  X11UseLocalhost no\n"
    )
    config = tmp_path / "sshd_config"
    config.write_text(text)
    subprocess.run([SSHD, "-t", "-f", str(config)], check=True, capture_output=True)
    parsed = load_sshd_config(config)
    assert [u.keyword for u in parsed.unsupported] == [
        "usepam", "usedns", "printmotd", "protocol", "ipqos", "x11uselocalhost"
    ]  # fmt: skip
