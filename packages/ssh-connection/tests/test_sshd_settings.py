"""sshd-py's configuration handling without a server: -o and -p precedence, where it
listens, and how SshdPolicy turns the effective config into auth decisions."""

from __future__ import annotations

import dataclasses
import getpass
import pwd
from pathlib import Path

import pytest

from ssh_auth import AuthContext
from ssh_connection.restrictions import Restrictions
from ssh_connection.sshd_config import ConfigError, parse_sshd_config
from ssh_connection.sshd_main import parse_connection_spec
from ssh_connection.sshd_policy import Peer, SshdPolicy
from ssh_connection.sshd_settings import (
    ListenError,
    connection_settings,
    listen_addresses,
    load_config,
    server_options,
)
from ssh_keys import Certificate, PublicKey, generate_private_key, sign_certificate

ME = getpass.getuser()
CONTEXT = AuthContext(session_id=b"\0" * 32, client_address="127.0.0.1")


def test_options_are_read_first_so_they_win() -> None:
    config = parse_sshd_config("MaxAuthTries 5\n", options=["MaxAuthTries=3"])
    assert config.settings()["maxauthtries"] == 3


def test_a_bad_option_is_named_command_line_line_0() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_sshd_config("", options=["MaxAuthTries lots"])
    assert (caught.value.file, caught.value.line) == ("command-line", 0)


def test_ports_replace_every_port_line() -> None:
    config = parse_sshd_config("Port 22\nPort 2200\n", ports=[4000])
    assert config.settings().words("port") == ("4000",)


def test_without_listen_address_only_loopback_is_used() -> None:
    settings = parse_sshd_config("Port 2200\n").settings()
    assert listen_addresses(settings) == [("127.0.0.1", 2200)]


def test_an_explicit_listen_address_is_used_as_given() -> None:
    settings = parse_sshd_config("Port 2200\nListenAddress 0.0.0.0\n").settings()
    assert listen_addresses(settings) == [("0.0.0.0", 2200)]


def test_address_family_filters_listen_addresses() -> None:
    settings = parse_sshd_config("AddressFamily inet6\nListenAddress 127.0.0.1\n").settings()
    with pytest.raises(ListenError):
        listen_addresses(settings)


def test_server_options_follow_the_config() -> None:
    text = "MaxSessions 2\nLoginGraceTime 0\nClientAliveInterval 15\nClientAliveCountMax 2\n"
    options = server_options(parse_sshd_config(text).settings())
    assert options["max_sessions"] == 2 and options["login_grace_time"] is None
    assert options["connection_limits"] == {"keepalive_interval": 15.0, "keepalive_count_max": 2}


def test_channel_and_unused_connection_timeouts_reach_the_server() -> None:
    text = "ChannelTimeout session:command=1 direct-tcpip=5m\nUnusedConnectionTimeout 1m\n"
    options = server_options(parse_sshd_config(text).settings())
    assert options["channel_timeouts"] == [("session:command", 1.0), ("direct-tcpip", 300.0)]
    assert options["unused_connection_timeout"] == 60.0
    defaults = server_options(parse_sshd_config("").settings())
    assert defaults["channel_timeouts"] == [] and defaults["unused_connection_timeout"] is None


def test_forwarding_switches_are_on_and_decided_per_user() -> None:
    options = server_options(parse_sshd_config("").settings())
    assert options["allow_agent_forwarding"] and options["allow_x11_forwarding"]
    assert options["allow_streamlocal_forwarding"] and options["forwarding_check"] is None
    off = server_options(parse_sshd_config("AllowStreamLocalForwarding no\n").settings())
    assert not off["allow_streamlocal_forwarding"]


@pytest.mark.parametrize(
    ("setting", "connect", "listen"), [("local", True, False), ("remote", False, True)]
)
def test_streamlocal_forwarding_one_direction(setting: str, connect: bool, listen: bool) -> None:
    import asyncio

    from ssh_connection.restrictions import ForwardRequest

    settings = parse_sshd_config(f"AllowStreamLocalForwarding {setting}\n").settings()
    check = server_options(settings)["forwarding_check"]

    def allowed(kind: str) -> bool:
        return bool(asyncio.run(check(ForwardRequest(kind, ME, "/tmp/x.sock", 0))))

    assert allowed("direct-streamlocal@openssh.com") is connect
    assert allowed("streamlocal-forward@openssh.com") is listen
    assert allowed("direct-tcpip") and allowed("tcpip-forward")


