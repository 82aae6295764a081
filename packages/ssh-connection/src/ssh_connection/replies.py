"""Replies that must leave in the order their requests arrived (RFC 4254 4 and 5.4).

A peer matches REQUEST_SUCCESS/FAILURE (and CHANNEL_SUCCESS/FAILURE per channel) to its
requests by order alone, so an answer given early waits behind the unanswered requests
before it. The queue holds at most ``limit`` replies that wait for, or came from, the
application; replies the core makes by itself (refusals beyond the limit, unknown
requests, keepalives) are kept as runs with a count, so a flood behind one unanswered
request costs a counter, not memory.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from ssh_wire import LocalProtocolError

__all__ = ["ReplySlot", "ReplyQueue"]


class ReplySlot:
    """One reply the application owes; filled at most once."""

    __slots__ = ("answered", "reply")

    def __init__(self) -> None:
        self.answered = False
        self.reply: bytes | None = None


class _Run:
    """``count`` copies of one automatic reply."""

    __slots__ = ("count", "reply")

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.count = 1


class ReplyQueue:
    """Ordered replies for one request stream (global, or one channel)."""

    __slots__ = ("_entries", "_held", "_send", "limit")

    def __init__(self, limit: int, send: Callable[[bytes], None]) -> None:
        self.limit = limit
        self._send = send
        self._entries: deque[ReplySlot | _Run] = deque()
        self._held = 0  # ReplySlots in the queue, answered or not

    @property
    def full(self) -> bool:
        return self._held >= self.limit

    @property
    def waiting(self) -> int:
        """Replies the application has not given yet (or that wait behind one)."""
        return self._held

    def reserve(self) -> ReplySlot:
        """A place for the application's reply; check :attr:`full` first."""
        slot = ReplySlot()
        self._entries.append(slot)
        self._held += 1
        return slot

    def automatic(self, reply: bytes) -> None:
        """A reply the core gives by itself, in its turn."""
        entries = self._entries
        if not entries:
            self._send(reply)
            return
        tail = entries[-1]
        if isinstance(tail, _Run) and tail.reply == reply:
            tail.count += 1
        else:
            entries.append(_Run(reply))

    def fill(self, slot: ReplySlot, reply: bytes) -> None:
        if slot.answered:
            raise LocalProtocolError("this request was already answered")
        slot.answered = True
        slot.reply = reply
        self._flush()

    def _flush(self) -> None:
        entries = self._entries
        while entries:
            head = entries[0]
            if isinstance(head, _Run):
                entries.popleft()
                for _ in range(head.count):
                    self._send(head.reply)
                continue
            if not head.answered:
                return
            entries.popleft()
            self._held -= 1
            assert head.reply is not None
            self._send(head.reply)

    def clear(self) -> None:
        """Drop everything (the channel or connection is gone)."""
        self._entries.clear()
        self._held = 0
