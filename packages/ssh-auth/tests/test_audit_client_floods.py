"""Audit: a hostile server must not make the client keep unbounded state.

USERAUTH_BANNER may come any number of times before success (RFC 4252 5.4), so a server
can send them for as long as it likes: the runner passes every one to ``on_banner`` but
keeps only a bounded amount of text in ``banners``.
"""

from __future__ import annotations

from auth_pair import AuthPair

from ssh_auth import BannerReceived, StandardPolicy
from ssh_auth import messages as m
from ssh_auth.runner import MAX_BANNER_TEXT, MethodRunner


def test_banner_flood_is_not_kept_without_limit() -> None:
    pair = AuthPair(StandardPolicy(password=lambda u, p: False))
    seen: list[str] = []
    runner = MethodRunner(pair.c, on_banner=seen.append)
    runner.start()
    banner = "x" * 10_000
    for _ in range(2_000):  # 20 MB of banners
        pair.server_t.send_message(m.UserauthBanner(banner, "").encode())
        pair.pump()
        for event in pair.of(pair.client_events, BannerReceived):
            assert runner.step(event) is None
        pair.client_events.clear()
    assert len(seen) == 2_000  # the application saw them all
    assert sum(len(text) for text in runner.banners) <= MAX_BANNER_TEXT
    assert runner.banners[0] == banner  # the first ones are kept