def test_served_settings_get_no_warning() -> None:
    from ssh_connection.sshd_settings import unhonoured

    text = (
        "X11Forwarding yes\nAllowAgentForwarding yes\nAllowStreamLocalForwarding yes\n"
        "ChannelTimeout session:*=10\nUnusedConnectionTimeout 10\n"
    )
    config = parse_sshd_config(text)
    assert unhonoured(config, config.settings()) == []


def test_connection_spec() -> None:
    assert parse_connection_spec("user=a,addr=1.2.3.4,lport=22") == {
        "user": "a",
        "addr": "1.2.3.4",
        "lport": "22",
    }
    with pytest.raises(ValueError, match="Invalid test mode"):
        parse_connection_spec("color=blue")


def _policy(tmp_path: Path, text: str) -> tuple[SshdPolicy, PublicKey]:
    key = generate_private_key("ed25519").public_key
    keys = tmp_path / "authorized_keys"
    keys.write_text(key.to_line() + "\n")
    config = parse_sshd_config(f"AuthorizedKeysFile {keys}\nStrictModes no\n{text}")
    return SshdPolicy(config, Peer("127.0.0.1", 5000, "127.0.0.1", 22)), key


def test_policy_folds_the_config_into_the_decision(tmp_path: Path) -> None:
    policy, key = _policy(
        tmp_path, "ForceCommand date\nPermitTTY no\nAllowTcpForwarding local\nSetEnv A=b\n"
    )
    decision = policy.check_publickey(ME, key, CONTEXT)
    assert decision.allowed
    assert decision.force_command == "date" and not decision.pty_allowed
    restrictions = Restrictions.from_decisions([decision])
    assert restrictions.may_open("127.0.0.1", 80)
    assert not restrictions.may_listen("127.0.0.1", 8080)
    assert restrictions.environment == (("A", "b"),)


def test_policy_match_applies_per_connection(tmp_path: Path) -> None:
    policy, key = _policy(tmp_path, "Match LocalPort 22\n  PermitOpen 10.0.0.1:80\n")
    decision = policy.check_publickey(ME, key, CONTEXT)
    restrictions = Restrictions.from_decisions([decision])
    assert restrictions.may_open("10.0.0.1", 80)
    assert not restrictions.may_open("10.0.0.1", 81)


def test_policy_refuses_every_other_user(tmp_path: Path) -> None:
    policy, key = _policy(tmp_path, "")
    decision = policy.check_publickey(ME + "-not", key, CONTEXT)
    assert not decision.allowed and "cannot switch users" in decision.reason


def test_policy_refuses_passwords_without_a_checker(tmp_path: Path) -> None:
    policy, _ = _policy(tmp_path, "PasswordAuthentication yes\n")
    assert not policy.check_password(ME, "secret", CONTEXT).allowed
    assert ["password"] not in [list(m) for m in policy.method_lists(ME)]


def test_policy_deny_users(tmp_path: Path) -> None:
    policy, key = _policy(tmp_path, f"DenyUsers {ME}\n")
    decision = policy.check_publickey(ME, key, CONTEXT)
    assert not decision.allowed and "DenyUsers" in decision.reason


def test_default_mode_list_keywords_given_with_o_replace_the_defaults(tmp_path: Path) -> None:
    options = ["Port=2300", "ListenAddress=::1", f"HostKey={tmp_path}/mine"]
    config, default_mode = load_config(None, options, state_dir=str(tmp_path / "state"))
    settings = config.settings()
    assert default_mode and listen_addresses(settings) == [("::1", 2300)]
    assert settings.words("hostkey") == (f"{tmp_path}/mine",)


