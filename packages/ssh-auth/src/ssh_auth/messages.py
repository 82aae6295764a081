"""User authentication messages (RFC 4252, RFC 4256, OpenSSH PROTOCOL 2.5), declared once.

A USERAUTH_REQUEST is a common head (user, service, method) and a method-specific tail; the
tails are :class:`~ssh_wire.Struct` schemas picked by method name (and, for password and
publickey, by the leading boolean). Number 60 means PK_OK, PASSWD_CHANGEREQ or INFO_REQUEST
depending on what the client asked, so each state decodes through its own table.
"""

from __future__ import annotations

from dataclasses import dataclass

from ssh_wire import (
    Boolean,
    DecodeError,
    Message,
    MessageNumber,
    MessageTable,
    Name,
    NameList,
    Reader,
    Rest,
    String,
    Struct,
    Text,
    UInt32,
    Writer,
)

__all__ = [
    # method names
    "NONE",
    "PASSWORD",
    "PUBLICKEY",
    "PUBLICKEY_HOSTBOUND",
    "KEYBOARD_INTERACTIVE",
    "HOSTBASED",
    "HOSTBOUND_EXTENSION",
    # messages
    "UserauthRequest",
    "UserauthFailure",
    "UserauthSuccess",
    "UserauthBanner",
    "UserauthPkOk",
    "UserauthPasswdChangereq",
    "UserauthInfoRequest",
    "UserauthInfoResponse",
    # request tails
    "NoneTail",
    "PasswordTail",
    "PasswordChangeTail",
    "PublickeyQueryTail",
    "PublickeySignedTail",
    "HostboundQueryTail",
    "HostboundSignedTail",
    "KeyboardInteractiveTail",
    "HostbasedTail",
    "MethodTail",
    "decode_tail",
    "request",
    # keyboard-interactive helpers
    "PromptField",
    "InfoRequest",
    "encode_info_request",
    "decode_info_request",
    "info_request",
    "encode_info_response",
    "decode_info_response",
    "MAX_PROMPTS",
    # signed data
    "publickey_signed_data",
    "hostbased_signed_data",
]

NONE = "none"
PASSWORD = "password"  # noqa: S105 - a method name
PUBLICKEY = "publickey"
PUBLICKEY_HOSTBOUND = "publickey-hostbound-v00@openssh.com"
KEYBOARD_INTERACTIVE = "keyboard-interactive"
HOSTBASED = "hostbased"
#: The EXT_INFO extension by which a server announces publickey-hostbound-v00.
HOSTBOUND_EXTENSION = "publickey-hostbound@openssh.com"

#: Prompts per INFO_REQUEST / responses per INFO_RESPONSE we accept (OpenSSH allows 100).
MAX_PROMPTS = 100


# -- messages --------------------------------------------------------------------------------


class UserauthRequest(Message):
    NUMBER = MessageNumber.USERAUTH_REQUEST
    username: Text
    service: Name
    method: Name
    method_data: Rest


class UserauthFailure(Message):
    NUMBER = MessageNumber.USERAUTH_FAILURE
    methods: NameList
    partial_success: Boolean


class UserauthSuccess(Message):
    NUMBER = MessageNumber.USERAUTH_SUCCESS


class UserauthBanner(Message):
    NUMBER = MessageNumber.USERAUTH_BANNER
    message: Text
    language: Text


class UserauthPkOk(Message):
    NUMBER = MessageNumber.USERAUTH_PK_OK
    algorithm: Name
    key: String


class UserauthPasswdChangereq(Message):
    NUMBER = MessageNumber.USERAUTH_PK_OK  # 60 in the password context
    prompt: Text
    language: Text


class UserauthInfoRequest(Message):
    NUMBER = MessageNumber.USERAUTH_PK_OK  # 60 in the keyboard-interactive context
    name: Text
    instruction: Text
    language: Text
    num_prompts: UInt32
    prompts: Rest  # num_prompts x PromptField


class UserauthInfoResponse(Message):
    NUMBER = MessageNumber.USERAUTH_INFO_RESPONSE
    num_responses: UInt32
    responses: Rest  # num_responses x string


# -- request tails ---------------------------------------------------------------------------


class NoneTail(Struct):
    pass


class PasswordTail(Struct):
    change: Boolean  # FALSE
    password: String  # UTF-8; kept as bytes so a bad encoding is a failed try, not an error


class PasswordChangeTail(Struct):
    change: Boolean  # TRUE
    old_password: String
    new_password: String


class PublickeyQueryTail(Struct):
    has_signature: Boolean  # FALSE
    algorithm: Name
    key: String


class PublickeySignedTail(Struct):
    has_signature: Boolean  # TRUE
    algorithm: Name
    key: String
    signature: String


class HostboundQueryTail(Struct):
    has_signature: Boolean  # FALSE
    algorithm: Name
    key: String
    host_key: String


class HostboundSignedTail(Struct):
    has_signature: Boolean  # TRUE
    algorithm: Name
    key: String
    host_key: String
    signature: String


class KeyboardInteractiveTail(Struct):
    language: Text  # deprecated, empty
    submethods: Text


class HostbasedTail(Struct):
    algorithm: Name
    key: String
    client_host: Name
    client_user: Text
    signature: String


MethodTail = (
    NoneTail
    | PasswordTail
    | PasswordChangeTail
    | PublickeyQueryTail
    | PublickeySignedTail
    | HostboundQueryTail
    | HostboundSignedTail
    | KeyboardInteractiveTail
    | HostbasedTail
)

