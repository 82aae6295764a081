"""Transport-layer messages (RFC 4253, RFC 8308, OpenSSH's ping), declared once."""

from __future__ import annotations

from typing import Annotated

from ssh_wire import (
    Boolean,
    DecodeError,
    Fixed,
    Message,
    MessageNumber,
    Name,
    NameList,
    Reader,
    Rest,
    String,
    Text,
    UInt32,
    Writer,
)

__all__ = [
    "Disconnect",
    "Ignore",
    "Unimplemented",
    "Debug",
    "ServiceRequest",
    "ServiceAccept",
    "ExtInfo",
    "KexInit",
    "NewKeys",
    "Ping",
    "Pong",
    "encode_extensions",
    "decode_extensions",
]


class Disconnect(Message):
    NUMBER = MessageNumber.DISCONNECT
    reason: UInt32
    description: Text
    language: Text


class Ignore(Message):
    NUMBER = MessageNumber.IGNORE
    data: String


class Unimplemented(Message):
    NUMBER = MessageNumber.UNIMPLEMENTED
    sequence: UInt32


class Debug(Message):
    NUMBER = MessageNumber.DEBUG
    always_display: Boolean
    message: Text
    language: Text


class ServiceRequest(Message):
    NUMBER = MessageNumber.SERVICE_REQUEST
    service: Name


class ServiceAccept(Message):
    NUMBER = MessageNumber.SERVICE_ACCEPT
    service: Name


class ExtInfo(Message):
    """RFC 8308: ``uint32 count`` then ``count`` pairs of (name, value) strings."""

    NUMBER = MessageNumber.EXT_INFO
    body: Rest

    @classmethod
    def from_dict(cls, extensions: dict[str, bytes]) -> ExtInfo:
        return cls(encode_extensions(extensions))

    def extensions(self) -> dict[str, bytes]:
        return decode_extensions(self.body)


#: An EXT_INFO with more extensions than this is refused (OpenSSH sends four).
MAX_EXTENSIONS = 64


def encode_extensions(extensions: dict[str, bytes]) -> bytes:
    w = Writer().uint32(len(extensions))
    for name, value in extensions.items():
        w.string(name.encode("ascii")).string(value)
    return w.getvalue()


def decode_extensions(body: bytes) -> dict[str, bytes]:
    r = Reader(body)
    count = r.uint32("extension count")
    if count > MAX_EXTENSIONS:
        raise DecodeError(f"{count} extensions, limit {MAX_EXTENSIONS}", field="nr-extensions")
    result: dict[str, bytes] = {}
    for _ in range(count):
        name = r.ascii("extension name", max_length=256)
        result[name] = r.string("extension value", max_length=64 * 1024)
    r.expect_end("EXT_INFO")
    return result


class KexInit(Message):
    NUMBER = MessageNumber.KEXINIT
    cookie: Annotated[bytes, Fixed(16)]
    kex_algorithms: NameList
    server_host_key_algorithms: NameList
    encryption_client_to_server: NameList
    encryption_server_to_client: NameList
    mac_client_to_server: NameList
    mac_server_to_client: NameList
    compression_client_to_server: NameList
    compression_server_to_client: NameList
    languages_client_to_server: NameList
    languages_server_to_client: NameList
    first_kex_packet_follows: Boolean
    reserved: UInt32


class NewKeys(Message):
    NUMBER = MessageNumber.NEWKEYS


class Ping(Message):
    """ping@openssh.com (OpenSSH PROTOCOL 1.9): echo ``data`` back in a PONG."""

    NUMBER = MessageNumber.PING
    data: String


class Pong(Message):
    NUMBER = MessageNumber.PONG
    data: String
