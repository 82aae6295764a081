"""The ready-made policies: authorized_keys options, certificates, principals, passwords."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from auth_pair import key

from ssh_auth import (
    AuthContext,
    Decision,
    PasswordDatabase,
    StandardPolicy,
    authorized_keys_file,
    parse_authentication_methods,
)
from ssh_keys import AuthorizedKeys, Certificate, CertType, generate_private_key, sign_certificate

NOW = datetime(2030, 6, 1, tzinfo=timezone.utc)
CTX = AuthContext(session_id=b"sid", client_address="192.0.2.7")
CA = generate_private_key("ed25519")
OTHER_CA = generate_private_key("ed25519")


def policy_for(text: str, **kw: object) -> StandardPolicy:
    ak = AuthorizedKeys(text)
    return StandardPolicy(authorized_keys=lambda user: ak if user == "alice" else None,
                          clock=lambda: NOW, **kw)  # type: ignore[arg-type]  # fmt: skip


def line(options: str = "", kind: str = "ed25519", ca: bool = False) -> str:
    k = CA.public_key if ca else key(kind).public_key
    return f"{options} {k.to_line()}".strip()


def cert(principals: tuple[str, ...] = ("alice",), ca: object = CA, **kw: object) -> Certificate:
    return sign_certificate(ca, key("ed25519").public_key, principals=principals,  # type: ignore[arg-type]
                            **kw)  # type: ignore[arg-type]  # fmt: skip


def test_plain_key_and_options_travel_up() -> None:
    policy = policy_for(line('restrict,pty,command="/bin/date"'))
    decision = policy.check_publickey("alice", key("ed25519").public_key, CTX)
    assert decision.allowed and decision.options is not None
    assert decision.force_command == "/bin/date"
    assert decision.pty_allowed
    assert not (decision.port_forwarding_allowed or decision.agent_forwarding_allowed
                or decision.x11_forwarding_allowed or decision.user_rc_allowed)  # fmt: skip
    assert not policy.check_publickey("bob", key("ed25519").public_key, CTX).allowed
    assert not policy.check_publickey("alice", key("ecdsa256").public_key, CTX).allowed


@pytest.mark.parametrize(
    ("options", "address", "allowed"),
    [
        ('from="192.0.2.0/24"', "192.0.2.7", True),
        ('from="192.0.2.0/24"', "198.51.100.1", False),
        ('from="!192.0.2.7,*"', "192.0.2.7", False),
        ('from="192.0.2.*"', None, False),
        ('expiry-time="20300101"', "192.0.2.7", False),
        ('expiry-time="20310101"', "192.0.2.7", True),
        ('principals="alice"', "192.0.2.7", False),  # only for cert-authority lines
    ],
)
def test_key_line_restrictions(options: str, address: str | None, allowed: bool) -> None:
    policy = policy_for(line(options))
    ctx = AuthContext(session_id=b"", client_address=address)
    assert policy.check_publickey("alice", key("ed25519").public_key, ctx).allowed is allowed


def test_later_line_may_apply_when_an_earlier_does_not() -> None:
    text = "\n".join([line('from="10.0.0.1"'), line("no-pty")])
    decision = policy_for(text).check_publickey("alice", key("ed25519").public_key, CTX)
    assert decision.allowed and decision.options is not None and not decision.options.pty


def test_cert_authority_lines() -> None:
    policy = policy_for(line("cert-authority", ca=True))
    assert policy.check_certificate("alice", cert(), CTX).allowed
    assert not policy.check_certificate("alice", cert(("bob",)), CTX).allowed
    assert not policy.check_certificate("alice", cert(ca=OTHER_CA), CTX).allowed
    # A CA key on a plain line does not accept certificates; a cert is not its plain key.
    assert not policy_for(line(ca=True)).check_certificate("alice", cert(), CTX).allowed
    assert not policy.check_publickey("alice", key("ed25519").public_key, CTX).allowed


def test_cert_authority_principals_option() -> None:
    policy = policy_for(line('cert-authority,principals="ops,admin"', ca=True))
    assert policy.check_certificate("alice", cert(("admin",)), CTX).allowed
    assert not policy.check_certificate("alice", cert(("alice",)), CTX).allowed


def test_empty_principals_under_a_cert_authority_line_match_any_user() -> None:
    # sshd (cert-userkey.sh "empty principals"): a wildcard under cert-authority alone,
    # refused with principals= and with TrustedUserCAKeys.
    assert (
        policy_for(line("cert-authority", ca=True))
        .check_certificate("alice", cert(()), CTX)
        .allowed
    )
    limited = policy_for(line('cert-authority,principals="ops"', ca=True))
    assert not limited.check_certificate("alice", cert(()), CTX).allowed
    trusted = StandardPolicy(trusted_user_ca_keys=[CA.public_key], clock=lambda: NOW)
    assert not trusted.check_certificate("alice", cert(()), CTX).allowed


def test_certificate_validity_and_critical_options() -> None:
    policy = StandardPolicy(trusted_user_ca_keys=[CA.public_key], clock=lambda: NOW)
    assert policy.check_certificate("alice", cert(), CTX).allowed
    past = NOW - timedelta(days=1)
    expired = cert(valid_after=NOW - timedelta(days=2), valid_before=past)
    assert not policy.check_certificate("alice", expired, CTX).allowed
    assert not policy.check_certificate("alice", cert(()), CTX).allowed  # no principals
    host = cert(cert_type=CertType.HOST)
    assert not policy.check_certificate("alice", host, CTX).allowed
    src = cert(critical_options={"source-address": "192.0.2.0/24"})
    assert policy.check_certificate("alice", src, CTX).allowed
    elsewhere = AuthContext(session_id=b"", client_address="203.0.113.9")
    assert not policy.check_certificate("alice", src, elsewhere).allowed
    forced = cert(critical_options={"force-command": "backup"}, extensions=["permit-pty"])
    decision = policy.check_certificate("alice", forced, CTX)
    assert decision.force_command == "backup"
    assert decision.pty_allowed and not decision.port_forwarding_allowed


def test_authorized_principals_mapping() -> None:
    policy = StandardPolicy(
        trusted_user_ca_keys=[CA.public_key],
        authorized_principals=lambda user: ["ops"] if user == "root" else None,
        clock=lambda: NOW,
    )
    assert policy.check_certificate("root", cert(("ops",)), CTX).allowed
    assert not policy.check_certificate("root", cert(("root",)), CTX).allowed
    assert policy.check_certificate("alice", cert(("alice",)), CTX).allowed


def test_conflicting_forced_commands_refused() -> None:
    policy = policy_for(line('cert-authority,command="a"', ca=True))
    assert not policy.check_certificate(
        "alice", cert(critical_options={"force-command": "b"}), CTX
    ).allowed
    assert policy.check_certificate(
        "alice", cert(critical_options={"force-command": "a"}), CTX
    ).allowed


def test_authorized_keys_file(tmp_path: Path) -> None:
    (tmp_path / "alice.keys").write_text("garbage line\n" + line() + "\n")
    lookup = authorized_keys_file(f"{tmp_path}/%u.keys")
    found = lookup("alice")
    assert found is not None and len(found) == 1 and found.warnings
    assert lookup("bob") is None
    assert lookup("../alice") is None
    assert authorized_keys_file("%h/x", home=lambda u: None)("alice") is None
    with pytest.raises(ValueError, match="unknown token"):
        authorized_keys_file("%z")  # when the lookup is made, not at the first login
    assert authorized_keys_file("%%z") is not None  # a literal percent sign, then z


def test_authorized_keys_file_takes_a_path_object(tmp_path: Path) -> None:
    # A Path used to reach len() at login: TypeError, "internal error" for the client.
    (tmp_path / "authorized_keys").write_text(line() + "\n")
    found = authorized_keys_file(tmp_path / "authorized_keys")("alice")
    assert found is not None and len(found) == 1
    (tmp_path / "bob.keys").write_text(line() + "\n")
    found = authorized_keys_file(tmp_path / "%u.keys")("bob")
    assert found is not None and len(found) == 1
    with pytest.raises(TypeError, match="str path"):
        authorized_keys_file(b"/etc/keys")  # type: ignore[arg-type]


def test_password_database() -> None:
    db = PasswordDatabase(n=1 << 8)
    db.set_password("alice", "pw")
    assert db("alice", "pw")
    assert not db("alice", "PW")
    assert not db("mallory", "pw")
    stored = PasswordDatabase.hash("x", n=1 << 8)
    assert PasswordDatabase.verify(stored, "x") and not PasswordDatabase.verify(stored, "y")
    assert not PasswordDatabase.verify("$bcrypt$junk", "x")
    assert not PasswordDatabase.verify("$scrypt$n=1099511627776,r=8,p=1$AA==$AA==", "x")


def test_method_lists() -> None:
    lists = parse_authentication_methods("publickey,password publickey,keyboard-interactive:pam")
    assert lists == [["publickey", "password"], ["publickey", "keyboard-interactive"]]
    assert parse_authentication_methods("any") == [["publickey"], ["password"],
                                                   ["keyboard-interactive"]]  # fmt: skip
    with pytest.raises(ValueError, match="no method"):
        parse_authentication_methods("  ")
    assert StandardPolicy(password=lambda u, p: True).method_lists("x") == [
        ["password"], ["keyboard-interactive"],
    ]  # fmt: skip
    assert StandardPolicy().method_lists("x") == []


def test_keyboard_interactive_by_password() -> None:
    policy = StandardPolicy(password=lambda u, p: (u, p) == ("alice", "pw"))
    conversation = policy.keyboard_interactive("alice", "", CTX)
    assert conversation is not None
    first = conversation.start()
    assert not isinstance(first, Decision) and first.prompts == (("Password: ", False),)
    assert conversation.respond(("pw",)) == Decision.accept()
    assert not policy.keyboard_interactive("mallory", "", CTX).respond(("pw",)).allowed  # type: ignore[union-attr]
    assert StandardPolicy(password=lambda u, p: True,
                          keyboard_interactive_password=False).keyboard_interactive(
        "alice", "", CTX) is None  # fmt: skip
