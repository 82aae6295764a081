"""Global requests (RFC 4254 4) both ways, for the connection core.

Ours: names of those that want a reply, oldest first, since REQUEST_SUCCESS/FAILURE carry
no id. The peer's: known names (by role, plus extras) become :class:`GlobalRequestReceived`
pauses whose replies leave in arrival order; keepalive@openssh.com, unknown names and
requests beyond the limit are refused by the core itself, in their turn.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from ssh_transport import Event, Role
from ssh_wire import LocalProtocolError, MessageNumber, Struct

from . import events as ev
from . import forwarding as fw
from . import messages as m
from .channel import ProtocolViolation
from .replies import ReplyQueue

__all__ = ["GlobalRequests", "SERVER_GLOBAL_REQUESTS", "CLIENT_GLOBAL_REQUESTS", "answer_once"]

#: Global requests passed to the application by the role receiving them.
SERVER_GLOBAL_REQUESTS = frozenset(
    {
        fw.TCPIP_FORWARD,
        fw.CANCEL_TCPIP_FORWARD,
        fw.STREAMLOCAL_FORWARD,
        fw.CANCEL_STREAMLOCAL_FORWARD,
        fw.HOSTKEYS_PROVE,
    }
)
CLIENT_GLOBAL_REQUESTS = frozenset({fw.HOSTKEYS})

_SUCCESS = m.RequestSuccess(b"").encode()
_FAILURE = m.RequestFailure().encode()


def answer_once() -> Callable[[object], None]:
    """The answer of a request that wants no reply: only a second answer is an error."""
    answered: list[bool] = []

    def answer(_: object) -> None:
        if answered:
            raise LocalProtocolError("this request was already answered")
        answered.append(True)

    return answer


class GlobalRequests:
    """The global request state of one connection."""

    def __init__(
        self,
        role: Role,
        send: Callable[[bytes], None],
        emit: Callable[[Event], None],
        *,
        max_pending: int,
        max_outstanding: int,
        extra_names: Iterable[str] = (),
    ) -> None:
        self.role = role
        self._send = send
        self._emit = emit
        self._replies = ReplyQueue(max_pending, send)
        # (name, internal): replies to the core's own requests (keepalives) stay inside.
        self._outstanding: deque[tuple[str, bool]] = deque()
        self.max_outstanding = max_outstanding
        known = SERVER_GLOBAL_REQUESTS if role is Role.SERVER else CLIENT_GLOBAL_REQUESTS
        self._known = known | frozenset(extra_names)
        self._closed = False
        #: Server: the client sent no-more-sessions@openssh.com.
        self.no_more_sessions = False

    @property
    def waiting(self) -> int:
        """The peer's requests whose replies wait for the application."""
        return self._replies.waiting

    def request(self, name: str, data: bytes, want_reply: bool, *, internal: bool = False) -> None:
        if want_reply and len(self._outstanding) >= self.max_outstanding:
            raise LocalProtocolError("too many global requests awaiting replies")
        self._send(m.GlobalRequest(name, want_reply, data).encode())
        if want_reply:
            self._outstanding.append((name, internal))

    def on_request(self, msg: m.GlobalRequest) -> None:
        name, want_reply, queue = msg.name, msg.want_reply, self._replies
        if name == fw.KEEPALIVE:
            if want_reply:
                queue.automatic(_FAILURE)  # what OpenSSH answers; any reply will do
            return
        if name == fw.NO_MORE_SESSIONS and self.role is Role.SERVER:
            self.no_more_sessions = True
            if want_reply:
                queue.automatic(_SUCCESS)
            return
        if name not in self._known:
            if want_reply:
                queue.automatic(_FAILURE)
            return
        decoded = fw.decode_global(name, msg.data)
        payload: Struct | bytes = msg.data if decoded is None else decoded
        if not want_reply:
            self._emit(ev.GlobalRequestReceived(
                name, False, msg.data, payload, answer_with=answer_once()
            ))  # fmt: skip
            return
        if queue.full:
            queue.automatic(_FAILURE)  # refused, not buffered: the connection survives
            return
        slot = queue.reserve()

        def answer(reply: bytes | None) -> None:
            if reply is not None and not isinstance(reply, (bytes, bytearray, memoryview)):
                raise TypeError(f"answer with reply bytes or None, not {reply!r}")
            if slot.answered:
                raise LocalProtocolError("this global request was already answered")
            if self._closed:
                slot.answered = True
                return
            queue.fill(slot, _FAILURE if reply is None else m.RequestSuccess(bytes(reply)).encode())

        self._emit(ev.GlobalRequestReceived(name, True, msg.data, payload, answer_with=answer))

    def on_reply(self, number: int, payload: bytes) -> None:
        if not self._outstanding:
            raise ProtocolViolation("a global request reply with no request outstanding")
        name, internal = self._outstanding.popleft()
        if internal:
            return  # the core's own keepalive: any reply will do
        if number == MessageNumber.REQUEST_SUCCESS:
            self._emit(ev.GlobalRequestSucceeded(name, m.RequestSuccess.decode(payload).data))
        else:
            m.RequestFailure.decode(payload)
            self._emit(ev.GlobalRequestFailed(name))

    def close(self) -> None:
        """The connection ended: late answers send nothing."""
        self._closed = True
        self._replies.clear()
