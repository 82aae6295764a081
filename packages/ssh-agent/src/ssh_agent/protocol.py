"""The agent protocol on the wire: message numbers, schemas, constraints and framing.

References: draft-miller-ssh-agent (now draft-ietf-sshm-ssh-agent) and OpenSSH's
PROTOCOL.agent for ``session-bind@openssh.com``, ``restrict-destination-v00@openssh.com``
and ``associated-certs-v00@openssh.com``.

Every message travels as ``uint32 length || byte type || contents``; a length over
:data:`MAX_MESSAGE` (256 KiB, as OpenSSH) closes the connection.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ssh_keys import KeyFormatError, PublicKey, parse_public_key_blob
from ssh_wire import (
    Boolean,
    DecodeError,
    Message,
    MessageTable,
    Name,
    Reader,
    Rest,
    String,
    Struct,
    UInt32,
    Writer,
    encode_uint32,
)

from .errors import AgentProtocolError

__all__ = [
    "AgentMessage",
    "MAX_MESSAGE",
    "SSH_AGENT_RSA_SHA2_256",
    "SSH_AGENT_RSA_SHA2_512",
    "RSA_FLAGS",
    "ConstraintType",
    "SESSION_BIND",
    "RESTRICT_DESTINATION",
    "ASSOCIATED_CERTS",
    "QUERY",
    "MAX_DEST_CONSTRAINTS",
    "MAX_ASSOCIATED_CERTS",
    # messages
    "Failure",
    "Success",
    "RequestIdentities",
    "IdentitiesAnswer",
    "SignRequest",
    "SignResponse",
    "AddIdentity",
    "RemoveIdentity",
    "RemoveAllIdentities",
    "AddIdConstrained",
    "Lock",
    "Unlock",
    "Extension",
    "ExtensionFailure",
    "ExtensionResponse",
    "REQUESTS",
    "REPLIES",
    # structures
    "Identity",
    "encode_identities",
    "decode_identities",
    "KeySpec",
    "Hop",
    "DestinationConstraint",
    "Constraints",
    "encode_constraints",
    "read_constraints",
    "SessionBind",
    "encode_string_sequence",
    "decode_string_sequence",
    # framing
    "frame",
    "FrameBuffer",
]

#: Largest message (type byte and contents) either side accepts, as OpenSSH's AGENT_MAX_LEN.
MAX_MESSAGE = 256 * 1024


class AgentMessage(enum.IntEnum):
    """Message numbers (draft-miller-ssh-agent section "Message numbers")."""

    FAILURE = 5
    SUCCESS = 6
    REQUEST_IDENTITIES = 11
    IDENTITIES_ANSWER = 12
    SIGN_REQUEST = 13
    SIGN_RESPONSE = 14
    ADD_IDENTITY = 17
    REMOVE_IDENTITY = 18
    REMOVE_ALL_IDENTITIES = 19
    ADD_SMARTCARD_KEY = 20
    REMOVE_SMARTCARD_KEY = 21
    LOCK = 22
    UNLOCK = 23
    ADD_ID_CONSTRAINED = 25
    ADD_SMARTCARD_KEY_CONSTRAINED = 26
    EXTENSION = 27
    EXTENSION_FAILURE = 28
    EXTENSION_RESPONSE = 29


#: Signature flags of SIGN_REQUEST: which hash an RSA key signs with.
SSH_AGENT_RSA_SHA2_256 = 0x02
SSH_AGENT_RSA_SHA2_512 = 0x04

#: Signature algorithm name -> flags to ask for it (certificate names included).
RSA_FLAGS: dict[str, int] = {
    "rsa-sha2-256": SSH_AGENT_RSA_SHA2_256,
    "rsa-sha2-512": SSH_AGENT_RSA_SHA2_512,
    "rsa-sha2-256-cert-v01@openssh.com": SSH_AGENT_RSA_SHA2_256,
    "rsa-sha2-512-cert-v01@openssh.com": SSH_AGENT_RSA_SHA2_512,
}


class ConstraintType(enum.IntEnum):
    LIFETIME = 1
    CONFIRM = 2
    MAXSIGN = 3  # XMSS only; parsed so it can be refused cleanly
    EXTENSION = 255


SESSION_BIND = "session-bind@openssh.com"
RESTRICT_DESTINATION = "restrict-destination-v00@openssh.com"
ASSOCIATED_CERTS = "associated-certs-v00@openssh.com"
QUERY = "query"

#: Bounds on what one constraint may carry (OpenSSH uses the same numbers).
MAX_DEST_CONSTRAINTS = 1024
MAX_ASSOCIATED_CERTS = 1024
_MAX_HOP_KEYS = 1024
_MAX_NAME = 1024


# -- message schemas ---------------------------------------------------------------


class Failure(Message):
    NUMBER = AgentMessage.FAILURE


class Success(Message):
    NUMBER = AgentMessage.SUCCESS


class RequestIdentities(Message):
    NUMBER = AgentMessage.REQUEST_IDENTITIES


class IdentitiesAnswer(Message):
    """``uint32 nkeys`` then ``nkeys`` times (string key blob, string comment)."""

    NUMBER = AgentMessage.IDENTITIES_ANSWER
    nkeys: UInt32
    entries: Rest


class SignRequest(Message):
    NUMBER = AgentMessage.SIGN_REQUEST
    key_blob: String
    data: String
    flags: UInt32


class SignResponse(Message):
    NUMBER = AgentMessage.SIGN_RESPONSE
    signature: String


class AddIdentity(Message):
    """``string type || key fields || string comment``; the fields depend on the type."""

    NUMBER = AgentMessage.ADD_IDENTITY
    body: Rest


class AddIdConstrained(Message):
    """As :class:`AddIdentity`, followed by constraints."""

    NUMBER = AgentMessage.ADD_ID_CONSTRAINED
    body: Rest


class RemoveIdentity(Message):
    NUMBER = AgentMessage.REMOVE_IDENTITY
    key_blob: String


class RemoveAllIdentities(Message):
    NUMBER = AgentMessage.REMOVE_ALL_IDENTITIES


class Lock(Message):
    NUMBER = AgentMessage.LOCK
    passphrase: String


class Unlock(Message):
    NUMBER = AgentMessage.UNLOCK
    passphrase: String


class Extension(Message):
    """OpenSSH puts the extension's contents right after the name, not in a string."""

    NUMBER = AgentMessage.EXTENSION
    name: Name
    contents: Rest


