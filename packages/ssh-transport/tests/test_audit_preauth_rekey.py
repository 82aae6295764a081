"""Audit: before authentication a peer may not make us run key exchanges without end.

Each exchange costs the server a key agreement and a host key signature. The back-to-back
limit resets after a little traffic, so a client padding every rekey with IGNOREs could keep
a server busy for the whole login grace time on one connection (sshd refuses rekeying
before authentication altogether). Before authentication a peer gets a few; after it, the
traffic-based limit alone applies.
"""

from __future__ import annotations

from transport_pair import connected

from ssh_transport import KexComplete, Role


def rekeys_with_traffic_between(authenticated: bool, rounds: int = 20) -> tuple[bool, int]:
    pair = connected(authenticated=authenticated)
    for _ in range(rounds):
        pair.client.send_ignore(b"y" * 70_000)  # resets the back-to-back count
        pair.pump()
        pair.client.start_rekey()
        pair.pump()
        if pair.server.closed:
            break
    return pair.server.closed, len(pair.of_type(Role.SERVER, KexComplete))


def test_rekeys_before_authentication_are_limited() -> None:
    closed, done = rekeys_with_traffic_between(authenticated=False)
    assert closed
    assert done < 20


def test_rekeys_after_authentication_with_traffic_are_fine() -> None:
    closed, done = rekeys_with_traffic_between(authenticated=True)
    assert not closed
    assert done == 20
