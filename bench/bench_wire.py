"""Encode/decode speed of ssh-wire schemas on typical messages.

Compared in the same run with a hand-written struct.pack / bytes-concatenation
baseline (no validation at all: a floor, not a competitor) and, when importable,
paramiko.Message building and parsing the same bytes.

    hatch run bench:wire            # full run
    hatch run bench:wire --quick    # one short repeat per case (smoke test)

Ratios are ssh-wire's time per operation divided by the other's: above 1 means
ssh-wire is slower. Nothing here asserts a timing. The "generic path" rows run
the schema's generic Reader/Writer methods, which the generated codecs replace
(and fall back to on bad input), to show what the code generation gains. The
plain decoders build instances through the frozen dataclass ``__init__``, which
the generated decoders skip, so ssh-wire can beat that floor on decode.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import struct
import sys
import timeit
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Annotated, Any

from ssh_wire import (
    Boolean,
    Fixed,
    Message,
    Name,
    NameList,
    Reader,
    String,
    Text,
    UInt32,
    Writer,
)
from ssh_wire import __version__ as wire_version

#: An encode function and a decode function for one message.
Codec = tuple[Callable[[Any], bytes], Callable[[bytes], Any]]

# -- the messages --------------------------------------------------------------------


class KexInit(Message):
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


class ChannelData(Message):
    NUMBER = 94
    recipient: UInt32
    data: String


class UserauthRequest(Message):
    """RFC 4252 7, "publickey" with a signature, declared in full."""

    NUMBER = 50
    user: Text
    service: Name
    method: Name
    has_signature: Boolean
    algorithm: Name
    public_key: String
    signature: String


KEX = ("mlkem768x25519-sha256", "sntrup761x25519-sha512", "curve25519-sha256", "ext-info-c")
HOSTKEY = ("ssh-ed25519-cert-v01@openssh.com", "ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256")
CIPHERS = ("chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com", "aes256-gcm@openssh.com")
MACS = ("hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "umac-128@openssh.com")
COMP = ("none", "zlib@openssh.com")

KEXINIT = KexInit(
    bytes(range(16)), KEX, HOSTKEY, CIPHERS, CIPHERS, MACS, MACS, COMP, COMP, (), (), False, 0
)
CHANNEL_DATA = ChannelData(3, bytes(range(256)) * 128)  # 32 KiB
ED25519_BLOB = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + bytes(32)
SIGNATURE = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x40" + bytes(64)
USERAUTH = UserauthRequest(
    "alice", "ssh-connection", "publickey", True, "ssh-ed25519", ED25519_BLOB, SIGNATURE
)

# -- baseline: struct.pack and bytes concatenation, no checks ----------------------------

_u32 = struct.Struct(">I")
_pack = _u32.pack
_unpack_from = _u32.unpack_from


def _s(data: bytes) -> bytes:
    return _pack(len(data)) + data


def _take(data: bytes, pos: int) -> tuple[bytes, int]:
    (n,) = _unpack_from(data, pos)
    pos += 4
    return data[pos : pos + n], pos + n


def kexinit_encode_plain(m: KexInit) -> bytes:
    lists = (
        m.kex_algorithms,
        m.server_host_key_algorithms,
        m.encryption_client_to_server,
        m.encryption_server_to_client,
        m.mac_client_to_server,
        m.mac_server_to_client,
        m.compression_client_to_server,
        m.compression_server_to_client,
        m.languages_client_to_server,
        m.languages_server_to_client,
    )
    out = b"\x14" + m.cookie
    for names in lists:
        out += _s(",".join(names).encode("ascii"))
    return out + (b"\x01" if m.first_kex_packet_follows else b"\x00") + _pack(m.reserved)


def kexinit_decode_plain(data: bytes) -> KexInit:
    cookie = data[1:17]
    pos = 17
    lists: list[tuple[str, ...]] = []
    for _ in range(10):
        body, pos = _take(data, pos)
        lists.append(tuple(body.decode("ascii").split(",")) if body else ())
    follows = data[pos] != 0
    (reserved,) = _unpack_from(data, pos + 1)
    return _kexinit(cookie, lists, follows, reserved)


def _kexinit(cookie: bytes, lists: list[tuple[str, ...]], follows: bool, reserved: int) -> KexInit:
    make: Any = KexInit  # ten name-lists passed positionally
    return make(cookie, *lists, follows, reserved)  # type: ignore[no-any-return]


def channel_data_encode_plain(m: ChannelData) -> bytes:
    return b"\x5e" + _pack(m.recipient) + _pack(len(m.data)) + m.data


def channel_data_decode_plain(data: bytes) -> ChannelData:
    (recipient,) = _unpack_from(data, 1)
    body, _ = _take(data, 5)
    return ChannelData(recipient, body)


def userauth_encode_plain(m: UserauthRequest) -> bytes:
    return (
        b"\x32"
        + _s(m.user.encode("utf-8"))
        + _s(m.service.encode("ascii"))
        + _s(m.method.encode("ascii"))
        + (b"\x01" if m.has_signature else b"\x00")
        + _s(m.algorithm.encode("ascii"))
        + _s(m.public_key)
        + _s(m.signature)
    )


def userauth_decode_plain(data: bytes) -> UserauthRequest:
    user, pos = _take(data, 1)
    service, pos = _take(data, pos)
    method, pos = _take(data, pos)
    has_signature = data[pos] != 0
    algorithm, pos = _take(data, pos + 1)
    public_key, pos = _take(data, pos)
    signature, pos = _take(data, pos)
    return UserauthRequest(
        user.decode("utf-8"),
        service.decode("ascii"),
        method.decode("ascii"),
        has_signature,
        algorithm.decode("ascii"),
        public_key,
        signature,
    )


# -- paramiko ------------------------------------------------------------------------------


def load_paramiko() -> ModuleType | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecation noise from its cipher imports
            return importlib.import_module("paramiko")
    except ImportError:
        return None


def paramiko_codecs(pm: ModuleType) -> dict[str, Codec]:
    PMessage = pm.Message  # a class, named like one

    def kexinit_encode(m: KexInit) -> bytes:
        p = PMessage()
        p.add_byte(b"\x14")
        p.add_bytes(m.cookie)
        for names in (
            m.kex_algorithms,
            m.server_host_key_algorithms,
            m.encryption_client_to_server,
            m.encryption_server_to_client,
            m.mac_client_to_server,
            m.mac_server_to_client,
            m.compression_client_to_server,
            m.compression_server_to_client,
            m.languages_client_to_server,
            m.languages_server_to_client,
        ):
            p.add_list(names)
        p.add_boolean(m.first_kex_packet_follows)
        p.add_int(m.reserved)
        return bytes(p.asbytes())

    def kexinit_decode(data: bytes) -> KexInit:
        p = PMessage(data)
        p.get_byte()
        cookie = p.get_bytes(16)
        lists = []
        for _ in range(10):
            names = p.get_list()
            # paramiko reads an empty name-list as [""]
            lists.append(tuple(names) if names != [""] else ())
        return _kexinit(cookie, lists, p.get_boolean(), p.get_int())

    def channel_data_encode(m: ChannelData) -> bytes:
        p = PMessage()
        p.add_byte(b"\x5e")
        p.add_int(m.recipient)
        p.add_string(m.data)
        return bytes(p.asbytes())

    def channel_data_decode(data: bytes) -> ChannelData:
        p = PMessage(data)
        p.get_byte()
        return ChannelData(p.get_int(), p.get_binary())

    def userauth_encode(m: UserauthRequest) -> bytes:
        p = PMessage()
        p.add_byte(b"\x32")
        p.add_string(m.user)
        p.add_string(m.service)
        p.add_string(m.method)
        p.add_boolean(m.has_signature)
        p.add_string(m.algorithm)
        p.add_string(m.public_key)
        p.add_string(m.signature)
        return bytes(p.asbytes())

    def userauth_decode(data: bytes) -> UserauthRequest:
        p = PMessage(data)
        p.get_byte()
        return UserauthRequest(
            p.get_text(),
            p.get_text(),
            p.get_text(),
            p.get_boolean(),
            p.get_text(),
            p.get_binary(),
            p.get_binary(),
        )

    return {
        "KEXINIT": (kexinit_encode, kexinit_decode),
        "CHANNEL_DATA 32K": (channel_data_encode, channel_data_decode),
        "USERAUTH_REQUEST": (userauth_encode, userauth_decode),
    }


# -- measuring ---------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    value: Message
    plain_encode: Callable[[Any], bytes]
    plain_decode: Callable[[bytes], Any]


CASES = [
    Case("KEXINIT", KEXINIT, kexinit_encode_plain, kexinit_decode_plain),
    Case("CHANNEL_DATA 32K", CHANNEL_DATA, channel_data_encode_plain, channel_data_decode_plain),
    Case("USERAUTH_REQUEST", USERAUTH, userauth_encode_plain, userauth_decode_plain),
]


def seconds_per_op(fn: Callable[[], object], repeat: int, quick: bool) -> float:
    timer = timeit.Timer(fn)
    if quick:
        number = 200
    else:
        number, _ = timer.autorange()
    return min(timer.repeat(repeat=repeat, number=number)) / number


def check(case: Case, codecs: dict[str, Codec]) -> None:
    """Every implementation must produce and read the very same bytes (not a timing)."""
    wire = case.value.encode()
    cls = type(case.value)
    if cls.decode(wire) != case.value:
        raise SystemExit(f"{case.name}: ssh-wire round trip failed")
    for label, (encode, decode) in codecs.items():
        if encode(case.value) != wire:
            raise SystemExit(f"{case.name}: {label} encodes different bytes")
        if decode(wire) != case.value:
            raise SystemExit(f"{case.name}: {label} decodes a different value")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="best of N timings (default 5)")
    parser.add_argument("--quick", action="store_true", help="tiny run to check the script works")
    args = parser.parse_args(argv)
    repeat = 1 if args.quick else args.repeat

    pm = load_paramiko()
    pm_codecs = paramiko_codecs(pm) if pm is not None else {}
    print(
        f"ssh-wire {wire_version}, Python {platform.python_version()} ({sys.implementation.name})"
    )
    if pm is None:
        print("paramiko: not importable, comparison skipped (hatch run bench:wire has it)")
    else:
        print(f"paramiko {pm.__version__}")
    print()
    header = f"{'message':<18} {'op':<7} {'implementation':<15} {'ops/s':>12} {'MB/s':>9}  ratio"
    print(header)
    print("-" * len(header))

    for case in CASES:
        others: dict[str, Codec] = {"plain struct": (case.plain_encode, case.plain_decode)}
        if case.name in pm_codecs:
            others["paramiko"] = pm_codecs[case.name]
        check(case, others)
        wire = case.value.encode()
        size = len(wire)
        for op in ("encode", "decode"):
            impls = _implementations(case, op, wire, others)
            ours = 0.0
            for label, fn in impls:
                t = seconds_per_op(fn, repeat, args.quick)
                if label == "ssh-wire":
                    ours = t
                ratio = f"ssh-wire/{label} = {ours / t:.2f}" if label in others else ""
                print(
                    f"{case.name:<18} {op:<7} {label:<15} {1 / t:>12,.0f} "
                    f"{size / t / 1e6:>9.1f}  {ratio}"
                )
        print()


def _implementations(
    case: Case, op: str, wire: bytes, others: dict[str, Codec]
) -> list[tuple[str, Callable[[], object]]]:
    value = case.value
    cls = type(value)
    if op == "encode":
        impls: list[tuple[str, Callable[[], object]]] = [("ssh-wire", value.encode)]
        impls.append(("generic path", _bind(_generic_encode, value)))
        impls += [(label, _bind(encode, value)) for label, (encode, _) in others.items()]
        return impls
    impls = [("ssh-wire", _bind(cls.decode, wire))]
    impls.append(("generic path", _bind(_generic_decode, wire)))
    if isinstance(value, ChannelData):
        # The zero-copy path a hand-written fast path beside the schema can take.
        impls.append(("Reader (view)", _bind(_channel_data_view, wire)))
    impls += [(label, _bind(decode, wire)) for label, (_, decode) in others.items()]
    return impls


def _generic_encode(value: Message) -> bytes:
    # Message's own encode_into, not the one generated for the class.
    w = Writer()
    Message.__dict__["encode_into"](value, w)
    return w.getvalue()


def _generic_decode(wire: bytes) -> Message:
    cls = CLASS_BY_NUMBER[wire[0]]
    r = Reader(wire)
    value: Message = Message.__dict__["read_from"].__func__(cls, r)
    r.expect_end()
    return value


CLASS_BY_NUMBER: dict[int, type[Message]] = {
    c.NUMBER: c for c in (KexInit, ChannelData, UserauthRequest)
}


def _bind(fn: Callable[[Any], object], arg: object) -> Callable[[], object]:
    return lambda: fn(arg)


def _channel_data_view(wire: bytes) -> tuple[int, memoryview]:
    r = Reader(wire)
    r.byte("message number")
    recipient = r.uint32("recipient")
    data = r.string_view("data")
    r.expect_end()
    return recipient, data


if __name__ == "__main__":
    main()
