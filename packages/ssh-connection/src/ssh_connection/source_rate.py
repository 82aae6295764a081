"""A per-source bound on the rate of new connections (sans-I/O: the server asks, this
decides; the clock is the caller's).

Each source network (an IPv4 address, an IPv6 /64 by default, as sshd's
PerSourceNetBlockSize) has a token bucket: ``burst`` connections at once, then ``rate``
per second. A connection past it is refused before the version exchange, so it costs no
key exchange: the defence against DHEat (CVE-2002-20001), where a client opens
connections as fast as it can to make the server compute Diffie-Hellman. The table is
bounded: past ``max_sources`` the source seen longest ago is forgotten (it starts again
with a full bucket, which only favours it).
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from collections.abc import Sequence

__all__ = ["SourceRateLimit", "REFUSED_LINE"]

#: What a refused connection reads before it is closed (OpenSSH's words for a source it
#: penalises; ssh-audit's rate test recognises it).
REFUSED_LINE = b"Not allowed at this time\r\n"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class SourceRateLimit:
    """``rate`` new connections per second per source network, after ``burst`` at once.

    ``exempt`` networks (``"10.0.0.0/8"``, ``"::1"``) are never limited; a source that
    is not an IP address (a Unix socket, a stream) is not limited either."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        ipv4_prefix: int = 32,
        ipv6_prefix: int = 64,
        exempt: Sequence[str] = (),
        max_sources: int = 65536,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(
                f"per-source rate {rate}/s with burst {burst}: need rate > 0, burst >= 1"
            )
        if not (0 <= ipv4_prefix <= 32 and 0 <= ipv6_prefix <= 128):
            raise ValueError(f"prefix lengths {ipv4_prefix} and {ipv6_prefix} out of range")
        if max_sources < 1:
            raise ValueError(f"max_sources must be at least 1, not {max_sources}")
        self.rate = float(rate)
        self.burst = burst
        self.ipv4_prefix = ipv4_prefix
        self.ipv6_prefix = ipv6_prefix
        self.exempt: tuple[Network, ...] = tuple(
            ipaddress.ip_network(net, strict=False) for net in exempt
        )
        self.max_sources = max_sources
        # source network -> (tokens, time of the last refill)
        self._buckets: OrderedDict[Network, tuple[float, float]] = OrderedDict()

    def source(self, address: str) -> Network | None:
        """The network ``address`` is counted in, or None when it is not limited."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip in net for net in self.exempt):
            return None
        prefix = self.ipv4_prefix if ip.version == 4 else self.ipv6_prefix
        return ipaddress.ip_network(f"{ip}/{prefix}", strict=False)

    def admit(self, address: str, now: float) -> bool:
        """A new connection from ``address`` at ``now`` (seconds, any monotonic clock):
        True to serve it, False to refuse it."""
        net = self.source(address)
        if net is None:
            return True
        tokens, last = self._buckets.pop(net, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + max(0.0, now - last) * self.rate)
        admitted = tokens >= 1.0
        if admitted:
            tokens -= 1.0
        self._buckets[net] = (tokens, now)
        while len(self._buckets) > self.max_sources:
            self._buckets.popitem(last=False)
        return admitted

    @property
    def sources(self) -> int:
        """How many source networks are remembered."""
        return len(self._buckets)