class ExtensionFailure(Message):
    NUMBER = AgentMessage.EXTENSION_FAILURE


class ExtensionResponse(Message):
    NUMBER = AgentMessage.EXTENSION_RESPONSE
    name: Name
    contents: Rest


REQUESTS = MessageTable(
    RequestIdentities,
    SignRequest,
    AddIdentity,
    RemoveIdentity,
    RemoveAllIdentities,
    AddIdConstrained,
    Lock,
    Unlock,
    Extension,
)
REPLIES = MessageTable(
    Failure, Success, IdentitiesAnswer, SignResponse, ExtensionFailure, ExtensionResponse
)


# -- identities ----------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """One entry of IDENTITIES_ANSWER: a key blob (plain key or certificate) and comment."""

    blob: bytes
    comment: str


def encode_identities(identities: list[Identity]) -> bytes:
    w = Writer()
    for ident in identities:
        w.string(ident.blob).text(ident.comment)
    return IdentitiesAnswer(len(identities), w.getvalue()).encode()


def decode_identities(payload: bytes) -> list[Identity]:
    """Decode an IDENTITIES_ANSWER payload. Comments that are not UTF-8 are decoded leniently."""
    msg = IdentitiesAnswer.decode(payload)
    r = Reader(msg.entries)
    # Each entry takes at least 8 bytes: refuse an absurd count before looping on it.
    if msg.nkeys > r.remaining // 8:
        raise DecodeError(f"{msg.nkeys} identities cannot fit in {r.remaining} bytes")
    out = []
    for _ in range(msg.nkeys):
        blob = r.string("key blob")
        comment = r.string("comment").decode("utf-8", "replace")
        out.append(Identity(blob, comment))
    r.expect_end("identities answer")
    return out


def encode_string_sequence(items: list[bytes] | tuple[bytes, ...]) -> bytes:
    w = Writer()
    for item in items:
        w.string(item)
    return w.getvalue()


