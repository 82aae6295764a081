"""sshd's MaxStartups for any server: a bound on connections that have not authenticated
yet (sans-I/O: the servers count, this decides).

``start:rate:full``: below ``start`` unauthenticated connections every new one is served;
from ``start`` on a new one is dropped with probability ``rate`` percent, rising linearly
to 100 % at ``full``, where all are dropped until some authenticate or end (a login grace
time ends those that never do). A half-open or slow-loris flood then costs a bounded number
of connections, and clients keep getting in once the flood's connections time out.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable

__all__ = ["StartupLimit", "SourceStartups", "MaxStartups", "DEFAULT_MAX_STARTUPS"]

#: A limit as servers take it: ``full`` alone (every connection past it is dropped), or
#: ``(start, rate, full)`` as sshd_config writes ``start:rate:full``; None: no limit.
MaxStartups = int | tuple[int, int, int] | None

#: OpenSSH's default, ``MaxStartups 10:30:100``.
DEFAULT_MAX_STARTUPS: MaxStartups = (10, 30, 100)


class StartupLimit:
    """Counts unauthenticated connections and decides which new ones to drop."""

    def __init__(
        self,
        start: int,
        rate: int = 100,
        full: int | None = None,
        *,
        rng: Callable[[], float] = random.random,
    ) -> None:
        full = start if full is None else full
        if not (0 <= start <= full and full > 0 and 0 <= rate <= 100):
            raise ValueError(f"max_startups {start}:{rate}:{full}: need 0 <= start <= full, "
                             "full > 0 and a rate from 0 to 100")  # fmt: skip
        self.start, self.rate, self.full = start, rate, full
        self._rng = rng  # load shedding needs no secrecy, only spread
        #: Connections admitted that have neither authenticated nor ended.
        self.pending = 0

    @classmethod
    def from_setting(
        cls, setting: MaxStartups, *, rng: Callable[[], float] = random.random
    ) -> StartupLimit | None:
        if setting is None:
            return None
        if isinstance(setting, int):
            return cls(setting, 100, setting, rng=rng)
        start, rate, full = setting
        return cls(start, rate, full, rng=rng)

    def admit(self) -> bool:
        """A new connection: True (and counted as pending) to serve it, False to drop it."""
        pending = self.pending
        if pending >= self.full:
            return False
        if pending >= self.start:
            span = max(1, self.full - self.start)
            chance = self.rate + (100 - self.rate) * (pending - self.start) / span
            if self._rng() * 100 < chance:
                return False
        self.pending += 1
        return True

    def release(self) -> None:
        """A pending connection authenticated or ended."""
        if self.pending > 0:
            self.pending -= 1


class SourceStartups:
    """sshd's PerSourceMaxStartups: at most ``limit`` unauthenticated connections from one
    source network (PerSourceNetBlockSize: ``ipv4_prefix`` and ``ipv6_prefix`` bits, sshd's
    default 32:128). A source that is not an IP address (a Unix socket, stdin) is not
    counted. Only sources with connections pending are remembered, so the table is as
    large as the number of pending connections at most."""

    def __init__(self, limit: int, ipv4_prefix: int = 32, ipv6_prefix: int = 128) -> None:
        if limit < 1:
            raise ValueError(f"per-source max startups must be at least 1, not {limit}")
        if not (0 <= ipv4_prefix <= 32 and 0 <= ipv6_prefix <= 128):
            raise ValueError(f"prefix lengths {ipv4_prefix} and {ipv6_prefix} out of range")
        self.limit = limit
        self.ipv4_prefix, self.ipv6_prefix = ipv4_prefix, ipv6_prefix
        self._pending: dict[ipaddress.IPv4Network | ipaddress.IPv6Network, int] = {}

    def source(self, address: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        prefix = self.ipv4_prefix if ip.version == 4 else self.ipv6_prefix
        return ipaddress.ip_network(f"{ip}/{prefix}", strict=False)

    def admit(self, address: str) -> bool:
        """A new connection from ``address``: True (and counted) to serve it."""
        net = self.source(address)
        if net is None:
            return True
        count = self._pending.get(net, 0)
        if count >= self.limit:
            return False
        self._pending[net] = count + 1
        return True

    def release(self, address: str) -> None:
        """A connection :meth:`admit` counted authenticated or ended."""
        net = self.source(address)
        if net is None:
            return
        count = self._pending.get(net, 0) - 1
        if count > 0:
            self._pending[net] = count
        else:
            self._pending.pop(net, None)

    def pending(self, address: str) -> int:
        net = self.source(address)
        return 0 if net is None else self._pending.get(net, 0)
