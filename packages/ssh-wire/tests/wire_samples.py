"""Representative schemas, a valid instance of each, and hypothesis strategies.

Shared by the round-trip and fuzz tests. The module name is specific to this
package because conftest puts this folder on ``sys.path``.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Annotated, Any

from hypothesis import strategies as st

from ssh_wire import (
    MAX_NAME,
    Boolean,
    Byte,
    Fixed,
    Message,
    MessageTable,
    MPInt,
    Name,
    NameList,
    Rest,
    String,
    Struct,
    Text,
    UInt32,
    UInt64,
    WireType,
)


class KexInitLike(Message):
    """RFC 4253 7.1: the cookie, ten name-lists, a boolean and a reserved uint32."""

    NUMBER = 20
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


class ChannelDataLike(Message):
    NUMBER = 94
    recipient: UInt32
    data: String


class UserauthRequestLike(Message):
    """RFC 4252 5: the method-specific part stays unparsed."""

    NUMBER = 50
    user: Text
    service: Name
    method: Name
    method_data: Rest


class KexReplyLike(Message):
    NUMBER = 31
    host_key: String
    f: MPInt
    signature: String


class NewKeysLike(Message):
    NUMBER = 21


class EveryType(Struct):
    """One field of every wire type, ending in Rest."""

    b: Byte
    flag: Boolean
    u32: UInt32
    u64: UInt64
    blob: String
    text: Text
    name: Name
    number: MPInt
    names: NameList
    fixed: Annotated[bytes, Fixed(4)]
    tail: Rest


SCHEMAS: tuple[type[Struct], ...] = (
    KexInitLike,
    ChannelDataLike,
    UserauthRequestLike,
    KexReplyLike,
    NewKeysLike,
    EveryType,
)

TABLE = MessageTable(KexInitLike, ChannelDataLike, UserauthRequestLike, KexReplyLike, NewKeysLike)

#: One valid instance per schema, small enough that every single-byte mutation can be tried.
EXAMPLES: dict[type[Struct], Struct] = {
    KexInitLike: KexInitLike(
        bytes(range(16)),
        ("curve25519-sha256", "ext-info-c"),
        ("ssh-ed25519",),
        ("aes128-ctr",),
        ("aes128-ctr",),
        ("hmac-sha2-256",),
        ("hmac-sha2-256",),
        ("none",),
        ("none",),
        (),
        (),
        False,
        0,
    ),
    ChannelDataLike: ChannelDataLike(7, b"hello, world\n"),
    UserauthRequestLike: UserauthRequestLike("alice", "ssh-connection", "none", b""),
    KexReplyLike: KexReplyLike(b"\x00\x00\x00\x0bssh-ed25519", 0x80FF01, b"sig"),
    NewKeysLike: NewKeysLike(),
    EveryType: EveryType(
        200,
        True,
        0xDEADBEEF,
        1 << 63,
        b"\x00\xff",
        "h\u00e9",
        "ssh",
        -129,
        ("a", "b"),
        b"abcd",
        b"!",
    ),
}

# -- strategies ------------------------------------------------------------------

#: Names as algorithms are spelled: printable ASCII without comma or space.
NAME_ALPHABET = st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=",")
names = st.text(NAME_ALPHABET, min_size=1, max_size=64)
name_lists = st.lists(names, max_size=12).map(tuple)
# Well inside MAX_MPINT_BITS; the bound keeps examples fast.
mpints = st.integers(min_value=-(1 << 4200), max_value=1 << 4200)
ascii_text = st.text(st.characters(max_codepoint=0x7F), max_size=64)

assert MAX_NAME >= 64  # the strategy above must stay within the reader's bound

_BY_NAME: dict[str, st.SearchStrategy[Any]] = {
    "byte": st.integers(0, 0xFF),
    "boolean": st.booleans(),
    "uint32": st.integers(0, 0xFFFF_FFFF),
    "uint64": st.integers(0, 0xFFFF_FFFF_FFFF_FFFF),
    "string": st.binary(max_size=300),
    "text": st.text(max_size=64),
    "name": ascii_text,
    "mpint": mpints,
    "name-list": name_lists,
    "rest": st.binary(max_size=64),
}


def strategy_for_wire(wire: WireType) -> st.SearchStrategy[Any]:
    if wire.name.startswith("byte["):
        size = int(wire.name[5:-1])
        return st.binary(min_size=size, max_size=size)
    return _BY_NAME[wire.name]


def instances(cls: type[Struct]) -> st.SearchStrategy[Struct]:
    """Any valid instance of a schema, drawn field by field from its annotations."""
    hints = typing.get_type_hints(cls, include_extras=True)
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for f in dataclasses.fields(cls):
        (wire,) = [m for m in hints[f.name].__metadata__ if isinstance(m, WireType)]
        fields[f.name] = strategy_for_wire(wire)
    return st.builds(cls, **fields)