def decode_string_sequence(data: bytes, *, limit: int = 4096) -> list[bytes]:
    r = Reader(data)
    out: list[bytes] = []
    while not r.at_end():
        if len(out) >= limit:
            raise DecodeError(f"more than {limit} strings")
        out.append(r.string())
    return out


# -- constraints -----------------------------------------------------------------------


@dataclass(frozen=True)
class KeySpec:
    """A host key (or, with ``is_ca``, a host CA key) in a destination hop."""

    key: PublicKey
    is_ca: bool = False


@dataclass(frozen=True)
class Hop:
    """One side of a destination constraint: ``[user@]host`` and the keys it may present.

    An empty ``hostname`` with no keys on the *from* side means "the machine running
    the agent".
    """

    hostname: str = ""
    keys: tuple[KeySpec, ...] = ()
    username: str = ""


@dataclass(frozen=True)
class DestinationConstraint:
    """A key may be used to go from ``from_hop`` to ``to_hop`` (``ssh-add -h``)."""

    from_hop: Hop
    to_hop: Hop


@dataclass(frozen=True)
class Constraints:
    """Constraints attached to a key when it is added (ADD_ID_CONSTRAINED)."""

    lifetime: int | None = None
    confirm: bool = False
    maxsign: int | None = None
    destinations: tuple[DestinationConstraint, ...] = ()
    associated_certs: tuple[bytes, ...] = ()
    certs_only: bool = False
    #: Unknown extension constraints are kept by name only so the agent can refuse them.
    unknown_extensions: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return self == Constraints()


def _write_hop(w: Writer, hop: Hop) -> None:
    inner = Writer()
    inner.text(hop.username).text(hop.hostname).string(b"")  # reserved
    for spec in hop.keys:
        inner.string(spec.key.blob).boolean(spec.is_ca)
    w.string(inner.getvalue())


def _read_hop(data: bytes) -> Hop:
    r = Reader(data)
    username = r.text("hop username", max_length=_MAX_NAME)
    hostname = r.text("hop hostname", max_length=_MAX_NAME)
    r.string("hop reserved")
    keys: list[KeySpec] = []
    while not r.at_end():
        if len(keys) >= _MAX_HOP_KEYS:
            raise DecodeError("too many keys in a destination hop")
        blob = r.string("hop key")
        is_ca = r.boolean("hop key is_ca")
        try:
            key = parse_public_key_blob(blob)
        except KeyFormatError as exc:
            raise DecodeError(f"bad hop key: {exc}") from None
        keys.append(KeySpec(key, is_ca))
    return Hop(hostname, tuple(keys), username)


def _encode_destinations(destinations: tuple[DestinationConstraint, ...]) -> bytes:
    w = Writer()
    for dc in destinations:
        inner = Writer()
        _write_hop(inner, dc.from_hop)
        _write_hop(inner, dc.to_hop)
        inner.string(b"")  # reserved
        w.string(inner.getvalue())
    return w.getvalue()


def _decode_destinations(data: bytes) -> tuple[DestinationConstraint, ...]:
    r = Reader(data)
    out: list[DestinationConstraint] = []
    while not r.at_end():
        if len(out) >= MAX_DEST_CONSTRAINTS:
            raise DecodeError("too many destination constraints")
        c = Reader(r.string("destination constraint"))
        from_hop = _read_hop(c.string("from hop"))
        to_hop = _read_hop(c.string("to hop"))
        c.string("constraint reserved")
        c.expect_end("destination constraint")
        # PROTOCOL.agent: from_username must be empty; to_hostname and to_hostkeys given;
        # an empty from side (the agent's own host) has neither name nor keys.
        if from_hop.username:
            raise DecodeError("destination constraint has a from_username")
        if not to_hop.hostname or not to_hop.keys:
            raise DecodeError("destination constraint lacks to_hostname or to_hostkeys")
        if bool(from_hop.hostname) != bool(from_hop.keys):
            raise DecodeError("destination constraint from-hop needs both a name and keys")
        out.append(DestinationConstraint(from_hop, to_hop))
    if not out:
        raise DecodeError("empty destination constraint")
    return tuple(out)


