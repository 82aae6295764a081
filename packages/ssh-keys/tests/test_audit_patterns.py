"""Audit: address lists (from=, Match Address) written in notations sshd reads as addresses.

sshd parses address entries with getaddrinfo(AI_NUMERICHOST), which on glibc takes the
inet_aton forms too: ``10.1`` and ``0x0a000001`` are 10.0.0.1 and ``010.0.0.1`` is
8.0.0.1 (checked with ``sshd -T -C addr=10.0.0.1`` and ``Match Address !10.1,*``).
Python's ipaddress rejects them; read as globs they never match, so a negation written
that way would silently not apply. They must be refused instead.
"""

from __future__ import annotations

import pytest

from ssh_keys import KeyFormatError
from ssh_keys.authorized_keys import AuthorizedKeyOptions, AuthorizedKeysError
from ssh_keys.patterns import match_address_list, match_host_and_address

ODD = ["10.1", "0x0a000001", "010.0.0.1", "10.0.1", "167772161", "0x0a.0.0.1", "10.1/32"]


@pytest.mark.parametrize("entry", ODD)
def test_from_option_refuses_inet_aton_notations(entry):
    with pytest.raises(AuthorizedKeysError):
        AuthorizedKeyOptions.parse(f'from="!{entry},*"')
    with pytest.raises(AuthorizedKeysError):
        AuthorizedKeyOptions.parse(f'from="{entry}"')


@pytest.mark.parametrize("entry", ODD)
def test_address_list_refuses_inet_aton_notations(entry):
    with pytest.raises(KeyFormatError):
        match_address_list("10.0.0.1", f"!{entry},*")
    with pytest.raises(KeyFormatError):
        match_host_and_address(None, "10.0.0.1", f"!{entry},*")


@pytest.mark.parametrize(
    "patterns", ["10.0.0.*", "!10.0.0.2,*", "host1.example.com", "*.example.com", "1host", "cafe"]
)
def test_globs_and_names_still_work(patterns):
    AuthorizedKeyOptions.parse(f'from="{patterns}"')
    match_address_list("10.0.0.1", patterns)


def test_negated_mapped_address_still_applies():
    assert not match_host_and_address(None, "::ffff:10.0.0.1", "!10.0.0.1,*")
    assert not match_host_and_address(None, "10.0.0.1", "!::ffff:10.0.0.1,*")
