"""sshd_config parsing without sshd: lexing, first-wins, lists, Match, Include, tokens, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssh_connection.sshd_config import (
    ConfigError,
    expand_tokens,
    load_sshd_config,
    parse_sshd_config,
)
from ssh_connection.sshd_config_keywords import expand_algorithms, parse_time
from ssh_connection.sshd_config_match import MatchConnection, parse_match, split_args, split_keyword


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Port 22", ("Port", "22")),
        ("Port=22", ("Port", "22")),
        ("  Port = 22  ", ("Port", "22")),
        ("\tPort\t22\r", ("Port", "22")),
        ("# comment", None),
        ("   ", None),
        ("Banner =", ("Banner", "")),
    ],
)
def test_split_keyword(line: str, expected: tuple[str, str] | None) -> None:
    assert split_keyword(line) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('a "b c" d', ["a", "b c", "d"]),
        ("'it''s'", ["its"]),
        (r"a\ b", ["a b"]),
        (r'"a\"b"', ['a"b']),
        ("a #comment", ["a"]),
        ("a#b", ["a#b"]),
        ('"#x" y', ["#x", "y"]),
        (r"c:\path", [r"c:\path"]),
        ('""', [""]),
    ],
)
def test_split_args(text: str, expected: list[str]) -> None:
    assert split_args(text) == expected


def test_unterminated_quote() -> None:
    with pytest.raises(ValueError, match="quotes"):
        split_args('"open')


@pytest.mark.parametrize(
    ("text", "seconds"), [("0", 0), ("90", 90), ("1m30s", 90), ("2h", 7200), ("1w1d", 691200)]
)
def test_parse_time(text: str, seconds: int) -> None:
    assert parse_time(text) == seconds


@pytest.mark.parametrize("text", ["", "1x", "m", "-1", "1.5h", "9" * 20])
def test_parse_time_refuses(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - any wording
        parse_time(text)


def test_defaults_match_sshd() -> None:
    s = parse_sshd_config("").settings()
    assert s["port"] == (22,) and s["maxauthtries"] == 6 and s["logingracetime"] == 120
    assert s["permitrootlogin"] == "without-password" and s["passwordauthentication"] is True
    assert s["authorizedkeysfile"] == (".ssh/authorized_keys", ".ssh/authorized_keys2")
    assert s["maxstartups"] == (10, 30, 100) and s["unusedconnectiontimeout"] is None
    assert s.listen_addresses() == [("::", 22), ("0.0.0.0", 22)]


def test_first_wins_and_lists() -> None:
    config = parse_sshd_config(
        "maxauthtries 3\nMaxAuthTries 4\nPort 1\nPort 2\nListenAddress 10.0.0.1\n"
        "ListenAddress [::1]:9\nAcceptEnv A B\nAcceptEnv C\nSetEnv X=1\nSetEnv Y=2\n"
        "Subsystem sftp internal-sftp -l INFO\nSubsystem x '/usr/bin/x y'\n"
        "ChallengeResponseAuthentication no\nKbdInteractiveAuthentication yes\n"
    )
    s = config.settings()
    assert s["MaxAuthTries"] == 3 and s["port"] == (1, 2)
    assert s.listen_addresses() == [("10.0.0.1", 1), ("10.0.0.1", 2), ("::1", 9)]
    assert s["acceptenv"] == ("A", "B", "C") and s["setenv"] == ("X=1",)
    assert s.subsystems == {"sftp": "internal-sftp -l INFO", "x": "/usr/bin/x y"}
    assert s["kbdinteractiveauthentication"] is False
    assert s["challengeresponseauthentication"] is False  # the alias reads the same value


MATCHING = """
PasswordAuthentication yes
AllowUsers g
Match User alice,!mallory Address 10.0.0.0/8
  PasswordAuthentication no
  AllowUsers a1
Match Group admins
  MaxSessions 1
  AllowUsers a2
Match Host *.example.com LocalPort 2222 LocalAddress 192.0.2.1
  X11Forwarding yes
Match All
  PasswordAuthentication yes
  MaxSessions 7
