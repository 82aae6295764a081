"""ssh-wire: the SSH wire encoding of RFC 4251, with no dependencies.

Readers and writers for every data type of RFC 4251 section 5, declarative
message schemas, the numbers of RFC 4250 and the error root of the stack.
"""

from __future__ import annotations

from .errors import DecodeError, DisconnectError, LocalProtocolError, RemoteProtocolError, SSHError
from .limits import MAX_MPINT_BITS, MAX_NAME, MAX_NAME_LIST, MAX_NAMES, MAX_STRING
from .numbers import (
    ChannelOpenFailure,
    DisconnectReason,
    ExtendedDataType,
    MessageNumber,
    layer_of,
)
from .reader import Reader
from .schema import (
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
    decode_message,
)
from .writer import (
    Writer,
    encode_mpint,
    encode_name_list,
    encode_string,
    encode_uint32,
    encode_uint64,
    mpint_bytes,
)

__version__ = "0.1.1"

__all__ = [
    # errors
    "SSHError",
    "DecodeError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "DisconnectError",
    # reading and writing
    "Reader",
    "Writer",
    "encode_uint32",
    "encode_uint64",
    "encode_string",
    "encode_mpint",
    "encode_name_list",
    "mpint_bytes",
    # schemas
    "Struct",
    "Message",
    "MessageTable",
    "decode_message",
    "WireType",
    "Fixed",
    "Byte",
    "Boolean",
    "UInt32",
    "UInt64",
    "String",
    "Text",
    "Name",
    "MPInt",
    "NameList",
    "Rest",
    # numbers
    "MessageNumber",
    "DisconnectReason",
    "ChannelOpenFailure",
    "ExtendedDataType",
    "layer_of",
    # limits
    "MAX_STRING",
    "MAX_NAME_LIST",
    "MAX_NAMES",
    "MAX_NAME",
    "MAX_MPINT_BITS",
]
