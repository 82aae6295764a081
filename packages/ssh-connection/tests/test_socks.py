"""SOCKS4, SOCKS4a and SOCKS5 handshakes (RFC 1928 and the SOCKS4/4a notes), server side."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssh_connection.socks import (
    MAX_REQUEST,
    SocksError,
    SocksHandshake,
    SocksTarget,
    reason_for_open_failure,
)
from ssh_wire import ChannelOpenFailure


def v5(request: bytes, greeting: bytes = b"\x05\x01\x00") -> SocksHandshake:
    hs = SocksHandshake()
    hs.receive_data(greeting)
    assert hs.data_to_send() == b"\x05\x00"  # no authentication chosen
    hs.receive_data(request)
    return hs


def test_socks5_connect_to_a_domain_name() -> None:
    hs = v5(b"\x05\x01\x00\x03\x0bexample.org\x01\xbb")
    assert hs.target == SocksTarget("example.org", 443, 5)
    hs.succeed("127.0.0.1", 5000)
    assert hs.data_to_send() == b"\x05\x00\x00\x01\x7f\x00\x00\x01\x13\x88"


def test_socks5_connect_to_ipv4_and_ipv6() -> None:
    assert v5(b"\x05\x01\x00\x01\x0a\x00\x00\x01\x00\x16").target == SocksTarget("10.0.0.1", 22, 5)
    ipv6 = bytes(15) + b"\x01"
    assert v5(b"\x05\x01\x00\x04" + ipv6 + b"\x00\x50").target == SocksTarget("::1", 80, 5)


def test_socks5_request_split_across_reads() -> None:
    data = b"\x05\x01\x00" + b"\x05\x01\x00\x03\x04host\x00\x50"
    hs = SocksHandshake()
    for i in range(len(data)):
        hs.receive_data(data[i : i + 1])
    assert hs.target == SocksTarget("host", 80, 5)


def test_bytes_after_the_request_belong_to_the_tunnel() -> None:
    hs = v5(b"\x05\x01\x00\x03\x04host\x00\x50GET / HTTP/1.0\r\n")
    assert hs.rest == b"GET / HTTP/1.0\r\n"
    hs.receive_data(b"more")
    assert hs.rest.endswith(b"more")


def test_socks5_failure_reply_carries_the_reason() -> None:
    hs = v5(b"\x05\x01\x00\x03\x04host\x00\x50")
    hs.fail("refused")
    assert hs.data_to_send()[:2] == b"\x05\x05"


def test_socks5_client_without_no_auth_method_is_refused() -> None:
    hs = SocksHandshake()
    with pytest.raises(SocksError, match="authentication"):
        hs.receive_data(b"\x05\x01\x02")  # username/password only
    assert hs.data_to_send() == b"\x05\xff"


@pytest.mark.parametrize("command", [2, 3])  # BIND, UDP ASSOCIATE
def test_socks5_commands_other_than_connect_are_refused(command: int) -> None:
    hs = SocksHandshake()
    hs.receive_data(b"\x05\x01\x00")
    hs.data_to_send()
    with pytest.raises(SocksError, match="command"):
        hs.receive_data(bytes([5, command, 0, 1, 127, 0, 0, 1, 0, 80]))
    assert hs.data_to_send()[:2] == b"\x05\x07"


def test_socks5_unknown_address_type_is_refused() -> None:
    hs = SocksHandshake()
    hs.receive_data(b"\x05\x01\x00")
    hs.data_to_send()
    with pytest.raises(SocksError, match="address type"):
        hs.receive_data(b"\x05\x01\x00\x09rest")
    assert hs.data_to_send()[:2] == b"\x05\x08"


@pytest.mark.parametrize("name", [b"", b"bad host", b"evil\nname", b"\xff\xfe", b"tab\there"])
def test_hostile_host_names_are_refused(name: bytes) -> None:
    hs = SocksHandshake()
    hs.receive_data(b"\x05\x01\x00")
    with pytest.raises(SocksError):
        hs.receive_data(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + b"\x00\x50")
    assert hs.target is None


@pytest.mark.parametrize(
    ("name", "code"),
    [
        (b"", 0x08),  # address type not supported: there is no address
        (b"evil\0name", 0x02),  # connection not allowed by ruleset
        (b"\0", 0x02),
        (b"evil\nname", 0x02),
        (b"\xff\xfe", 0x02),
        (b"bad host", 0x02),
    ],
)
def test_socks5_hostile_host_name_gets_a_reply(name: bytes, code: int) -> None:
    hs = SocksHandshake()
    hs.receive_data(b"\x05\x01\x00")
    hs.data_to_send()
    with pytest.raises(SocksError):
        hs.receive_data(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + b"\x00\x50")
    reply = hs.data_to_send()
    assert reply[:2] == bytes([5, code]) and len(reply) == 10
    hs.receive_data(b"more")  # after the refusal: ignored, no second reply
    assert hs.data_to_send() == b""


def test_socks5_request_with_another_version_gets_a_failure_reply() -> None:
    hs = SocksHandshake()
    hs.receive_data(b"\x05\x01\x00")
    hs.data_to_send()
    with pytest.raises(SocksError, match="version"):
        hs.receive_data(b"\x04\x01\x00\x01\x7f\x00\x00\x01\x00\x50")
    assert hs.data_to_send()[:2] == b"\x05\x01"


@pytest.mark.parametrize("name", [b"evil\x01name", b"bad host", b"\xffname"])
def test_socks4a_hostile_host_name_is_rejected(name: bytes) -> None:
    hs = SocksHandshake()
    with pytest.raises(SocksError):
        hs.receive_data(b"\x04\x01\x00\x50\x00\x00\x00\x01\x00" + name + b"\x00")
    assert hs.data_to_send()[:2] == b"\x00\x5b"


@pytest.mark.parametrize(
    ("reason", "description", "code"),
    [
        (ChannelOpenFailure.ADMINISTRATIVELY_PROHIBITED, "port forwarding is not permitted", 2),
        (ChannelOpenFailure.CONNECT_FAILED, "[Errno 111] Connection refused", 5),
        (ChannelOpenFailure.CONNECT_FAILED, "invalid destination: host name contains NUL", 4),
        (ChannelOpenFailure.RESOURCE_SHORTAGE, "too many channels", 4),
    ],
)
def test_channel_open_failures_map_to_socks5_replies(
    reason: int, description: str, code: int
) -> None:
    hs = v5(b"\x05\x01\x00\x03\x04host\x00\x50")
    hs.fail(reason_for_open_failure(reason, description))
    assert hs.data_to_send()[:2] == bytes([5, code])


def test_socks4_connect() -> None:
    hs = SocksHandshake()
    hs.receive_data(b"\x04\x01\x00\x16\x7f\x00\x00\x01alice\x00")
    assert hs.target == SocksTarget("127.0.0.1", 22, 4)
    hs.succeed()
    assert hs.data_to_send()[:2] == b"\x00\x5a"


def test_socks4a_connect_to_a_name() -> None:
    hs = SocksHandshake()
    hs.receive_data(b"\x04\x01\x01\xbb\x00\x00\x00\x01\x00example.org\x00")
    assert hs.target == SocksTarget("example.org", 443, 4)
    hs.fail()
    assert hs.data_to_send()[:2] == b"\x00\x5b"


def test_socks4_bind_is_refused() -> None:
    hs = SocksHandshake()
    with pytest.raises(SocksError):
        hs.receive_data(b"\x04\x02\x00\x16\x7f\x00\x00\x01\x00")
    assert hs.data_to_send()[:2] == b"\x00\x5b"


def test_an_unknown_version_is_refused() -> None:
    with pytest.raises(SocksError, match="not a SOCKS4 or SOCKS5"):
        SocksHandshake().receive_data(b"GET / HTTP/1.1\r\n")


def test_an_endless_request_is_cut_off() -> None:
    hs = SocksHandshake()
    with pytest.raises(SocksError, match="too long"):
        hs.receive_data(b"\x04\x01\x00\x16\x7f\x00\x00\x01" + b"u" * MAX_REQUEST)


def test_answering_twice_or_too_early_is_an_error() -> None:
    with pytest.raises(SocksError):
        SocksHandshake().succeed()
    hs = v5(b"\x05\x01\x00\x01\x0a\x00\x00\x01\x00\x16")
    hs.succeed()
    with pytest.raises(SocksError):
        hs.fail()


@given(st.binary(max_size=600))
def test_any_bytes_give_a_target_or_a_socks_error(data: bytes) -> None:
    hs = SocksHandshake()
    try:
        hs.receive_data(data)
    except SocksError:
        return
    if hs.target is not None:
        assert 0 <= hs.target.port <= 65535 and hs.target.host