def encode_constraints(c: Constraints) -> bytes:
    w = Writer()
    if c.lifetime is not None:
        w.byte(ConstraintType.LIFETIME).uint32(c.lifetime)
    if c.confirm:
        w.byte(ConstraintType.CONFIRM)
    if c.maxsign is not None:
        w.byte(ConstraintType.MAXSIGN).uint32(c.maxsign)
    if c.destinations:
        w.byte(ConstraintType.EXTENSION).string(RESTRICT_DESTINATION.encode())
        w.string(_encode_destinations(c.destinations))
    if c.associated_certs:
        w.byte(ConstraintType.EXTENSION).string(ASSOCIATED_CERTS.encode())
        w.boolean(c.certs_only).string(encode_string_sequence(c.associated_certs))
    return w.getvalue()


def read_constraints(r: Reader) -> Constraints:
    """Read constraints up to the end of ``r``; a repeated or unknown one is an error."""
    lifetime: int | None = None
    confirm = False
    maxsign: int | None = None
    destinations: tuple[DestinationConstraint, ...] = ()
    certs: tuple[bytes, ...] = ()
    certs_only = False
    seen: set[object] = set()
    unknown: list[str] = []
    while not r.at_end():
        start = r.offset
        kind = r.byte("constraint type")
        if kind in seen and kind != ConstraintType.EXTENSION:
            raise DecodeError(f"constraint {kind} given twice", offset=start)
        seen.add(kind)
        if kind == ConstraintType.LIFETIME:
            lifetime = r.uint32("lifetime")
        elif kind == ConstraintType.CONFIRM:
            confirm = True
        elif kind == ConstraintType.MAXSIGN:
            maxsign = r.uint32("max signatures")
        elif kind == ConstraintType.EXTENSION:
            name = r.ascii("constraint extension", max_length=256)
            if name in seen:
                raise DecodeError(f"constraint {name} given twice", offset=start)
            seen.add(name)
            if name == RESTRICT_DESTINATION:
                destinations = _decode_destinations(r.string("destination constraints"))
            elif name == ASSOCIATED_CERTS:
                certs_only = r.boolean("certs_only")
                blobs = decode_string_sequence(r.string("certificates"), limit=MAX_ASSOCIATED_CERTS)
                certs = tuple(blobs)
            else:
                # The contents' extent is unknown, so nothing after it can be read either.
                unknown.append(name)
                r.rest()
        else:
            raise DecodeError(f"unknown constraint type {kind}", offset=start)
    return Constraints(lifetime, confirm, maxsign, destinations, certs, certs_only, tuple(unknown))


# -- session binding --------------------------------------------------------------------


class SessionBind(Struct):
    """Contents of the ``session-bind@openssh.com`` extension (PROTOCOL.agent 1)."""

    hostkey: String
    session_id: String
    signature: String
    is_forwarding: Boolean


# -- framing -----------------------------------------------------------------------------


def frame(payload: bytes) -> bytes:
    """Prefix a message with its uint32 length."""
    return encode_uint32(len(payload)) + payload


class FrameBuffer:
    """Splits a byte stream into messages; a declared length over ``max_message`` raises.

    The length is checked as soon as its 4 bytes arrive, so a hostile peer cannot make
    us buffer more than ``max_message`` bytes plus one read.
    """

    __slots__ = ("_buf", "_max", "_pos")

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._max = max_message

    def feed(self, data: bytes) -> None:
        self._buf += data

    @property
    def buffered(self) -> int:
        return len(self._buf) - self._pos

    def next_message(self) -> bytes | None:
        """The next complete message, or None; raises AgentProtocolError if too long."""
        avail = len(self._buf) - self._pos
        if avail < 4:
            self._compact()
            return None
        length = int.from_bytes(self._buf[self._pos : self._pos + 4], "big")
        if length > self._max:
            raise AgentProtocolError(f"agent message of {length} bytes over {self._max}")
        if avail < 4 + length:
            self._compact()
            return None
        start = self._pos + 4
        payload = bytes(self._buf[start : start + length])
        self._pos = start + length
        return payload

    def _compact(self) -> None:
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
