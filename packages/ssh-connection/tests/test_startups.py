"""StartupLimit: sshd's MaxStartups start:rate:full over unauthenticated connections."""

from __future__ import annotations

import pytest

from ssh_connection.startups import SourceStartups, StartupLimit


def test_below_start_every_connection_is_admitted() -> None:
    limit = StartupLimit(3, 30, 10, rng=lambda: 0.0)  # an rng that would always drop
    assert [limit.admit() for _ in range(3)] == [True, True, True]
    assert limit.pending == 3


def test_at_full_every_connection_is_dropped_until_one_is_released() -> None:
    limit = StartupLimit(2, 30, 4, rng=lambda: 0.999)  # an rng that would never drop
    assert all(limit.admit() for _ in range(4))
    assert not limit.admit() and limit.pending == 4
    limit.release()
    assert limit.admit()


def test_between_start_and_full_the_drop_chance_rises_from_rate_to_100() -> None:
    draws = iter([0.29, 0.31, 0.64, 0.66])
    limit = StartupLimit(1, 30, 3, rng=lambda: next(draws))
    assert limit.admit()  # pending 0: below start, no draw
    assert not limit.admit()  # pending 1 = start: 30 %, drew 29
    assert limit.admit()  # 30 %, drew 31
    assert not limit.admit()  # pending 2: 30 + 70 / 2 = 65 %, drew 64
    assert limit.admit()  # 65 %, drew 66
    assert not limit.admit()  # pending 3 = full: no draw left, none needed


def test_a_single_number_is_a_hard_bound() -> None:
    limit = StartupLimit.from_setting(2)
    assert limit is not None
    assert [limit.admit() for _ in range(3)] == [True, True, False]


def test_none_means_no_limit() -> None:
    assert StartupLimit.from_setting(None) is None


def test_release_never_goes_below_zero() -> None:
    limit = StartupLimit(1)
    limit.release()
    assert limit.pending == 0 and limit.admit()


@pytest.mark.parametrize("spec", [(0, 30, 0), (5, 30, 4), (1, 101, 2), (1, -1, 2)])
def test_impossible_limits_are_refused(spec: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError, match="max_startups"):
        StartupLimit.from_setting(spec)


# -- PerSourceMaxStartups ------------------------------------------------------------------


def test_per_source_limit_counts_each_network_apart() -> None:
    limit = SourceStartups(2)
    assert [limit.admit("192.0.2.1") for _ in range(3)] == [True, True, False]
    assert limit.admit("192.0.2.2")  # another /32
    limit.release("192.0.2.1")
    assert limit.admit("192.0.2.1") and not limit.admit("192.0.2.1")


def test_per_source_net_block_size_groups_addresses() -> None:
    limit = SourceStartups(1, ipv4_prefix=24, ipv6_prefix=64)
    assert limit.admit("192.0.2.1") and not limit.admit("192.0.2.200")
    assert limit.admit("2001:db8::1") and not limit.admit("2001:db8::ffff")
    assert not limit.admit("::ffff:192.0.2.7")  # IPv4-mapped counts as its IPv4 address
    assert limit.admit("2001:db8:0:1::1")  # another /64


def test_per_source_limit_forgets_sources_with_nothing_pending() -> None:
    limit = SourceStartups(1)
    for i in range(1000):
        assert limit.admit(f"10.0.{i // 256}.{i % 256}")
        limit.release(f"10.0.{i // 256}.{i % 256}")
    assert limit._pending == {}
    limit.release("10.0.0.1")  # a release too many changes nothing
    assert limit.pending("10.0.0.1") == 0


def test_per_source_limit_ignores_what_is_not_an_address() -> None:
    limit = SourceStartups(1)
    assert all(limit.admit("") for _ in range(5))
    assert all(limit.admit("/run/sock") for _ in range(5))


@pytest.mark.parametrize("bad", [{"limit": 0}, {"limit": 1, "ipv4_prefix": 33},
                                 {"limit": 1, "ipv6_prefix": -1}])  # fmt: skip
def test_per_source_limit_refuses_bad_settings(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=r"at least 1|out of range"):
        SourceStartups(**bad)
