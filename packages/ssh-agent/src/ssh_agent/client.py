"""The client side of the agent protocol, sans-I/O.

Each request method queues a framed request and returns a :class:`PendingReply`;
feed the agent's bytes to :meth:`AgentClientCore.receive_data` and the pending
replies complete in order (the protocol answers requests one by one, in order).
Drivers (:mod:`ssh_agent.sync`, :mod:`ssh_agent.aio`) only move bytes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

from ssh_keys import (
    PrivateKey,
    PublicKey,
    UnsupportedAlgorithm,
    algorithm_spec,
    key_type_spec,
    write_private_fields,
)
from ssh_wire import DecodeError, Reader, Writer

from .errors import AgentConnectionClosed, AgentError, AgentFailure, AgentProtocolError
from .protocol import (
    MAX_MESSAGE,
    QUERY,
    RSA_FLAGS,
    SESSION_BIND,
    AddIdConstrained,
    AddIdentity,
    AgentMessage,
    Constraints,
    DestinationConstraint,
    Extension,
    ExtensionResponse,
    FrameBuffer,
    Hop,
    Identity,
    KeySpec,
    Lock,
    RemoveAllIdentities,
    RemoveIdentity,
    RequestIdentities,
    SessionBind,
    SignRequest,
    SignResponse,
    Unlock,
    decode_identities,
    decode_string_sequence,
    encode_constraints,
    frame,
)

__all__ = [
    "AgentClientCore",
    "PendingReply",
    "signing_algorithms",
    "AgentKeyBase",
    "sign_flags",
    "check_signature_algorithm",
    "destination",
]

T = TypeVar("T")


class PendingReply(Generic[T]):
    """The answer to one request, once it has arrived."""

    __slots__ = ("_error", "_expects", "_parse", "_value", "done")

    def __init__(self, expects: str, parse: Callable[[bytes], T]) -> None:
        self._expects = expects
        self._parse = parse
        self._value: T | None = None
        self._error: AgentError | None = None
        self.done = False

    def _resolve(self, payload: bytes) -> None:
        self.done = True
        kind = payload[0] if payload else -1
        if kind in (AgentMessage.FAILURE, AgentMessage.EXTENSION_FAILURE):
            self._error = AgentFailure(f"the agent refused the {self._expects} request")
            return
        try:
            self._value = self._parse(payload)
        except (DecodeError, AgentProtocolError) as exc:
            self._error = AgentProtocolError(f"bad reply to {self._expects}: {exc}")

    def _fail(self, error: AgentError) -> None:
        self.done = True
        self._error = error

    def result(self) -> T:
        """The parsed reply; raises AgentFailure, AgentProtocolError or AgentConnectionClosed."""
        if not self.done:
            raise AgentError("the reply has not arrived yet")
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


def _expect_success(payload: bytes) -> None:
    if payload != bytes([AgentMessage.SUCCESS]):
        raise AgentProtocolError(f"expected SUCCESS, got message {payload[:1].hex()}")


def _parse_signature(payload: bytes) -> bytes:
    return SignResponse.decode(payload).signature


def _parse_extension(payload: bytes) -> bytes | None:
    if payload == bytes([AgentMessage.SUCCESS]):
        return None
    return ExtensionResponse.decode(payload).contents


def _parse_query(payload: bytes) -> tuple[str, ...]:
    # draft-ietf-sshm-ssh-agent answers EXTENSION_RESPONSE "query" names...; older
    # drafts answered SUCCESS followed by the names.
    if payload[:1] == bytes([AgentMessage.SUCCESS]):
        data = payload[1:]
    else:
        resp = ExtensionResponse.decode(payload)
        if resp.name != QUERY:
            raise AgentProtocolError(f"query answered as {resp.name!r}")
        data = resp.contents
    try:
        return tuple(s.decode("ascii") for s in decode_string_sequence(data))
    except UnicodeDecodeError:
        raise AgentProtocolError("non-ASCII extension name") from None


class AgentClientCore:
    """Builds agent requests and matches the replies to them."""

    def __init__(self, *, max_message: int = MAX_MESSAGE) -> None:
        self._frames = FrameBuffer(max_message)
        self._max_message = max_message
        self._out = bytearray()
        self._pending: deque[PendingReply[object]] = deque()
        self._error: AgentError | None = None

    # -- byte stream ------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        out = bytes(self._out)
        self._out.clear()
        return out

    @property
    def waiting(self) -> int:
        """Requests sent and not answered yet."""
        return len(self._pending)

    @property
    def broken(self) -> bool:
        return self._error is not None

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the agent; ``b""`` means the agent closed the connection."""
        if self._error is not None:
            return
        if not data:
            self._break(AgentConnectionClosed("the agent closed the connection"))
            return
        self._frames.feed(data)
        while True:
            try:
                payload = self._frames.next_message()
            except AgentProtocolError as exc:
                self._break(exc)
                return
            if payload is None:
                return
            if not self._pending:
                self._break(AgentProtocolError("reply from the agent with no request"))
                return
            self._pending.popleft()._resolve(payload)

    def _break(self, error: AgentError) -> None:
        self._error = error
        while self._pending:
            self._pending.popleft()._fail(error)

    def _queue(self, payload: bytes, expects: str, parse: Callable[[bytes], T]) -> PendingReply[T]:
        reply: PendingReply[T] = PendingReply(expects, parse)
        if self._error is not None:
            reply._fail(self._error)
            return reply
        if len(payload) > self._max_message:
            reply._fail(AgentError(f"{expects} request too large for the agent"))
            return reply
        self._out += frame(payload)
        self._pending.append(reply)  # type: ignore[arg-type]
        return reply

    # -- requests ----------------------------------------------------------------------

    def request_identities(self) -> PendingReply[list[Identity]]:
        return self._queue(RequestIdentities().encode(), "list", decode_identities)

    def sign(self, key_blob: bytes, data: bytes, flags: int = 0) -> PendingReply[bytes]:
        return self._queue(SignRequest(key_blob, data, flags).encode(), "sign", _parse_signature)

    def add_identity(
        self,
        key: PrivateKey,
        comment: str = "",
        constraints: Constraints | None = None,
        *,
        certificate: bytes | None = None,
    ) -> PendingReply[None]:
        body = Writer()
        body.raw(write_private_fields(key, certificate)).text(comment)
        if constraints is not None and not constraints.empty:
            body.raw(encode_constraints(constraints))
            payload = AddIdConstrained(body.getvalue()).encode()
        else:
            payload = AddIdentity(body.getvalue()).encode()
        return self._queue(payload, "add", _expect_success)

    def remove_identity(self, key_blob: bytes) -> PendingReply[None]:
        return self._queue(RemoveIdentity(key_blob).encode(), "remove", _expect_success)

    def remove_all(self) -> PendingReply[None]:
        return self._queue(RemoveAllIdentities().encode(), "remove all", _expect_success)

    def lock(self, passphrase: bytes) -> PendingReply[None]:
        return self._queue(Lock(passphrase).encode(), "lock", _expect_success)

    def unlock(self, passphrase: bytes) -> PendingReply[None]:
        return self._queue(Unlock(passphrase).encode(), "unlock", _expect_success)

    def extension(self, name: str, contents: bytes = b"") -> PendingReply[bytes | None]:
        """A generic extension request; the reply is the EXTENSION_RESPONSE contents
        after the name, or None for a plain SUCCESS."""
        return self._queue(Extension(name, contents).encode(), name, _parse_extension)

    def query_extensions(self) -> PendingReply[tuple[str, ...]]:
        return self._queue(Extension(QUERY, b"").encode(), QUERY, _parse_query)

    def session_bind(
        self, hostkey: bytes, session_id: bytes, signature: bytes, *, forwarding: bool
    ) -> PendingReply[None]:
        contents = SessionBind(hostkey, session_id, signature, forwarding).encode()
        return self._queue(
            Extension(SESSION_BIND, contents).encode(), SESSION_BIND, _expect_success
        )


