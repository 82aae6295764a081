from __future__ import annotations

import fnmatch
import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssh_keys import KeyFormatError
from ssh_keys.patterns import (
    PatternMatch,
    host_port_name,
    match_address_list,
    match_glob,
    match_host_and_address,
    match_hostname,
    match_pattern_list,
    split_host_port,
    validate_address_list,
)


@pytest.mark.parametrize(
    ("subject", "pattern", "expected"),
    [
        ("host.example.com", "*.example.com", True),
        ("example.com", "*.example.com", False),
        ("a.b.example.com", "*.example.com", True),
        ("host1", "host?", True),
        ("host12", "host?", False),
        ("", "*", True),
        ("", "", True),
        ("x", "", False),
        ("abc", "a*c", True),
        ("ac", "a*c", True),
        ("abcd", "a*c", False),
        ("aaab", "*a*b", True),
        ("mississippi", "m*iss*ppi", True),
        ("mississippi", "m*iss*ppx", False),
        ("a*b", "a*b", True),
        ("192.168.1.7", "192.168.1.*", True),
    ],
)
def test_glob(subject: str, pattern: str, expected: bool) -> None:
    assert match_glob(subject, pattern) is expected


_glob_text = st.text(alphabet="ab*?", max_size=12)


@settings(max_examples=300, deadline=None)
@given(subject=st.text(alphabet="ab", max_size=12), pattern=_glob_text)
def test_glob_agrees_with_fnmatch(subject: str, pattern: str) -> None:
    # fnmatch with only * and ? (no brackets in the alphabet) is the same language.
    assert match_glob(subject, pattern) is fnmatch.fnmatchcase(subject, pattern)


def test_glob_worst_case_is_fast() -> None:
    # Would be exponential with naive backtracking; iterative matching is quadratic.
    assert match_glob("a" * 2000, "*a" * 100 + "b") is False


def test_pattern_list_negation_wins() -> None:
    patterns = "*.example.com,!bad.example.com"
    assert match_pattern_list("good.example.com", patterns) is PatternMatch.POSITIVE
    assert match_pattern_list("bad.example.com", patterns) is PatternMatch.NEGATED
    assert match_pattern_list("other.org", patterns) is PatternMatch.NONE
    # Order does not matter for negation.
    assert match_pattern_list("bad.example.com", "!bad.example.com,*") is PatternMatch.NEGATED
    # A negation alone never gives a positive match.
    assert match_pattern_list("other", "!bad") is PatternMatch.NONE
    assert not PatternMatch.NEGATED
    assert not PatternMatch.NONE
    assert PatternMatch.POSITIVE


def test_hostname_is_case_insensitive() -> None:
    assert match_hostname("Host.Example.COM", "*.example.com") is PatternMatch.POSITIVE
    assert match_hostname("host.example.com", "HOST.EXAMPLE.COM") is PatternMatch.POSITIVE
    assert match_pattern_list("ABC", "abc", ignore_case=False) is PatternMatch.NONE
    assert match_pattern_list("x", ["y", "x"]) is PatternMatch.POSITIVE


def test_host_port_names() -> None:
    assert host_port_name("host", 22) == "host"
    assert host_port_name("host", 2222) == "[host]:2222"
    assert host_port_name("::1", 2222) == "[::1]:2222"
    assert split_host_port("[host]:2222") == ("host", 2222)
    assert split_host_port("host") == ("host", 22)
    assert split_host_port("[host]:x") == ("[host]:x", 22)
    assert match_hostname("[host]:2222", "[*]:2222") is PatternMatch.POSITIVE
    assert match_hostname("[host]:2223", "[*]:2222") is PatternMatch.NONE
    with pytest.raises(ValueError, match="port"):
        host_port_name("h", 0)


@pytest.mark.parametrize(
    ("address", "patterns", "expected"),
    [
        ("10.1.2.3", "10.0.0.0/8", PatternMatch.POSITIVE),
        ("11.1.2.3", "10.0.0.0/8", PatternMatch.NONE),
        ("10.1.2.3", "10.0.0.0/8,!10.1.2.3", PatternMatch.NEGATED),
        ("10.1.2.4", "10.0.0.0/8,!10.1.2.0/24", PatternMatch.NEGATED),
        ("10.2.2.4", "10.0.0.0/8,!10.1.2.0/24", PatternMatch.POSITIVE),
        ("192.168.1.9", "192.168.1.*", PatternMatch.POSITIVE),
        ("192.168.2.9", "192.168.1.?", PatternMatch.NONE),
        ("2001:db8::1", "2001:db8::/32", PatternMatch.POSITIVE),
        ("2001:0db8:0:0::1", "2001:db8::1", PatternMatch.POSITIVE),  # numeric comparison
        ("2001:db9::1", "2001:db8::/32", PatternMatch.NONE),
        ("::ffff:10.0.0.1", "10.0.0.0/8", PatternMatch.POSITIVE),  # v4-mapped
        ("10.0.0.1", "::/0", PatternMatch.NONE),  # families never mix
        ("10.0.0.1", "*", PatternMatch.POSITIVE),
        ("10.0.0.1", "host.example.com", PatternMatch.NONE),
        ("not-an-ip", "10.0.0.0/8", PatternMatch.NONE),
    ],
)
def test_address_list(address: str, patterns: str, expected: PatternMatch) -> None:
    assert match_address_list(address, patterns) is expected


def test_address_objects_accepted() -> None:
    assert match_address_list(ipaddress.ip_address("10.0.0.1"), "10.0.0.0/24")


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "10.0.0.1/8", "::1/129", "10.0.0.0/x", "!1.2.3.4/"])
def test_bad_cidr_is_an_error(bad: str) -> None:
    with pytest.raises(KeyFormatError):
        validate_address_list(f"host,{bad}")
    with pytest.raises(KeyFormatError):
        match_address_list("10.0.0.1", bad)


def test_host_and_address() -> None:
    pats = "*.example.com,10.0.0.0/8,!evil.example.com,!10.6.6.6"
    assert match_host_and_address("ok.example.com", "192.0.2.1", pats)
    assert match_host_and_address(None, "10.1.1.1", pats)
    assert match_host_and_address("unknown.org", "10.1.1.1", pats)
    assert not match_host_and_address("evil.example.com", "10.1.1.1", pats)
    assert not match_host_and_address("ok.example.com", "10.6.6.6", pats)
    assert not match_host_and_address("other.org", "192.0.2.1", pats)
    # Without a resolved name, name patterns are matched against the address text.
    assert match_host_and_address(None, "192.0.2.7", "192.0.2.*")
    assert not match_host_and_address(None, "192.0.2.7", "*,!192.0.2.7")
