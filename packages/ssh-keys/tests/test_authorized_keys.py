from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssh_keys import KeyFormatError, PublicKey, generate_private_key
from ssh_keys.authorized_keys import (
    TUNNEL_ANY,
    AuthorizedKeyOptions,
    AuthorizedKeys,
    AuthorizedKeysError,
    PermitListen,
    PermitOpen,
    parse_line,
)

ED1 = generate_private_key("ed25519").public_key
ED2 = generate_private_key("ed25519").public_key
EC1 = generate_private_key("ecdsa").public_key
CA = generate_private_key("ed25519").public_key
UTC = timezone.utc


@dataclass(frozen=True)
class FakeCert:
    signature_key: PublicKey
    key: PublicKey


def opts(text: str) -> AuthorizedKeyOptions:
    return AuthorizedKeyOptions.parse(text)


def enabled(o: AuthorizedKeyOptions) -> set[str]:
    flags = {
        "agent": o.agent_forwarding,
        "port": o.port_forwarding,
        "pty": o.pty,
        "user-rc": o.user_rc,
        "x11": o.x11_forwarding,
    }
    return {name for name, on in flags.items() if on}


def test_plain_line_has_default_options() -> None:
    entry = parse_line(ED1.to_line("user@host"), 3)
    assert entry is not None
    assert entry.key == ED1
    assert entry.comment == "user@host"
    assert entry.options == AuthorizedKeyOptions()
    o = entry.options
    assert enabled(o) == {"agent", "port", "pty", "user-rc", "x11"}
    assert (o.restricted, o.cert_authority, o.no_touch_required, o.verify_required) == (
        False,
        False,
        False,
        False,
    )
    assert o.allows_from("203.0.113.9")
    assert o.permits_open("anything", 80)
    assert o.permits_listen(None, 8080)
    assert not o.expired(datetime(2999, 1, 1, tzinfo=UTC))
    assert parse_line("   # comment") is None
    assert parse_line("") is None


def test_flags_and_negations() -> None:
    o = opts("no-agent-forwarding,no-port-forwarding,no-pty,no-user-rc,no-X11-forwarding")
    assert enabled(o) == set()
    assert not o.permits_open("h", 1)
    assert not o.permits_listen("h", 1)
    o = opts("NO-PTY,Cert-Authority,no-touch-required,verify-required")
    assert not o.pty
    assert (o.cert_authority, o.no_touch_required, o.verify_required) == (True, True, True)
    assert not opts("no-touch-required,touch-required").no_touch_required


def test_restrict_and_re_enable_after_it() -> None:
    o = opts("restrict")
    assert o.restricted
    assert enabled(o) == set()
    o = opts("restrict,pty,port-forwarding")
    assert enabled(o) == {"pty", "port"}
    # Enabling before restrict does not survive it.
    o = opts("pty,agent-forwarding,user-rc,X11-forwarding,restrict")
    assert enabled(o) == set()


def test_quoting() -> None:
    assert opts('command="echo \\"hi there\\""').command == 'echo "hi there"'
    # Only \" is an escape: other backslashes stay as they are.
    assert opts('command="a\\\\b\\n"').command == "a\\\\b\\n"
    assert opts('command=""').command == ""
    assert opts('command="a,b c",no-pty').command == "a,b c"
    for bad in ['command="unterminated', "command=noquote", 'command="x"junk', "command"]:
        with pytest.raises(AuthorizedKeysError):
            opts(bad)


def test_environment() -> None:
    o = opts('environment="A=1",environment="B_2=x=y",environment="A=ignored",environment="E="')
    assert o.environment == (("A", "1"), ("B_2", "x=y"), ("E", ""))
    assert o.environment_dict == {"A": "1", "B_2": "x=y", "E": ""}
    for bad in ["NOEQUALS", "=x", "BAD-NAME=1", "SP ACE=1"]:
        with pytest.raises(AuthorizedKeysError, match="environment"):
            opts(f'environment="{bad}"')


def test_expiry_time() -> None:
    o = opts('expiry-time="20300102Z"')
    assert o.expiry_time == datetime(2030, 1, 2, tzinfo=UTC)
    assert not o.expired(datetime(2030, 1, 2, tzinfo=UTC))
    assert o.expired(datetime(2030, 1, 2, 0, 0, 1, tzinfo=UTC))
    assert opts('expiry-time="203001021530Z"').expiry_time == datetime(
        2030, 1, 2, 15, 30, tzinfo=UTC
    )
    local = opts('expiry-time="20300102153045"').expiry_time
    assert local == datetime(2030, 1, 2, 15, 30, 45)  # naive: the server's local time
    assert local is not None
    assert local.tzinfo is None
    o = opts('expiry-time="20300102153045"')
    assert not o.expired(datetime(2030, 1, 2, 15, 30, 45))
    assert o.expired(datetime(2030, 1, 2, 15, 30, 46))
    aware_local = datetime(2030, 1, 2, 15, 30, 45).astimezone()
    assert o.expired(aware_local + timedelta(seconds=1))
    # Several expiry-times: the earliest wins.
    o = opts('expiry-time="20400101Z",expiry-time="20300101Z",expiry-time="20350101Z"')
    assert o.expiry_time == datetime(2030, 1, 1, tzinfo=UTC)
    assert opts('expiry-time="99991231235959Z"').expired(datetime(2100, 1, 1, tzinfo=UTC)) is False
    for bad in ["2030", "20301301", "20300230", "2030010225", "203001021260", "x0300101", ""]:
        with pytest.raises(AuthorizedKeysError, match="expiry"):
            opts(f'expiry-time="{bad}"')


