"""Agent forwarding glue for ``auth-agent@openssh.com`` channels, sans-I/O.

Two pieces, both "bytes in, bytes out" so ssh-connection can drive them from its
channel events and any socket driver:

- :class:`AgentChannelRelay`, on the SSH *client* (the machine with the agent):
  the server opened an agent channel; relay it to the local agent. Before the
  first request it binds the agent connection to the SSH session with
  ``session-bind@openssh.com`` (``is_forwarding`` set), as OpenSSH's ssh does, so
  the agent can enforce destination restrictions (``ssh-add -h``). It passes only
  listing, signing, the query and session-bind extensions (an allow-list) and
  answers everything else FAILURE itself: add, remove, lock, unlock, smartcard and the
  legacy protocol-1 requests (SECURITY.md), whatever the local agent allows.
  ``filtered=False`` relays every request, as OpenSSH's ssh does (the agent alone
  decides then, knowing from session-bind that the connection is forwarded).
- :class:`ForwardedAgentBridge`, on the SSH *server*: a local program connected
  to the forwarded ``SSH_AUTH_SOCK``; relay it through an agent channel back to
  the client. (To use a forwarded agent from inside the server process instead,
  run :class:`ssh_agent.client.AgentClientCore` over the channel directly.)

Both pass whole messages only and close on a message over 256 KiB.
"""

from __future__ import annotations

from collections import deque

from .errors import AgentProtocolError
from .protocol import (
    MAX_MESSAGE,
    SESSION_BIND,
    AgentMessage,
    Extension,
    Failure,
    FrameBuffer,
    SessionBind,
    frame,
)

__all__ = [
    "AgentChannelRelay",
    "ForwardedAgentBridge",
    "AUTH_AGENT_CHANNEL",
    "REFUSED_FORWARDED",
    "FORWARDED_REQUESTS",
    "FORWARDED_EXTENSIONS",
]

#: The channel type (and the matching ``auth-agent-req@openssh.com`` session request).
AUTH_AGENT_CHANNEL = "auth-agent@openssh.com"

#: Requests a forwarded connection may not make; the relay answers them FAILURE itself.
REFUSED_FORWARDED = frozenset(
    {
        AgentMessage.ADD_IDENTITY,
        AgentMessage.ADD_ID_CONSTRAINED,
        AgentMessage.REMOVE_IDENTITY,
        AgentMessage.REMOVE_ALL_IDENTITIES,
        AgentMessage.ADD_SMARTCARD_KEY,
        AgentMessage.ADD_SMARTCARD_KEY_CONSTRAINED,
        AgentMessage.REMOVE_SMARTCARD_KEY,
        AgentMessage.LOCK,
        AgentMessage.UNLOCK,
    }
)

#: What a forwarded connection may ask, and nothing else (an allow-list: the legacy
#: protocol-1 numbers, such as 9, "remove all RSA identities", which OpenSSH's agent still
#: honours, and any future request are refused too).
FORWARDED_REQUESTS = frozenset({AgentMessage.REQUEST_IDENTITIES, AgentMessage.SIGN_REQUEST})
#: Extensions a forwarded connection may use: the query, and session-bind for the next hop.
FORWARDED_EXTENSIONS = frozenset({"query", SESSION_BIND})

_FAILURE = frame(Failure().encode())


def _allowed_forwarded(msg: bytes) -> bool:
    if not msg:
        return False
    if msg[0] in FORWARDED_REQUESTS:
        return True
    if msg[0] != AgentMessage.EXTENSION or len(msg) < 5:
        return False
    size = int.from_bytes(msg[1:5], "big")
    if size > 64 or len(msg) < 5 + size:
        return False
    return msg[5 : 5 + size].decode("ascii", "replace") in FORWARDED_EXTENSIONS


# Where each expected reply comes from, in request order.
_FROM_AGENT = None


