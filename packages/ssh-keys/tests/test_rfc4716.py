"""RFC 4716 public key files."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssh_keys import KeyFormatError, UnsupportedAlgorithm, generate_private_key
from ssh_keys.rfc4716 import (
    RFC4716PublicKey,
    decode_rfc4716_public_key,
    encode_rfc4716_public_key,
)

# `ssh-keygen -e -f key.pub` (OpenSSH 9.2).
FROM_SSH_KEYGEN = """---- BEGIN SSH2 PUBLIC KEY ----
Comment: "256-bit ED25519, converted by root@vm from OpenSSH"
AAAAC3NzaC1lZDI1NTE5AAAAIGaua7ALqo27r05O8rXMB+/0KmBv7h8EnRkBOsiaN26J
---- END SSH2 PUBLIC KEY ----
"""
LINE = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGaua7ALqo27r05O8rXMB+/0KmBv7h8EnRkBOsiaN26J"

# RFC 4716 section 3.6's example shape: continued headers, a Subject, an x- tag.
RFC_STYLE = """---- BEGIN SSH2 PUBLIC KEY ----\r
Subject: me\r
Comment: "1024-bit rsa, created by me@example.com Mon Jan 15 \\\r
08:31:24 2001"\r
x-private: yes\r
AAAAC3NzaC1lZDI1NTE5AAAAIGaua7ALqo27r05O8rXMB+/0KmBv7h8EnRk\r
BOsiaN26J\r
---- END SSH2 PUBLIC KEY ----\r
"""

ERRORS = (KeyFormatError, UnsupportedAlgorithm)


def test_reads_ssh_keygen_export() -> None:
    decoded = decode_rfc4716_public_key(FROM_SSH_KEYGEN)
    assert decoded.key.to_line() == LINE
    assert decoded.comment == "256-bit ED25519, converted by root@vm from OpenSSH"
    assert decode_rfc4716_public_key(FROM_SSH_KEYGEN.encode()).key == decoded.key


def test_continuation_crlf_and_headers() -> None:
    decoded = decode_rfc4716_public_key(RFC_STYLE)
    assert decoded.key.to_line() == LINE
    assert decoded.comment == "1024-bit rsa, created by me@example.com Mon Jan 15 08:31:24 2001"
    assert decoded.headers[0] == ("Subject", "me")
    assert decoded.headers[2] == ("x-private", "yes")


def test_writes_what_ssh_keygen_writes() -> None:
    key = decode_rfc4716_public_key(FROM_SSH_KEYGEN).key
    out = encode_rfc4716_public_key(key, "256-bit ED25519, converted by root@vm from OpenSSH")
    assert out == FROM_SSH_KEYGEN


@pytest.mark.parametrize("kind", [("ed25519", None), ("ecdsa", 521), ("rsa", 2048)])
def test_round_trip_with_long_comment(kind: tuple[str, int | None]) -> None:
    key = generate_private_key(kind[0], kind[1]).public_key
    comment = "a rather long comment, é included, " * 6
    text = encode_rfc4716_public_key(key, comment, headers=(("x-Tag", "v"),))
    assert all(len(line.encode()) <= 72 for line in text.splitlines())
    decoded = decode_rfc4716_public_key(text)
    assert decoded == RFC4716PublicKey(key, decoded.headers)
    assert decoded.comment == comment
    assert decoded.headers[-1] == ("x-Tag", "v")


def test_no_comment() -> None:
    key = generate_private_key().public_key
    text = encode_rfc4716_public_key(key)
    assert "Comment" not in text
    assert decode_rfc4716_public_key(text).comment == ""


@pytest.mark.parametrize(
    "text",
    [
        "",
        "---- BEGIN SSH2 PUBLIC KEY ----\nAAAA\n",  # no END
        "---- BEGIN SSH2 PUBLIC KEY ----\n---- END SSH2 PUBLIC KEY ----\n",  # no body
        FROM_SSH_KEYGEN.replace("AAAAC3", "AA*AC3"),
        FROM_SSH_KEYGEN.replace("Comment", "Bad Tag"),
        FROM_SSH_KEYGEN.replace("Comment", "C" * 65),
        FROM_SSH_KEYGEN.replace("256-bit", "x" * 5000),  # absurd line
        "---- BEGIN SSH2 PUBLIC KEY ----\nComment: \\\n",  # runaway continuation
        FROM_SSH_KEYGEN.replace("AAAAC3NzaC1lZDI1NTE5", "AAAAC3NzaC1lZDI1NTE4"),
    ],
)
def test_malformed(text: str) -> None:
    with pytest.raises(ERRORS):
        decode_rfc4716_public_key(text)


def test_long_unwrapped_comment_accepted() -> None:
    # ssh-keygen -e does not wrap "converted by user@host" however long the host name is.
    text = FROM_SSH_KEYGEN.replace("root@vm", "root@" + "h" * 60)
    assert decode_rfc4716_public_key(text).comment.endswith("h from OpenSSH")


def test_header_value_limit() -> None:
    long_value = "\\\n".join(["v" * 70] * 16)  # 1120 bytes of value over continued lines
    text = FROM_SSH_KEYGEN.replace('"256-bit', long_value + '"256-bit')
    with pytest.raises(KeyFormatError):
        decode_rfc4716_public_key(text)


def test_bad_header_on_write() -> None:
    key = generate_private_key().public_key
    with pytest.raises(ValueError, match="tag"):
        encode_rfc4716_public_key(key, headers=(("a b", "c"),))
    with pytest.raises(ValueError, match="line"):
        encode_rfc4716_public_key(key, comment="two\nlines")


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutations(data: st.DataObject) -> None:
    text = RFC_STYLE
    i = data.draw(st.integers(0, len(text) - 1))
    kind = data.draw(st.sampled_from(["replace", "delete", "truncate", "insert"]))
    char = data.draw(st.characters(max_codepoint=0x2FF))
    if kind == "replace":
        text = text[:i] + char + text[i + 1 :]
    elif kind == "delete":
        text = text[:i] + text[i + 1 :]
    elif kind == "insert":
        text = text[:i] + char + text[i:]
    else:
        text = text[:i]
    with contextlib.suppress(*ERRORS):
        decode_rfc4716_public_key(text)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes(blob: bytes) -> None:
    with contextlib.suppress(*ERRORS):
        decode_rfc4716_public_key(b"---- BEGIN SSH2 PUBLIC KEY ----\n" + blob)