def test_from() -> None:
    o = opts('from="*.example.com,10.0.0.0/8,!10.6.6.6,!evil.example.com"')
    assert o.from_patterns == "*.example.com,10.0.0.0/8,!10.6.6.6,!evil.example.com"
    assert o.allows_from("10.1.2.3")
    assert o.allows_from("192.0.2.1", "box.example.com")
    assert not o.allows_from("192.0.2.1")
    assert not o.allows_from("10.6.6.6", "box.example.com")
    assert not o.allows_from("10.1.2.3", "evil.example.com")
    assert opts('from="2001:db8::/32"').allows_from("2001:db8::7")
    with pytest.raises(AuthorizedKeysError):
        opts('from="10.0.0.1/8"')  # host bits set: refused rather than guessed
    with pytest.raises(AuthorizedKeysError, match="multiple"):
        opts('from="a",from="b"')


def test_permitopen_and_permitlisten() -> None:
    o = opts('permitopen="db.internal:5432",permitopen="[2001:db8::1]:80",permitopen="web:*"')
    assert o.permitopen == (
        PermitOpen("db.internal", 5432),
        PermitOpen("2001:db8::1", 80),
        PermitOpen("web", None),
    )
    assert o.permits_open("db.internal", 5432)
    assert not o.permits_open("db.internal", 5433)
    assert not o.permits_open("DB.internal", 5432)  # literal, as sshd compares
    assert o.permits_open("2001:db8::1", 80)
    assert o.permits_open("web", 12345)
    assert not o.permits_open("other", 80)
    assert opts('permitopen="*:443"').permits_open("anywhere", 443)
    assert not opts('permitopen="h:22",no-port-forwarding').permits_open("h", 22)

    o = opts('permitlisten="8080",permitlisten="*.lan:9000",permitlisten="[::1]:*"')
    assert o.permitlisten == (
        PermitListen(None, 8080),
        PermitListen("*.lan", 9000),
        PermitListen("::1", None),
    )
    assert o.permits_listen(None, 8080)
    assert o.permits_listen("0.0.0.0", 8080)
    assert o.permits_listen("box.lan", 9000)
    assert not o.permits_listen("box.wan", 9000)
    assert o.permits_listen("::1", 1)
    assert not o.permits_listen(None, 1)
    assert opts('permitlisten="localhost:1"').permits_listen(None, 1)

    for bad in ["nohost", "h:0", "h:65536", "h:x", ":22", "[::1]22", "h:"]:
        with pytest.raises(AuthorizedKeysError, match="permitopen"):
            opts(f'permitopen="{bad}"')
    for bad in ["x", "h:70000", "[::1"]:
        with pytest.raises(AuthorizedKeysError, match="permitlisten"):
            opts(f'permitlisten="{bad}"')


def test_principals_tunnel_command() -> None:
    o = opts('cert-authority,principals="alice,bob",command="/bin/true",tunnel="5"')
    assert o.principals == ("alice", "bob")
    assert o.command == "/bin/true"
    assert o.tunnel == 5
    assert opts('tunnel="any"').tunnel == TUNNEL_ANY
    for bad in ['tunnel="x"', 'tunnel="-1"', 'tunnel="99999999999"']:
        with pytest.raises(AuthorizedKeysError, match="tunnel"):
            opts(bad)
    for dup in [
        'command="a",command="b"',
        'principals="a",principals="b"',
        'tunnel="1",tunnel="2"',
    ]:
        with pytest.raises(AuthorizedKeysError, match="multiple"):
            opts(dup)


@pytest.mark.parametrize(
    "bad",
    [
        "no-such-option",
        "pty=",
        'pty="yes"',
        "no-restrict",
        "no-cert-authority",
        'no-command="x"',
        "no-pty,,no-user-rc",
        "no-pty,",
        ",no-pty",
        "ptyx",
    ],
)
def test_unknown_or_malformed_options_rejected(bad: str) -> None:
    with pytest.raises(AuthorizedKeysError):
        opts(bad)


