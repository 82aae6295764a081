"""X11 forwarding without I/O: DISPLAY parsing, the cookie swap, xauth input."""

from __future__ import annotations

import struct

import pytest

from ssh_connection.x11 import (
    MIT_MAGIC_COOKIE,
    ServerX11,
    X11AuthSpoofer,
    X11Display,
    X11Error,
    parse_display,
    parse_xauth_list,
    xauth_script,
)

FAKE, REAL = b"F" * 16, b"R" * 16
NAME = MIT_MAGIC_COOKIE.encode()


def setup(cookie: bytes, order: int = 0x6C, name: bytes = NAME) -> bytes:
    fmt = "<BxHHHH2x" if order == 0x6C else ">BxHHHH2x"
    pad = b"\0" * (-len(name) % 4)
    return struct.pack(fmt, order, 11, 0, len(name), len(cookie)) + name + pad + cookie


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (":0", X11Display(0, 0, path="/tmp/.X11-unix/X0")),
        ("unix:3.1", X11Display(3, 1, path="/tmp/.X11-unix/X3")),
        ("localhost:10.0", X11Display(10, 0, host="localhost")),
        ("[::1]:2", X11Display(2, 0, host="::1")),
        (
            "/private/tmp/launch-x/org.xquartz:0",
            X11Display(0, 0, path="/private/tmp/launch-x/org.xquartz"),
        ),
    ],
)
def test_parse_display(text: str, expected: X11Display) -> None:
    assert parse_display(text) == expected


@pytest.mark.parametrize("text", ["", "host", "host:", ":x", ":1.y"])
def test_bad_display(text: str) -> None:
    with pytest.raises(X11Error):
        parse_display(text)


def test_xauth_list_first_cookie() -> None:
    out = "vm/unix:57  XDM-AUTHORIZATION-1  abcd\nvm/unix:57  MIT-MAGIC-COOKIE-1  0011\n"
    assert parse_xauth_list(out) == (MIT_MAGIC_COOKIE, b"\x00\x11")
    assert parse_xauth_list("") is None


@pytest.mark.parametrize("order", [0x6C, 0x42])
def test_fake_cookie_swapped_for_the_real_one(order: int) -> None:
    spoofer = X11AuthSpoofer(MIT_MAGIC_COOKIE, FAKE, REAL)
    data = setup(FAKE, order) + b"first request"
    out = b"".join(spoofer.feed(data[i : i + 5]) for i in range(0, len(data), 5))
    assert out == setup(REAL, order) + b"first request"
    assert spoofer.feed(b"more") == b"more"


def test_wrong_cookie_refused() -> None:
    with pytest.raises(X11Error, match="does not match"):
        X11AuthSpoofer(MIT_MAGIC_COOKIE, FAKE, REAL).feed(setup(REAL))


def test_other_protocol_refused() -> None:
    with pytest.raises(X11Error, match="different authentication protocol"):
        X11AuthSpoofer(MIT_MAGIC_COOKIE, FAKE, REAL).feed(setup(FAKE, name=b"XDM-AUTH"))


def test_not_x11_refused() -> None:
    with pytest.raises(X11Error):
        X11AuthSpoofer(MIT_MAGIC_COOKIE, FAKE, REAL).feed(b"GET / HTTP/1.1\r\n")


def test_xauth_script_as_sshd() -> None:
    x11 = ServerX11(12, 0, MIT_MAGIC_COOKIE, "00ff", single_connection=False)
    assert x11.display == "localhost:12.0"
    assert xauth_script(x11) == b"remove unix:12.0\nadd unix:12.0 MIT-MAGIC-COOKIE-1 00ff\n"


@pytest.mark.parametrize(
    ("protocol", "cookie"),
    [(MIT_MAGIC_COOKIE, "00ff\nremove *"), ("MIT MAGIC", "00ff"), (MIT_MAGIC_COOKIE, "0g")],
)
def test_xauth_injection_refused(protocol: str, cookie: str) -> None:
    with pytest.raises(ValueError, match="malformed"):
        ServerX11(12, 0, protocol, cookie, single_connection=False)