class _Relay:
    """Passes whole, bounded messages between a requester side and an agent side."""

    def __init__(self, max_message: int) -> None:
        self._requests = FrameBuffer(max_message)
        self._replies = FrameBuffer(max_message)
        self._to_agent = bytearray()
        self._to_requester = bytearray()
        self.closed = False
        self.close_reason = ""

    def _close(self, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self.close_reason = reason

    def _take(self, buf: bytearray) -> bytes:
        out = bytes(buf)
        buf.clear()
        return out

    def _feed(self, buf: FrameBuffer, data: bytes, side: str) -> list[bytes]:
        if self.closed:
            return []
        if not data:
            self._close(f"{side} closed")
            return []
        buf.feed(data)
        messages: list[bytes] = []
        while True:
            try:
                msg = buf.next_message()
            except AgentProtocolError as exc:
                self._close(f"{side}: {exc}")
                return messages
            if msg is None:
                return messages
            messages.append(msg)


class ForwardedAgentBridge(_Relay):
    """Server side: a local agent client <-> an ``auth-agent@openssh.com`` channel.

    Feed the local client's bytes to :meth:`client_data` and send
    :meth:`data_for_channel` on the channel; feed the channel's bytes to
    :meth:`channel_data` and write :meth:`data_for_client` to the local client.
    ``b""`` from either side closes the bridge (check :attr:`closed`).
    """

    def __init__(self, *, max_message: int = MAX_MESSAGE) -> None:
        super().__init__(max_message)

    def client_data(self, data: bytes) -> None:
        for msg in self._feed(self._requests, data, "local client"):
            self._to_agent += frame(msg)

    def channel_data(self, data: bytes) -> None:
        for msg in self._feed(self._replies, data, "channel"):
            self._to_requester += frame(msg)

    def data_for_channel(self) -> bytes:
        return self._take(self._to_agent)

    def data_for_client(self) -> bytes:
        return self._take(self._to_requester)


class AgentChannelRelay(_Relay):
    """Client side: an agent channel opened by the server <-> the local agent.

    ``hostkey``, ``session_id`` and ``signature`` are the server's host key blob,
    the exchange hash of the first key exchange and the host key's signature of
    it; with them the agent connection is bound before anything else is relayed.
    Feed channel bytes to :meth:`channel_data`, agent bytes to :meth:`agent_data`;
    send :meth:`data_for_agent` to the agent and :meth:`data_for_channel` on the
    channel. With ``filtered`` (the default) only :data:`FORWARDED_REQUESTS` and
    :data:`FORWARDED_EXTENSIONS` reach the agent; ``filtered=False`` passes everything.
    """

    def __init__(
        self,
        hostkey: bytes | None = None,
        session_id: bytes | None = None,
        signature: bytes | None = None,
        *,
        max_message: int = MAX_MESSAGE,
        filtered: bool = True,
    ) -> None:
        super().__init__(max_message)
        self.filtered = filtered
        # One entry per reply expected from the agent or answered here, in order:
        # None = relay the agent's reply, "bind" = swallow it, bytes = our own answer.
        self._order: deque[bytes | str | None] = deque()
        self.bound: bool | None = None  # None until the agent answers the bind
        if hostkey is not None and session_id is not None and signature is not None:
            bind = SessionBind(hostkey, session_id, signature, True).encode()
            self._to_agent += frame(Extension(SESSION_BIND, bind).encode())
            self._order.append("bind")

    def channel_data(self, data: bytes) -> None:
        for msg in self._feed(self._requests, data, "channel"):
            if self.filtered and not _allowed_forwarded(msg):
                self._order.append(_FAILURE)
            else:
                self._to_agent += frame(msg)
                self._order.append(_FROM_AGENT)
        self._release()

    def agent_data(self, data: bytes) -> None:
        for msg in self._feed(self._replies, data, "agent"):
            self._release()
            if not self._order:
                self._close("agent sent a reply nobody asked for")
                return
            head = self._order.popleft()
            if head == "bind":
                self.bound = msg == bytes([AgentMessage.SUCCESS])
            else:
                self._to_requester += frame(msg)
        self._release()

    def _release(self) -> None:
        # Our own answers go out once every earlier request has been answered.
        while self._order and isinstance(self._order[0], bytes):
            answer = self._order.popleft()
            assert isinstance(answer, bytes)
            self._to_requester += answer

    def data_for_agent(self) -> bytes:
        return self._take(self._to_agent)

    def data_for_channel(self) -> bytes:
        return self._take(self._to_requester)