def test_file_parsing_and_line_numbers() -> None:
    source = "\n".join(
        [
            "# header",
            ED1.to_line("one"),
            f'restrict,command="echo \\"x y\\"" {ED2.to_line("two words")}',
            "",
            f'cert-authority,principals="ops" {CA.to_line("ca")}',
            f'from="10.0.0.0/8"\t{EC1.to_line()}',
        ]
    )
    ak = AuthorizedKeys(source)
    assert [(e.line_number, e.comment) for e in ak] == [
        (2, "one"),
        (3, "two words"),
        (5, "ca"),
        (6, ""),
    ]
    assert ak.entries[1].options.command == 'echo "x y"'
    assert ak.warnings == ()
    assert len(ak) == 4


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("bogus-opt " + "ssh-ed25519 AAAA", "unknown option"),
        ('command="x ' + "ssh-ed25519 AAAA", "closing quote"),
        ("no-pty", "no key"),
        ("no-pty ssh-ed25519 !!!!", "base64"),
        ("ssh-ed25519 AAAAnotakey", "base64"),
        ("ssh-ed25519", "needs a key type"),
    ],
)
def test_errors_name_the_line(line: str, message: str) -> None:
    source = f"{ED1.to_line()}\n# ok\n{line}\n"
    with pytest.raises(AuthorizedKeysError, match=message) as info:
        AuthorizedKeys(source)
    assert info.value.line_number == 3
    assert str(info.value).startswith("line 3: ")
    assert isinstance(info.value, KeyFormatError)
    lenient = AuthorizedKeys(source, strict=False)
    assert [e.line_number for e in lenient] == [1]
    assert [w.line_number for w in lenient.warnings] == [3]


def test_unsupported_key_type_is_skipped_with_warning() -> None:
    source = f"ssh-foo AAAAB3NzaC1mb28= x\nno-pty ssh-foo AAAAB3NzaC1mb28=\n{ED1.to_line()}\n"
    ak = AuthorizedKeys(source)
    assert [e.line_number for e in ak] == [3]
    assert [w.line_number for w in ak.warnings] == [1, 2]


@pytest.mark.parametrize("junk", ["\x1f", "\x85", "\u2028x", "\x00 \x00", '"', "=", ","])
def test_control_and_odd_characters_are_errors(junk: str) -> None:
    with pytest.raises(AuthorizedKeysError):
        AuthorizedKeys(junk)
    assert len(AuthorizedKeys(junk, strict=False).warnings) == 1


def test_find_plain_keys_and_certificates() -> None:
    source = "\n".join(
        [
            ED1.to_line(),
            f'from="10.0.0.0/8" {ED1.to_line()}',
            f"cert-authority {CA.to_line()}",
            f"cert-authority {ED2.to_line()}",  # a CA line never authorizes the plain key
        ]
    )
    ak = AuthorizedKeys(source)
    assert [e.line_number for e in ak.find(ED1)] == [1, 2]
    assert ak.find(ED2) == []
    assert ak.find(CA) == []
    cert = FakeCert(signature_key=CA, key=ED1)
    assert [e.line_number for e in ak.find(cert)] == [3]  # type: ignore[arg-type]
    assert ak.find(FakeCert(signature_key=EC1, key=ED1)) == []  # type: ignore[arg-type]


def test_load(tmp_path: Path) -> None:
    path = tmp_path / "authorized_keys"
    path.write_bytes(b"# \xfe\n" + f"no-pty {ED1.to_line()}\n".encode())
    ak = AuthorizedKeys.load(path)
    assert [e.key for e in ak] == [ED1]
    assert not ak.entries[0].options.pty


OPTION_PIECES = [
    "restrict",
    "pty",
    "no-pty",
    "cert-authority",
    'command="echo \\"hi\\""',
    'environment="A=b"',
    'expiry-time="20300101Z"',
    'from="10.0.0.0/8,!*.evil"',
    'permitopen="h:22"',
    'permitlisten="[::1]:80"',
    'principals="a,b"',
    'tunnel="1"',
    "no-touch-required",
    "verify-required",
]


@st.composite
def mutated_entry(draw: st.DrawFn) -> str:
    pieces = draw(st.lists(st.sampled_from(OPTION_PIECES), max_size=4))
    line = ",".join(pieces) + (" " if pieces else "") + ED1.to_line("c")
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(line)))
        ch = draw(st.sampled_from([*'",\\= \tZ*!/:[]#', "x", "\x00", "é"]))
        op = draw(st.sampled_from(["insert", "delete", "replace", "truncate"]))
        if op == "insert":
            line = line[:i] + ch + line[i:]
        elif op == "delete":
            line = line[:i] + line[i + 1 :]
        elif op == "replace":
            line = line[:i] + ch + line[i + 1 :]
        else:
            line = line[:i]
    return line


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(st.one_of(mutated_entry(), st.text(max_size=60)), max_size=5))
def test_fuzz_only_documented_outcomes(lines: list[str]) -> None:
    source = "\n".join(lines)
    lenient = AuthorizedKeys(source, strict=False)
    assert len(lenient.entries) + len(lenient.warnings) <= len(source.split("\n"))
    failure: AuthorizedKeysError | None = None
    try:
        strict = AuthorizedKeys(source)
    except AuthorizedKeysError as exc:  # anything else fails the test
        failure = exc
    if failure is None:
        assert strict.entries == lenient.entries
    else:
        assert failure.line_number in {w.line_number for w in lenient.warnings}
    for entry in lenient:
        o = entry.options
        o.allows_from("10.1.2.3", "h.evil")
        o.permits_open("h", 22)
        o.permits_listen(None, 80)
        o.expired(datetime(2029, 1, 1, tzinfo=UTC))