def test_default_mode_serves_loopback_2222_with_state_keys(tmp_path: Path) -> None:
    config, _ = load_config(None, state_dir=str(tmp_path))
    settings = config.settings()
    assert listen_addresses(settings) == [("127.0.0.1", 2222)]
    assert settings.words("hostkey") == (
        f"{tmp_path}/ssh_host_ed25519_key",
        f"{tmp_path}/ssh_host_rsa_key",
    )
    assert settings.flag("passwordauthentication") is False


def _as_root(tmp_path: Path, text: str) -> tuple[SshdPolicy, PublicKey]:
    policy, key = _policy(tmp_path, text)
    root = pwd.struct_passwd(("root", "x", 0, 0, "", str(tmp_path), "/bin/sh"))
    return SshdPolicy(policy.config, policy.peer, user=root), key


def test_permit_root_login_no_refuses_root(tmp_path: Path) -> None:
    policy, key = _as_root(tmp_path, "PermitRootLogin no\n")
    assert not policy.check_publickey("root", key, CONTEXT).allowed


def test_permit_root_login_forced_commands_only(tmp_path: Path) -> None:
    policy, key = _as_root(tmp_path, "PermitRootLogin forced-commands-only\n")
    assert not policy.check_publickey("root", key, CONTEXT).allowed
    forced, key = _as_root(tmp_path, "PermitRootLogin forced-commands-only\nForceCommand true\n")
    decision = forced.check_publickey("root", key, CONTEXT)
    assert not decision.allowed  # ForceCommand is not the key's own command=, as sshd


def test_permit_root_login_default_allows_keys(tmp_path: Path) -> None:
    policy, key = _as_root(tmp_path, "")
    assert policy.check_publickey("root", key, CONTEXT).allowed


def test_setenv_first_value_of_a_name_wins(tmp_path: Path) -> None:
    policy, key = _policy(tmp_path, "SetEnv A=1 B=2 A=3\n")
    decision = policy.check_publickey(ME, key, CONTEXT)
    assert Restrictions.from_decisions([decision]).environment == (("A", "1"), ("B", "2"))


def test_key_type_lists_take_patterns_without_a_modifier() -> None:
    settings = parse_sshd_config("HostKeyAlgorithms *\n").settings()
    names = settings.algorithms("hostkeyalgorithms")
    assert names[0] == "ssh-ed25519" and names[-1] == "rsa-sha2-512-cert-v01@openssh.com"
    with pytest.raises(ConfigError, match="Bad SSH2 Ciphers spec"):
        parse_sshd_config("Ciphers *\n")  # as sshd: only key type lists may


def _certificate_policy(tmp_path: Path, principals: str) -> tuple[SshdPolicy, Certificate]:
    ca = generate_private_key("ed25519")
    (tmp_path / "ca.pub").write_text(ca.public_key.to_line() + "\n")
    (tmp_path / "principals").write_text(principals)
    user_key = generate_private_key("ed25519").public_key
    cert = sign_certificate(ca, user_key, principals=["mekmitasdigoat"])
    config = parse_sshd_config(
        f"TrustedUserCAKeys {tmp_path}/ca.pub\nAuthorizedPrincipalsFile {tmp_path}/principals\n"
        "AuthorizedKeysFile none\n"
    )
    return SshdPolicy(config, Peer("127.0.0.1", 5000)), cert


def test_principals_file_lines_may_carry_key_options(tmp_path: Path) -> None:
    policy, cert = _certificate_policy(tmp_path, 'command="true" mekmitasdigoat\n')
    decision = policy.check_certificate(ME, cert, CONTEXT)
    assert decision.allowed and decision.force_command == "true"


def test_principals_file_line_with_bad_options_is_skipped(tmp_path: Path) -> None:
    policy, cert = _certificate_policy(tmp_path, "no-such-option mekmitasdigoat\n")
    assert not policy.check_certificate(ME, cert, CONTEXT).allowed


def test_principals_file_names_the_allowed_principals(tmp_path: Path) -> None:
    policy, cert = _certificate_policy(tmp_path, "# comment\nsomeone-else\n")
    assert not policy.check_certificate(ME, cert, CONTEXT).allowed
    allowed, cert = _certificate_policy(tmp_path, "mekmitasdigoat\n")
    assert allowed.check_certificate(ME, cert, CONTEXT).allowed


