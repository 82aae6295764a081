"""The per-source connection rate limit (the DHEat defence), with a clock of our own."""

from __future__ import annotations

import pytest

from ssh_connection.source_rate import SourceRateLimit


def test_burst_then_rate() -> None:
    limit = SourceRateLimit(rate=2.0, burst=3)
    assert [limit.admit("192.0.2.1", 0.0) for _ in range(4)] == [True, True, True, False]
    assert not limit.admit("192.0.2.1", 0.4)  # 0.8 of a token
    assert limit.admit("192.0.2.1", 0.5)  # 1.0
    assert not limit.admit("192.0.2.1", 0.5)
    # A long pause refills to the burst, never past it.
    assert [limit.admit("192.0.2.1", 100.0) for _ in range(4)] == [True, True, True, False]


def test_a_flood_is_held_to_the_rate() -> None:
    limit = SourceRateLimit(rate=5.0, burst=10)
    # 1000 attempts a second for 10 s: 10 + 5 * 10 admitted, whatever the attempt rate.
    admitted = sum(limit.admit("198.51.100.7", i / 1000) for i in range(10_000))
    assert 10 + 5 * 10 - 1 <= admitted <= 10 + 5 * 10  # the last token may fall on 10.0 s


def test_sources_are_counted_apart_and_ipv6_by_64() -> None:
    limit = SourceRateLimit(rate=1.0, burst=1)
    assert limit.admit("192.0.2.1", 0.0) and not limit.admit("192.0.2.1", 0.0)
    assert limit.admit("192.0.2.2", 0.0)
    assert limit.admit("2001:db8::1", 0.0)
    assert not limit.admit("2001:db8::ffff:1", 0.0)  # the same /64
    assert limit.admit("2001:db8:0:1::1", 0.0)
    assert not limit.admit("::ffff:192.0.2.2", 0.0)  # IPv4-mapped is the IPv4 source
    assert limit.admit("fe80::1%eth0", 0.0)  # a scope id parses: the link's /64
    assert not limit.admit("fe80::2%eth0", 0.0)


def test_exempt_and_non_ip_sources_pass() -> None:
    limit = SourceRateLimit(rate=1.0, burst=1, exempt=["10.0.0.0/8", "::1"])
    assert all(limit.admit("10.1.2.3", 0.0) for _ in range(10))
    assert all(limit.admit("::1", 0.0) for _ in range(10))
    assert all(limit.admit("", 0.0) for _ in range(10))  # a Unix socket or a stream
    assert limit.sources == 0


def test_the_table_is_bounded() -> None:
    limit = SourceRateLimit(rate=1.0, burst=1, max_sources=100)
    for i in range(5000):
        limit.admit(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", 0.0)
    assert limit.sources == 100


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rate": 0.0, "burst": 1}, "rate"),
        ({"rate": 1.0, "burst": 0}, "burst"),
        ({"rate": 1.0, "burst": 1, "ipv6_prefix": 129}, "prefix"),
        ({"rate": 1.0, "burst": 1, "max_sources": 0}, "max_sources"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SourceRateLimit(**kwargs)  # type: ignore[arg-type]