"""


def groups(user: str) -> list[str] | None:
    return {"alice": ["staff", "admins"], "bob": ["staff"]}.get(user)


def test_match() -> None:
    config = parse_sshd_config(MATCHING, groups_of=groups)
    alice = config.for_connection("alice", "h", "10.1.1.1", "192.0.2.1", 22)
    assert alice["passwordauthentication"] is False  # first matching block wins
    assert alice["allowusers"] == ("a1", "a2")  # lists gather over matching blocks
    assert alice["maxsessions"] == 1 and alice["x11forwarding"] is False
    bob = config.for_connection("bob", "WWW.Example.COM", "11.0.0.1", "192.0.2.1", 2222)
    assert bob["passwordauthentication"] is True and bob["allowusers"] == ("g",)
    assert bob["maxsessions"] == 7 and bob["x11forwarding"] is True
    # Without a group lookup, Group criteria never match.
    no_groups = parse_sshd_config(MATCHING)
    assert no_groups.for_connection("alice", "h", "10.1.1.1", "1.1.1.1", 22)["maxsessions"] == 7
    # "Match All" applies in the global pass too, after global lines (first wins there).
    assert config.settings()["maxsessions"] == 7
    # Without a host name, Host patterns see the address (sshd with UseDNS no).
    by_address = parse_sshd_config("Match Host 10.9.*\n  MaxSessions 2\n")
    assert by_address.for_connection("u", None, "10.9.0.1", "10.0.0.1", 22)["maxsessions"] == 2
    # Unknown user, missing fields: criteria needing them do not match.
    assert config.match(MatchConnection(user="carol"))["allowusers"] == ("g",)


def test_match_criteria_errors() -> None:
    for args, match in [
        ([], "One or more"),
        (["All", "User", "x"], "cannot be combined"),
        (["User", "x", "All"], "cannot be combined"),
        (["Colour", "x"], "Unsupported Match attribute"),
        (["User"], "Missing Match criteria"),
        (["Address", "10.0.0.1/8"], "host bits"),
        (["LocalPort", "99999"], "Invalid LocalPort"),
    ]:
        with pytest.raises(ValueError, match=match):
            parse_match(args)


def test_include(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "b.conf").write_text("MaxAuthTries 5\nPort 2\n")
    (tmp_path / "conf.d" / "a.conf").write_text("Port 1\nMatch User x\n  MaxSessions 1\n")
    (tmp_path / "user.conf").write_text("PermitTTY no\nMatch Host h\n  LogLevel ERROR\n")
    main = tmp_path / "sshd_config"
    main.write_text(
        "Include conf.d/*.conf nothing/*.conf\nMaxAuthTries 9\n"
        "Match User alice\n  Include user.conf\n  MaxSessions 3\n"
    )
    config = load_sshd_config(main, include_dir=str(tmp_path))
    g = config.settings()
    assert g["port"] == (1, 2) and g["maxauthtries"] == 5
    alice = config.for_connection("alice", "h", "10.0.0.1", "10.0.0.2", 22)
    assert alice["permittty"] is False and alice["loglevel"] == "ERROR"
    assert alice["maxsessions"] == 3  # the Match in user.conf ended with its file
    assert config.for_connection("x", "h", "1.1.1.1", "1.1.1.2", 22)["maxsessions"] == 1


def test_include_loop_and_errors_name_the_file(tmp_path: Path) -> None:
    loop = tmp_path / "loop.conf"
    loop.write_text(f"Include {loop}\n")
    with pytest.raises(ConfigError, match="recursive"):
        load_sshd_config(loop)
    bad = tmp_path / "bad.conf"
    bad.write_text("\n\nNoSuchThing yes\n")
    main = tmp_path / "main"
    main.write_text(f"Include {bad}\n")
    with pytest.raises(ConfigError) as info:
        load_sshd_config(main)
    assert (info.value.file, info.value.line) == (str(bad), 3)
    assert "Bad configuration option: NoSuchThing" in str(info.value)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("Port 22\nFoo bar\n", 2, "Bad configuration option"),
        ("Port\n", 1, "no argument"),
        ("Port #\n", 1, "no argument"),
        ("Match User x\nHostKey /k\n", 2, "not allowed within a Match"),
        ("PasswordAuthentication maybe\n", 1, "unsupported option"),
        ("MaxAuthTries 1 2\n", 1, "extra arguments"),
        ("Subsystem sftp\n", 1, "Missing subsystem command"),
        ("Subsystem a b\nSubsystem a c\n", 2, "already defined"),
        ("MaxStartups 20:30:10\n", 1, "MaxStartups"),
        ("AllowUsers bob@10.0.0.1/8\n", 1, "invalid user pattern"),
        ("ListenAddress [::1\n", 1, "invalid address"),
        ("PermitOpen any none\n", 1, "must appear alone"),
        ("Ciphers aes128-ctr,rot13\n", 1, "Bad SSH2"),
    ],
)
def test_errors(text: str, line: int, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_sshd_config(text, filename="cfg")
    assert (info.value.file, info.value.line) == ("cfg", line)


def test_unsupported_reported() -> None:
    config = parse_sshd_config(
        "UsePAM no\nUsePAM yes\nPrintMotd no\nMatch User x\n  GSSAPIAuthentication no\n"
    )
    assert [(u.keyword, u.line) for u in config.unsupported] == [
        ("usepam", 2), ("printmotd", 3), ("gssapiauthentication", 5)
    ]  # fmt: skip
    assert config.settings()["usepam"] is False  # the first one wins, as in sshd


def test_tokens_and_files() -> None:
    s = parse_sshd_config(
        "AuthorizedKeysFile .ssh/k %h/k2 /etc/keys/%u.%U %%\n"
        "AuthorizedPrincipalsFile principals/%u\n"
    ).settings()
    assert s.authorized_keys_files("al", "/home/al", 1000) == [
        "/home/al/.ssh/k", "/home/al/k2", "/etc/keys/al.1000", "/home/al/%"
    ]  # fmt: skip
    assert s.authorized_principals_file("al", "/home/al", 1) == "/home/al/principals/al"


def test_chroot_directory_by_match_with_tokens() -> None:
    config = parse_sshd_config("Match User al\n  ChrootDirectory /srv/%u.%U%%\n")
    assert config.settings().chroot_directory("bo", "/home/bo", 2) is None  # "none"
    s = config.for_connection("al", None, "127.0.0.1", "127.0.0.1", 22)
    assert s.chroot_directory("al", "/home/al", 7) == "/srv/al.7%"
    with pytest.raises(ValueError, match="unknown token"):
        expand_tokens("%k", user="u", home="/h", uid=0)
    assert (
        parse_sshd_config("AuthorizedKeysFile none\n")
        .settings()
        .authorized_keys_files("u", "/h", 0)
        == []
    )


def test_algorithms_kept_as_given_and_expanded() -> None:
    s = parse_sshd_config("Ciphers +aes128-cbc\nMACs -*sha1*\nKexAlgorithms ^curve25519-sha256\n")
    settings = s.settings()
    assert settings["ciphers"] == "+aes128-cbc"
    assert settings.algorithms("ciphers")[-1] == "aes128-cbc"
    assert not any("sha1" in m for m in settings.algorithms("macs"))
    assert settings.algorithms("kexalgorithms")[0] == "curve25519-sha256"
    assert expand_algorithms("ciphers", "aes256-ctr") == "aes256-ctr"


def test_dump_format() -> None:
    text = parse_sshd_config("Port 2222\nAllowUsers a b\nRekeyLimit 1M 1m\n").dump()
    assert "port 2222\n" in text and "allowusers a\nallowusers b\n" in text
    assert "rekeylimit 1048576 60\n" in text and "listenaddress [::]:2222\n" in text
    assert "subsystem" not in text and "setenv" not in text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("PortMatchUserAl =\t\"'#\\\n!*,10./:")), max_size=80))
def test_never_crashes(text: str) -> None:
    try:
        config = parse_sshd_config(text)
    except ConfigError:
        return
    config.for_connection("u", "h", "10.0.0.1", "10.0.0.2", 22).dump()


def test_access_lists() -> None:
    s = parse_sshd_config(
        "DenyUsers mallory *@10.66.0.0/16\nAllowUsers alice bob@*.example.com bob@192.0.2.0/24\n"
        "AllowGroups staff wheel\nDenyGroups banned\n"
    ).settings()

    def denied(user: str, host: str | None, address: str, groups: tuple[str, ...]) -> bool:
        return s.access_denied(user, host=host, address=address, groups=groups) is not None

    assert not denied("alice", None, "10.1.1.1", ("staff",))
    assert denied("mallory", None, "10.1.1.1", ("staff",))
    assert denied("alice", None, "10.66.3.4", ("staff",))  # denied by address
    assert not denied("bob", "ci.example.com", "203.0.113.9", ("wheel",))
    assert not denied("bob", None, "192.0.2.77", ("wheel",))
    assert denied("bob", "ci.example.org", "203.0.113.9", ("wheel",))
    assert denied("Alice", None, "10.1.1.1", ("staff",))  # user names are case-sensitive
    assert denied("alice", None, "10.1.1.1", ("users",))  # no allowed group
    assert denied("alice", None, "10.1.1.1", ("staff", "banned"))
    assert parse_sshd_config("").settings().access_denied("x", host=None, address="::1") is None


def test_paths_made_absolute_like_sshd() -> None:
    s = parse_sshd_config(
        "HostKey hk\nPidFile run.pid\nBanner none\nRevokedKeys /etc/krl\n"
        "AuthorizedPrincipalsFile p/%u\n",
        cwd="/srv/sshd",
    ).settings()
    assert s["hostkey"] == ("/srv/sshd/hk",) and s["pidfile"] == "/srv/sshd/run.pid"
    assert s["banner"] == "none" and s["revokedkeys"] == "/etc/krl"
    assert s["authorizedprincipalsfile"] == "p/%u"  # expanded per user, under the home


def test_typed_accessors() -> None:
    s = parse_sshd_config("MaxAuthTries 4\n").settings()
    assert s.integer("MaxAuthTries") == 4 and s.flag("strictmodes") is True
    assert s.text("loglevel") == "INFO" and s.words("acceptenv") == ()
    with pytest.raises(TypeError, match="not an integer"):
        s.integer("strictmodes")
    assert "maxauthtries" in s.explicit and "maxsessions" not in s.explicit