def _keyline_policy(tmp_path: Path, options: str, text: str) -> tuple[SshdPolicy, PublicKey]:
    key = generate_private_key("ed25519").public_key
    (tmp_path / "keys").write_text(f"{options} {key.to_line()}\n")
    config = parse_sshd_config(f"AuthorizedKeysFile {tmp_path}/keys\nStrictModes no\n{text}")
    return SshdPolicy(config, Peer("127.0.0.1", 5000)), key


def test_key_environment_needs_permit_user_environment(tmp_path: Path) -> None:
    policy, key = _keyline_policy(tmp_path, 'environment="FOO=bar"', "")
    decision = policy.check_publickey(ME, key, CONTEXT)
    assert Restrictions.from_decisions([decision]).environment == ()
    policy, key = _keyline_policy(
        tmp_path, 'environment="FOO=bar"', "PermitUserEnvironment yes\nSetEnv X=1\n"
    )
    decision = policy.check_publickey(ME, key, CONTEXT)
    assert Restrictions.from_decisions([decision]).environment == (("FOO", "bar"), ("X", "1"))


def test_host_key_algorithm_patterns_offer_only_what_a_key_serves() -> None:
    from ssh_connection.sshd_settings import transport_config
    from ssh_transport import HostKey

    settings = parse_sshd_config("HostKeyAlgorithms *\n").settings()
    keys = [HostKey(generate_private_key("ed25519"))]
    offered = transport_config(settings, keys).algorithm_lists().host_key
    assert offered == ("ssh-ed25519",)  # not sk-*, DSA, RSA or ECDSA: no key for them


def test_server_sig_algs_add_what_pubkey_accepted_algorithms_adds() -> None:
    from ssh_connection.sshd_settings import transport_config
    from ssh_transport import TransportConfig

    default = TransportConfig().server_sig_algs
    assert transport_config(parse_sshd_config("").settings()).server_sig_algs == default
    named = transport_config(
        parse_sshd_config(
            "PubkeyAcceptedAlgorithms +ssh-dss,ssh-dss-cert-v01@openssh.com\n"
        ).settings()
    )
    assert named.server_sig_algs[: len(default)] == default
    assert "ssh-dss" in named.server_sig_algs
    assert not any("cert" in name for name in named.server_sig_algs)
    # Never fewer than the defaults: a Match block may accept more for some users, and an
    # RSA certificate needs rsa-sha2-* there (regress limit-keytype).
    only = transport_config(parse_sshd_config("PubkeyAcceptedAlgorithms ssh-ed25519\n").settings())
    assert only.server_sig_algs == default


def test_match_blocks_reach_each_connection_settings() -> None:
    from ssh_auth import BasePolicy
    from ssh_connection.aio_server import AsyncSSHServer

    config = parse_sshd_config(
        "MaxSessions 4\nAcceptEnv LANG\n"
        "Match LocalPort 2201\n"
        "  MaxSessions 1\n  AcceptEnv LC_X\n  ClientAliveInterval 5\n"
        "  ChannelTimeout session=30\n  UnusedConnectionTimeout 10\n"
        "  AllowStreamLocalForwarding local\n  GatewayPorts yes\n"
    )
    base = AsyncSSHServer(
        [generate_private_key("ed25519")], BasePolicy(), **server_options(config.settings())
    ).connection_settings()  # fmt: skip
    assert (base.max_sessions, base.accept_env, base.connection_limits) == (4, ("LANG",), {})
    matched = connection_settings(
        config.for_connection("me", None, "127.0.0.1", "127.0.0.1", 2201), base
    )
    assert (matched.max_sessions, matched.accept_env) == (1, ("LC_X",))
    assert matched.connection_limits == {"keepalive_interval": 5.0, "keepalive_count_max": 3}
    assert matched.channel_timeouts == (("session", 30.0),)
    assert matched.unused_connection_timeout == 10.0 and matched.gateway_ports
    assert matched.allow_streamlocal_forwarding and matched.forwarding_check is not None
    other = connection_settings(
        config.for_connection("me", None, "127.0.0.1", "127.0.0.1", 22), base
    )
    assert other == dataclasses.replace(base, forwarding_check=None)
