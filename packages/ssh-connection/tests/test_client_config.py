"""connect()'s merge of ssh_config with explicit arguments (client_config), no network."""

from __future__ import annotations

import pytest

from ssh_connection import sync
from ssh_connection.client_config import (
    expand_proxy_command,
    parse_proxy_jump,
    plan_connection,
    session_env,
)
from ssh_connection.config import ConfigError, LocalContext, ProxyHop, SSHConfig

ME = LocalContext(user="me", home="/nonexistent-home", hostname="laptop")


def config(text: str) -> SSHConfig:
    return SSHConfig.from_text(text, context=ME)


def test_explicit_arguments_win_over_the_files() -> None:
    cfg = config(
        "Host web\n HostName 10.0.0.1\n Port 2222\n User deploy\n ConnectTimeout 5\n"
        " ServerAliveInterval 9\n ProxyJump bastion\n"
    )
    plan = plan_connection("web", ssh_config=cfg)
    assert (plan.hostname, plan.port, plan.username) == ("10.0.0.1", 2222, "deploy")
    assert plan.connect_timeout == 5.0 and plan.keepalive_interval == 9.0
    assert plan.proxy_jump == (ProxyHop("bastion"),)
    plan = plan_connection(
        "alice@web", 22, ssh_config=cfg, connect_timeout=1, keepalive_interval=0, proxy_jump="none"
    )
    assert (plan.port, plan.username, plan.connect_timeout) == (22, "alice", 1)
    assert plan.keepalive_interval is None and plan.proxy_jump == ()
    assert plan_connection("web", username="bob", ssh_config=cfg).username == "bob"


def test_without_a_config() -> None:
    plan = plan_connection("carol@example.org", local_user="me", proxy_command="nc %h %p %r")
    assert (plan.hostname, plan.port, plan.username) == ("example.org", 22, "carol")
    assert plan.proxy_command == "nc example.org 22 carol"
    with pytest.raises(ValueError, match="host_key_check"):
        plan.host_key_policy()  # nothing to check host keys with


def test_proxy_jump_forms() -> None:
    assert parse_proxy_jump("a,u@b:2222,ssh://c") == (
        ProxyHop("a"),
        ProxyHop("b", "u", 2222),
        ProxyHop("c"),
    )
    assert parse_proxy_jump("none") == ()
    with pytest.raises(ConfigError):
        parse_proxy_jump("a b")


def test_proxy_command_bad_token() -> None:
    with pytest.raises(ConfigError):
        expand_proxy_command("nc %z", "h", "h", 22, "u")


def test_send_env_and_set_env() -> None:
    # "-OLD" drops the OLD pattern listed before it (as ssh: patterns, not variables).
    cfg = config("Host *\n SendEnv LC_* OLD\n SendEnv -OLD\n SetEnv LC_X=fixed FOO=bar\n")
    env = session_env(cfg.resolve("h"), {"LC_A": "1", "LC_X": "local", "OLD": "s", "HOME": "/"})
    assert env == {"LC_X": "fixed", "FOO": "bar", "LC_A": "1"}


def test_a_proxy_jump_loop_is_a_clear_error() -> None:
    cfg = config("Host a\n HostName 127.0.0.1\n ProxyJump a\n")
    with pytest.raises(ConfigError, match="ProxyJump"):
        sync.connect("a", ssh_config=cfg)


def test_host_key_check_or_ssh_config_is_required() -> None:
    with pytest.raises(ValueError, match="host_key_check"):
        sync.connect("127.0.0.1", 1)