# Method -> (tail when the leading boolean is FALSE, tail when TRUE); one entry: no boolean.
_TAILS: dict[str, tuple[type[Struct], ...]] = {
    NONE: (NoneTail,),
    PASSWORD: (PasswordTail, PasswordChangeTail),
    PUBLICKEY: (PublickeyQueryTail, PublickeySignedTail),
    PUBLICKEY_HOSTBOUND: (HostboundQueryTail, HostboundSignedTail),
    KEYBOARD_INTERACTIVE: (KeyboardInteractiveTail,),
    HOSTBASED: (HostbasedTail,),
}


def decode_tail(method: str, data: bytes) -> MethodTail | None:
    """Decode the method-specific part of a request; None for a method we do not know.

    Raises :class:`~ssh_wire.DecodeError` for a malformed tail (trailing bytes included).
    """
    tails = _TAILS.get(method)
    if tails is None:
        return None
    if len(tails) == 1:
        tail = tails[0].decode(data)
    else:
        flag = Reader(data).boolean("flag")  # strict: 0 or 1
        tail = tails[1 if flag else 0].decode(data)
    return tail  # type: ignore[return-value]


def request(username: str, service: str, method: str, tail: Struct | None = None) -> bytes:
    """Encode a USERAUTH_REQUEST payload."""
    data = tail.encode() if tail is not None else b""
    return UserauthRequest(username, service, method, data).encode()


# -- keyboard-interactive --------------------------------------------------------------------


class PromptField(Struct):
    prompt: Text
    echo: Boolean


@dataclass(frozen=True)
class InfoRequest:
    """A decoded INFO_REQUEST."""

    name: str
    instruction: str
    language: str
    prompts: tuple[tuple[str, bool], ...]


def encode_info_request(
    name: str, instruction: str, prompts: tuple[tuple[str, bool], ...], language: str = ""
) -> bytes:
    w = Writer()
    for text, echo in prompts:
        PromptField(text, echo).encode_into(w)
    return UserauthInfoRequest(name, instruction, language, len(prompts), w.getvalue()).encode()


def decode_info_request(payload: bytes) -> InfoRequest:
    return info_request(UserauthInfoRequest.decode(payload))


def info_request(msg: UserauthInfoRequest) -> InfoRequest:
    """The prompts of a decoded INFO_REQUEST (bounded by :data:`MAX_PROMPTS`)."""
    if msg.num_prompts > MAX_PROMPTS:
        raise DecodeError(f"{msg.num_prompts} prompts (at most {MAX_PROMPTS})",
                          message="UserauthInfoRequest")  # fmt: skip
    r = Reader(msg.prompts)
    prompts = tuple(
        (field.prompt, field.echo)
        for field in (PromptField.read_from(r) for _ in range(msg.num_prompts))
    )
    r.expect_end("UserauthInfoRequest")
    return InfoRequest(msg.name, msg.instruction, msg.language, prompts)


def encode_info_response(responses: tuple[str, ...] | list[str]) -> bytes:
    w = Writer()
    for response in responses:
        w.text(response)
    return UserauthInfoResponse(len(responses), w.getvalue()).encode()


def decode_info_response(payload: bytes) -> tuple[bytes, ...]:
    """The raw responses (UTF-8 expected; the server decides what a bad encoding means)."""
    msg = UserauthInfoResponse.decode(payload)
    if msg.num_responses > MAX_PROMPTS:
        raise DecodeError(f"{msg.num_responses} responses (at most {MAX_PROMPTS})",
                          message="UserauthInfoResponse")  # fmt: skip
    r = Reader(msg.responses)
    responses = tuple(r.string("response") for _ in range(msg.num_responses))
    r.expect_end("UserauthInfoResponse")
    return responses


# -- what signatures cover -------------------------------------------------------------------


def publickey_signed_data(
    session_id: bytes,
    username: str,
    service: str,
    method: str,
    algorithm: str,
    key_blob: bytes,
    host_key_blob: bytes | None = None,
) -> bytes:
    """RFC 4252 section 7 (and PROTOCOL 2.5 for hostbound): what a publickey signature signs."""
    w = Writer().string(session_id).byte(MessageNumber.USERAUTH_REQUEST)
    w.text(username).string(service.encode("ascii")).string(method.encode("ascii"))
    w.boolean(True).string(algorithm.encode("ascii")).string(key_blob)
    if host_key_blob is not None:
        w.string(host_key_blob)
    return w.getvalue()


def hostbased_signed_data(
    session_id: bytes,
    username: str,
    service: str,
    algorithm: str,
    key_blob: bytes,
    client_host: str,
    client_user: str,
) -> bytes:
    """RFC 4252 section 9: what a hostbased signature signs."""
    w = Writer().string(session_id).byte(MessageNumber.USERAUTH_REQUEST)
    w.text(username).string(service.encode("ascii")).string(HOSTBASED.encode("ascii"))
    w.string(algorithm.encode("ascii")).string(key_blob)
    w.string(client_host.encode("ascii")).text(client_user)
    return w.getvalue()


# -- per-state tables ------------------------------------------------------------------------

#: What a client may receive while a request of each kind is outstanding.
CLIENT_RESULT = MessageTable(UserauthFailure, UserauthSuccess, UserauthBanner)
CLIENT_PK_OK = CLIENT_RESULT.extended(UserauthPkOk)
CLIENT_PASSWORD = CLIENT_RESULT.extended(UserauthPasswdChangereq)
CLIENT_KBDINT = CLIENT_RESULT.extended(UserauthInfoRequest)
CLIENT_IDLE = MessageTable(UserauthBanner)
#: What a server may receive.
SERVER_REQUEST = MessageTable(UserauthRequest)
SERVER_KBDINT = SERVER_REQUEST.extended(UserauthInfoResponse)