# -- helpers shared by the drivers' AgentKey classes ------------------------------------------


def _legacy(key: PublicKey) -> tuple[str, ...]:
    try:
        return key_type_spec(key.algorithm).legacy_signature_algorithms
    except UnsupportedAlgorithm:
        return ()


def signing_algorithms(key: PublicKey) -> tuple[str, ...]:
    """Signature algorithms to ask an agent for with this key, preferred first (no SHA-1)."""
    legacy = _legacy(key)
    return tuple(a for a in key.signature_algorithms if a not in legacy)


class AgentKeyBase:
    """What the blocking and asyncio agent keys share; each adds its own ``sign``."""

    __slots__ = ("_client", "comment", "identity", "public_key")

    def __init__(self, client: object, identity: Identity, public_key: PublicKey) -> None:
        self._client = client
        self.identity = identity
        self.public_key = public_key
        self.comment = identity.comment

    @property
    def blob(self) -> bytes:
        return self.identity.blob

    @property
    def algorithms(self) -> tuple[str, ...]:
        return signing_algorithms(self.public_key)

    @property
    def legacy_algorithms(self) -> tuple[str, ...]:
        """SHA-1 signatures the agent makes when asked by name (``sign(data, "ssh-rsa")``
        sends no flags, as ``ssh-add -T`` does); never chosen by default."""
        return tuple(
            a for a in self.public_key.signature_algorithms if a in _legacy(self.public_key)
        )

    def __repr__(self) -> str:
        fp = self.public_key.fingerprint()
        return f"<{type(self).__name__} {self.public_key.algorithm} {fp} {self.comment!r}>"


def sign_flags(key: PublicKey, algorithm: str | None) -> tuple[str, int]:
    """The algorithm to use (default: the preferred one) and the SIGN_REQUEST flags for it."""
    algorithms = signing_algorithms(key)
    if algorithm is None:
        if not algorithms:
            raise UnsupportedAlgorithm(f"no signature algorithm for a {key.algorithm} key")
        algorithm = algorithms[0]
    elif algorithm not in key.signature_algorithms:
        raise UnsupportedAlgorithm(f"a {key.algorithm} key cannot sign with {algorithm}")
    return algorithm, RSA_FLAGS.get(algorithm, 0)


def check_signature_algorithm(signature: bytes, algorithm: str) -> None:
    """Make sure the agent signed with the algorithm asked for (an old agent may not)."""
    try:
        # A certificate algorithm name stands for the signature algorithm it implies.
        expected = algorithm_spec(algorithm).signature_algorithm
    except UnsupportedAlgorithm:
        expected = algorithm
    try:
        got = Reader(signature).ascii("signature algorithm", max_length=256)
    except DecodeError as exc:
        raise AgentProtocolError(f"malformed signature from the agent: {exc}") from None
    if got != expected:
        raise AgentProtocolError(f"asked the agent for {expected}, it signed with {got}")


def destination(
    to_host: str,
    to_keys: list[PublicKey],
    *,
    to_user: str = "",
    from_host: str = "",
    from_keys: list[PublicKey] | None = None,
) -> DestinationConstraint:
    """A destination constraint as ``ssh-add -h [from>]to`` builds it."""
    return DestinationConstraint(
        Hop(from_host, tuple(KeySpec(k) for k in from_keys or [])),
        Hop(to_host, tuple(KeySpec(k) for k in to_keys), to_user),
    )
