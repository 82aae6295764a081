"""Inactivity deadlines: sshd's ChannelTimeout (a channel with no data either way for its
type's interval is closed) and UnusedConnectionTimeout (a connection with no channel for
that long is ended). Only bookkeeping: the connection core passes the times it is given
and acts on what :meth:`ChannelTimeouts.expired` returns. No clock here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from . import forwarding as fw

__all__ = ["ChannelTimeouts", "GLOBAL", "timeout_type", "parse_channel_timeouts"]

#: The pattern that times all channels together: data on any of them keeps all alive.
GLOBAL = "global"
# sshd_config(5)'s names for the channels whose type on the wire says something else.
_TYPE_NAMES = {fw.X11: "x11-connection", fw.AUTH_AGENT: "agent-connection"}
# Stands for "every channel at once" in the deadline tables (channel ids are >= 0).
_ALL = -1


def timeout_type(kind: str, request: str | None = None, subsystem: str | None = None) -> str:
    """The ChannelTimeout type name of a channel: ``session:command``, ``session:shell``,
    ``session:subsystem:sftp`` once a session started, else its kind as sshd names it."""
    if kind == fw.SESSION and request is not None:
        if request == "exec":
            return "session:command"
        if request == "shell":
            return "session:shell"
        return f"session:subsystem:{subsystem or ''}"
    return _TYPE_NAMES.get(kind, kind)


def _glob(pattern: str) -> re.Pattern[str]:
    # sshd's match_pattern: only * and ? are special.
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


def parse_channel_timeouts(items: Iterable[str]) -> list[tuple[str, float]]:
    """``type=seconds`` items (already in seconds, as sshd_config's parser leaves them)."""
    out = []
    for item in items:
        name, eq, value = item.partition("=")
        if not eq or not name:
            raise ValueError(f"channel timeout {item!r} is not type=interval")
        out.append((name, float(value)))
    return out


class ChannelTimeouts:
    """Deadlines for channels with a timeout, and for a connection without channels.

    ``patterns`` are (type pattern, seconds) pairs, the first match deciding (0 means
    none), as sshd's ChannelTimeout; ``global`` instead times every channel together.
    Data on a channel counts as activity: received data stamps it with the time the core
    last heard, data sent marks it, and a mark found at a deadline moves the deadline on
    (so a timeout fires after at least its interval of silence, at most twice that).
    """

    def __init__(
        self,
        patterns: Sequence[tuple[str, float]] = (),
        unused_connection_timeout: float | None = None,
        now: float | None = None,
    ) -> None:
        for name, seconds in patterns:
            if seconds < 0:
                raise ValueError(f"channel timeout for {name!r} must not be negative")
        if unused_connection_timeout is not None and unused_connection_timeout <= 0:
            raise ValueError("unused_connection_timeout must be positive (or None for none)")
        self._patterns = [(_glob(p), s) for p, s in patterns if p != GLOBAL]
        every = [s for p, s in patterns if p == GLOBAL]
        self._interval: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._marked: set[int] = set()
        if every and every[0] > 0:
            self._interval[_ALL] = every[0]
        self._unused = unused_connection_timeout
        self._channels: set[int] = set()
        self._unused_since: float | None = now if unused_connection_timeout else None
        self._global_armed = False

    @property
    def active(self) -> bool:
        """Whether anything is timed at all (nothing to do otherwise)."""
        return bool(self._patterns or self._interval or self._unused)

    def lookup(self, type_name: str) -> float:
        """Seconds for a channel type (0: never times out)."""
        for pattern, seconds in self._patterns:
            if pattern.fullmatch(type_name):
                return seconds
        return 0.0

    # -- what the core tells ---------------------------------------------------------------

    def opened(self, channel_id: int, type_name: str, now: float | None) -> None:
        """A channel exists (opened by either side); its type decides its timeout."""
        self._channels.add(channel_id)
        self._unused_since = None
        self.retype(channel_id, type_name, now)
        if _ALL in self._interval and not self._global_armed:
            self._global_armed = True
            self._stamp(_ALL, now)

    def retype(self, channel_id: int, type_name: str, now: float | None) -> None:
        """The channel's type became known (a session's exec, shell or subsystem)."""
        seconds = self.lookup(type_name)
        if seconds > 0:
            self._interval[channel_id] = seconds
            self._stamp(channel_id, now)
        else:
            self._forget(channel_id)

    def closed(self, channel_id: int, now: float | None) -> None:
        self._channels.discard(channel_id)
        self._forget(channel_id)
        if not self._channels:
            self._global_armed = False
            self._last.pop(_ALL, None)
            self._marked.discard(_ALL)
            if self._unused and now is not None:
                self._unused_since = now

    def received(self, channel_id: int, now: float | None) -> None:
        for key in (channel_id, _ALL):
            if key in self._interval:
                self._stamp(key, now)

    def sent(self, channel_id: int) -> None:
        for key in (channel_id, _ALL):
            if key in self._interval:
                self._marked.add(key)

    # -- deadlines ---------------------------------------------------------------------------

    def deadline(self) -> float | None:
        times = [last + self._interval[key] for key, last in self._last.items()]
        if self._unused_since is not None and self._unused is not None:
            times.append(self._unused_since + self._unused)
        return min(times) if times else None

    def expired(self, now: float) -> tuple[list[int], bool]:
        """Channels whose silence outlasted their timeout (every channel when ``global``
        expired), and whether the connection went unused too long."""
        out: set[int] = set()
        for key, last in list(self._last.items()):
            if last + self._interval[key] > now:
                continue
            if key in self._marked:  # data went out since the stamp: still alive
                self._marked.discard(key)
                self._last[key] = now
                continue
            del self._last[key]  # fires once; a closed channel is forgotten anyway
            out.update(self._channels if key == _ALL else (key,))
        unused = (
            self._unused_since is not None
            and self._unused is not None
            and self._unused_since + self._unused <= now
        )
        if unused:
            self._unused_since = None
        return sorted(out), unused

    def _stamp(self, key: int, now: float | None) -> None:
        if now is None:  # no time known yet: the first deadline check stamps it
            self._marked.add(key)
            self._last.setdefault(key, 0.0)
        else:
            self._last[key] = now

    def _forget(self, channel_id: int) -> None:
        self._interval.pop(channel_id, None)
        self._last.pop(channel_id, None)
        self._marked.discard(channel_id)
