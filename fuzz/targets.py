"""Fuzz targets: one function per parser or core, each taking the fuzzer's bytes.

A target returns normally or raises one of the errors the code documents for bad input
(``ALLOWED``); anything else is a crash. Targets also check invariants a bug would break:
a decoded message re-encodes to something that decodes to the same message, buffers stay
within their limits. Every target runs without atheris too (tests/fuzz replays the seed
corpus and every saved crash through the same functions), so a crash found by fuzzing
becomes a regular test by dropping its file into ``fuzz/regressions/<target>/``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Callable, Iterator
from typing import Any

from ssh_wire import DecodeError, Message

Target = Callable[[bytes], None]
TARGETS: dict[str, Target] = {}


def target(fn: Target) -> Target:
    TARGETS[fn.__name__] = fn
    return fn


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


# -- ssh-wire: every message schema of every layer --------------------------------------


def _subclasses(cls: type[Message]) -> Iterator[type[Message]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


@functools.cache
def _message_classes() -> tuple[type[Message], ...]:
    # Importing the message modules registers their schemas as Message subclasses: all
    # of them here, so the first byte picks the same schema whatever ran before.
    import ssh_agent.protocol  # noqa: F401
    import ssh_auth.messages  # noqa: F401
    import ssh_connection.messages  # noqa: F401
    import ssh_sftp.messages  # noqa: F401
    import ssh_transport.messages  # noqa: F401

    # dataclass(slots=True) leaves the pre-slots class object among the subclasses: only
    # the compiled one (with a plan) is the schema.
    found = {
        c
        for c in _subclasses(Message)
        if getattr(c, "NUMBER", None) is not None and "_plan" in vars(c)
    }
    return tuple(sorted(found, key=lambda c: (c.__module__, c.__qualname__)))


@target
def wire_messages(data: bytes) -> None:
    """The first byte picks a schema; the rest, after that schema's number, is decoded."""
    if not data:
        return
    classes = _message_classes()
    cls = classes[data[0] % len(classes)]
    payload = bytes([cls.NUMBER]) + data[1:]
    try:
        msg = cls.decode(payload)
    except DecodeError:
        return
    again = cls.decode(msg.encode())
    assert again == msg, (cls, msg, again)


# -- ssh-keys: key formats, certificates, host and key files ----------------------------


@target
def public_key_blob(data: bytes) -> None:
    from ssh_keys import KeyFormatError, parse_public_key_blob

    try:
        key = parse_public_key_blob(data)
    except KeyFormatError:
        return
    assert parse_public_key_blob(key.blob) == key


@target
def public_key_text(data: bytes) -> None:
    """One-line OpenSSH keys, RFC 4716 and PEM public keys: whatever load_public_key takes."""
    from ssh_keys import KeyFormatError, load_public_key

    try:
        load_public_key(data)
    except KeyFormatError:
        return


@target
def private_key(data: bytes) -> None:
    """OpenSSH, PEM (PKCS#1, PKCS#8, SEC1) and PuTTY private key files, with a passphrase
    so encrypted ones get as far as the decryption (bcrypt rounds capped low)."""
    from ssh_keys import KeyFormatError, PassphraseRequired, WrongPassphrase, load_private_key

    try:
        load_private_key(data, b"fuzz", max_rounds=4)
    except (KeyFormatError, PassphraseRequired, WrongPassphrase):
        return


def _armor(label: str, body: bytes) -> bytes:
    import base64

    text = base64.b64encode(body).decode()
    lines = [text[i : i + 70] for i in range(0, len(text), 70)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""]).encode()


def _unarmor(data: bytes) -> bytes:
    import base64

    lines = data.decode().strip().splitlines()
    return base64.b64decode("".join(lines[1:-1]))


@target
def openssh_private_binary(data: bytes) -> None:
    """The binary inside an OpenSSH private key file's armour: armoured here, so mutations
    reach the key structure instead of breaking the base64."""
    private_key(_armor("OPENSSH PRIVATE KEY", data))


@target
def ppk(data: bytes) -> None:
    from ssh_keys import KeyFormatError, PassphraseRequired, WrongPassphrase, load_ppk

    try:
        load_ppk(data, b"fuzz")
    except (KeyFormatError, PassphraseRequired, WrongPassphrase):
        return


@target
def certificate(data: bytes) -> None:
    from ssh_keys import (
        Certificate,
        CertificateInvalid,
        KeyFormatError,
        SignatureInvalid,
        parse_public_key_blob,
    )

    try:
        key = parse_public_key_blob(data)
    except KeyFormatError:
        return
    if isinstance(key, Certificate):
        try:
            key.verify_ca_signature()
        except (CertificateInvalid, KeyFormatError, SignatureInvalid):
            return


@target
def known_hosts(data: bytes) -> None:
    from ssh_keys import KnownHosts, parse_public_key_blob

    hosts = KnownHosts.from_text(_text(data))
    probe = parse_public_key_blob(_probe_key())
    hosts.lookup("host.example", 2222, ["10.0.0.1"])
    hosts.check("10.0.0.1", 22, probe)
    # What parsed must survive a round trip through the text it writes.
    assert len(KnownHosts.from_text(hosts.to_text())) == len(hosts)


@target
def authorized_keys(data: bytes) -> None:
    from ssh_keys import AuthorizedKeys, AuthorizedKeysError, KeyFormatError

    try:
        AuthorizedKeys.from_text(_text(data))
    except (AuthorizedKeysError, KeyFormatError):
        return
    AuthorizedKeys.from_text(_text(data), strict=False)


@target
def sshsig(data: bytes) -> None:
    from ssh_keys import KeyFormatError, SignatureInvalid, parse_signature, sshsig_verify

    try:
        sig = parse_signature(data)
    except (KeyFormatError, SignatureInvalid):
        return
    try:
        sshsig_verify(b"message", sig, "file")
    except (SignatureInvalid, KeyFormatError):
        return


@target
def sshsig_binary(data: bytes) -> None:
    """The blob inside an SSHSIG armour, decoded and verified."""
    from ssh_keys import KeyFormatError, SignatureInvalid, SSHSignature, sshsig_verify

    try:
        sig = SSHSignature.decode(data)
        sshsig_verify(b"message", sig, "file")
    except (KeyFormatError, SignatureInvalid):
        return


@target
def allowed_signers(data: bytes) -> None:
    from ssh_keys import AllowedSigners, KeyFormatError

    try:
        AllowedSigners.from_text(_text(data))
    except KeyFormatError:
        return


@target
def krl(data: bytes) -> None:
    from ssh_keys import (
        KeyFormatError,
        is_krl,
        parse_krl,
        parse_public_key_blob,
        parse_revoked_keys_text,
    )

    try:
        revoked = parse_krl(data) if is_krl(data) else parse_revoked_keys_text(_text(data))
    except KeyFormatError:
        return

    revoked.is_revoked(parse_public_key_blob(_probe_key()))


@functools.cache
def _probe_key() -> bytes:
    from ssh_keys import generate_private_key

    return generate_private_key("ed25519").public_key.blob


# -- configuration files ------------------------------------------------------------------


@target
def ssh_config(data: bytes) -> None:
    from ssh_connection.config import ConfigError, LocalContext, SSHConfig

    ctx = LocalContext(user="me", home="/nonexistent-home", uid=1000, hostname="box", env={})
    try:
        SSHConfig.from_text(_text(data), context=ctx).resolve("me@host.example")
    except ConfigError:
        return


@target
def sshd_config(data: bytes) -> None:
    from ssh_connection.sshd_config import SshdConfigError, parse_sshd_config

    try:
        config = parse_sshd_config(
            _text(data), read_text=lambda path: "", glob=lambda pattern: [], cwd="/"
        )
        config.settings()
        config.for_connection(user="me", host="host.example", address="10.0.0.1")
    except SshdConfigError:
        return


# -- the agent core ---------------------------------------------------------------------


@target
def agent_server(data: bytes) -> None:
    """A client's byte stream into the agent core, in chunks the data's first byte sizes."""
    from ssh_agent.keystore import KeyStore
    from ssh_agent.server import AgentServerCore

    core = AgentServerCore(KeyStore(rng=_seeded(3)), clock=lambda: 0.0)
    _feed(data, lambda chunk: core.receive_data(chunk, 0.0), lambda: core.closed)
    core.data_to_send(0.0)
    while core.next_event() is not None:
        pass
    assert core.internal_errors == 0


def _feed(data: bytes, receive: Callable[[bytes], None], closed: Callable[[], bool]) -> None:
    size = 1 + (data[0] if data else 0)
    for i in range(1, len(data), size):
        if closed():
            return
        receive(data[i : i + size])


def _seeded(seed: int) -> Callable[[int], bytes]:
    return lambda n: hashlib.shake_256(b"%d:%d" % (seed, n)).digest(n)


# -- the transport and the whole stack ----------------------------------------------------


def _fuzz_stream(role_name: str, data: bytes, *, after_kex: bool) -> None:
    from ssh_transport import ConnectionTerminated, Role
    from ssh_wire import DisconnectError, LocalProtocolError

    stack = stack_module()
    role = Role(role_name)
    peer = Role.SERVER if role is Role.CLIENT else Role.CLIENT
    if after_kex:
        recorded = stack.record()[peer]
        data = recorded[: stack.after_first_newkeys(recorded)] + data
    core = stack.side(role)
    core.data_to_send()
    for piece in stack.packets(data):
        core.receive_data(piece)
        while (event := core.next_event()) is not None:
            if isinstance(event, ConnectionTerminated):
                assert event.error is None or isinstance(event.error, DisconnectError), event
            elif not core.closed:
                # The scripted application may ask for something the state forbids.
                with contextlib.suppress(LocalProtocolError):
                    stack.react(core, event)
        core.data_to_send()
        if core.closed:
            return


def stack_module() -> Any:
    import stack  # fuzz/stack.py, beside this file

    return stack


@target
def transport_client(data: bytes) -> None:
    """A server's bytes from the very start (version line, key exchange) into a client."""
    _fuzz_stream("client", data, after_kex=False)


@target
def transport_server(data: bytes) -> None:
    _fuzz_stream("server", data, after_kex=False)


@target
def stack_client(data: bytes) -> None:
    """After a real key exchange (null cipher): a server's auth and connection messages
    into a client's transport + AuthClient + ConnectionCore."""
    _fuzz_stream("client", data, after_kex=True)


@target
def stack_server(data: bytes) -> None:
    """After a real key exchange: a client's auth and connection messages into a
    server's transport + AuthServer + ConnectionCore."""
    _fuzz_stream("server", data, after_kex=True)


# -- ssh-sftp: both cores -------------------------------------------------------------


def sftp_module() -> Any:
    import sftp_session  # fuzz/sftp_session.py, beside this file

    return sftp_session


@target
def sftp_server(data: bytes) -> None:
    """A client's byte stream, in chunks the first byte sizes, into SFTPServerCore
    answering from LocalFileSystem in a fresh directory; then EOF. The session may only
    end with a RemoteProtocolError, every open handle closed."""
    from ssh_sftp.server import SFTPServerCore, answer_inline
    from ssh_wire import RemoteProtocolError

    session = sftp_module()
    core = SFTPServerCore(max_in_flight=8)
    with session.local_filesystem() as fs:

        def receive(chunk: bytes) -> None:
            core.receive_data(chunk)
            answer_inline(core, fs)
            out = core.data_to_send()
            assert len(out) <= 2 * core.max_request_length * core.max_in_flight, len(out)

        _feed(data, receive, lambda: core.ended)
        if not core.ended:
            core.receive_data(b"")
        assert answer_inline(core, fs)
        core.data_to_send()
        assert core.error is None or isinstance(core.error, RemoteProtocolError), core.error
        assert not core._handles, "handles left open after the session ended"


@target
def sftp_client(data: bytes) -> None:
    """A server's byte stream, split at its length prefixes, into SFTPClientCore that
    sends the scripted requests phase by phase as replies come; then EOF. Every reply
    ends as a value or an SFTPError, and none is left waiting."""
    from ssh_sftp import SFTPClientCore, SFTPError

    session = sftp_module()
    core = SFTPClientCore()
    started = core.start()
    core.data_to_send()
    script = session.Script(core)
    for piece in session.frames(data):
        core.receive_data(piece)
        if started.done:
            script.step()
        core.data_to_send()
    core.receive_data(b"")
    assert core.waiting == 0 and core.error is not None
    for reply in [started, *script.replies]:
        assert reply.done
        with contextlib.suppress(SFTPError):
            reply.result()


# -- seeds: valid inputs the fuzzer starts from (built at run time, not stored) ------------

SEEDS: dict[str, Callable[[], list[bytes]]] = {}


def seeds(name: str) -> Callable[[Callable[[], list[bytes]]], Callable[[], list[bytes]]]:
    def register(fn: Callable[[], list[bytes]]) -> Callable[[], list[bytes]]:
        SEEDS[name] = fn
        return fn

    return register


@functools.cache
def _keys() -> tuple[object, ...]:
    from ssh_keys import Ed25519PrivateKey, generate_private_key

    return (
        Ed25519PrivateKey.from_seed(bytes(range(32)), "seed"),
        generate_private_key("ecdsa", 256),
        generate_private_key("rsa", 1024 + 1024),
    )


@seeds("wire_messages")
def _seed_messages() -> list[bytes]:
    # A zero-filled body decodes for most schemas; the first byte selects the schema.
    classes = _message_classes()
    return [bytes([i]) + bytes(24) for i in range(len(classes))]


@seeds("public_key_blob")
def _seed_blobs() -> list[bytes]:
    return [k.public_key.blob for k in _keys()]


@seeds("certificate")
def _seed_certs() -> list[bytes]:
    from ssh_keys import sign_certificate

    ca, user = _keys()[0], _keys()[1]
    cert = sign_certificate(ca, user.public_key, key_id="seed", principals=["u"])
    return [cert.blob]


@seeds("public_key_text")
def _seed_public_text() -> list[bytes]:
    from ssh_keys.pem import encode_pem_public_key
    from ssh_keys.rfc4716 import encode_rfc4716_public_key

    out = []
    for k in _keys():
        pub = k.public_key
        out.append(pub.to_line("seed").encode())
        out.append(encode_rfc4716_public_key(pub, "seed").encode())
        out.append(encode_pem_public_key(pub))
    return out


@seeds("private_key")
def _seed_private() -> list[bytes]:
    from ssh_keys import serialize_private_key

    out = []
    for k in _keys():
        out.append(serialize_private_key(k, "openssh"))
        out.append(serialize_private_key(k, "openssh", b"fuzz", rounds=1))
        if k is not _keys()[0]:  # Ed25519 has no traditional PEM form
            out.append(serialize_private_key(k, "pem"))
        out.append(serialize_private_key(k, "pkcs8"))
    return out


@seeds("openssh_private_binary")
def _seed_private_binary() -> list[bytes]:
    from ssh_keys import serialize_private_key

    out = []
    for k in _keys():
        out.append(_unarmor(serialize_private_key(k, "openssh")))
        out.append(_unarmor(serialize_private_key(k, "openssh", b"fuzz", rounds=1)))
    return out


@seeds("sshsig_binary")
def _seed_sshsig_binary() -> list[bytes]:
    return [_unarmor(s) for s in _seed_sshsig()]


@seeds("ppk")
def _seed_ppk() -> list[bytes]:
    from ssh_keys import dump_ppk

    return [dump_ppk(k) for k in _keys()] + [dump_ppk(_keys()[0], b"fuzz", argon2_memory=8)]


@seeds("known_hosts")
def _seed_known_hosts() -> list[bytes]:
    from ssh_keys import hash_host

    lines = [k.public_key.to_line() for k in _keys()]
    text = "\n".join(
        [
            f"host.example,10.0.0.1 {lines[0]}",
            f"[host.example]:2222 {lines[1]}",
            f"{hash_host('host.example')} {lines[2]}",
            f"@cert-authority *.example {lines[0]}",
            f"@revoked * {lines[1]}",
            f"!bad.example,*.example {lines[2]}",
        ]
    )
    return [text.encode()]


@seeds("authorized_keys")
def _seed_authorized_keys() -> list[bytes]:
    lines = [k.public_key.to_line("c") for k in _keys()]
    text = "\n".join(
        [
            lines[0],
            f'command="echo hi",no-pty,from="10.*,!10.1.*" {lines[1]}',
            f'restrict,port-forwarding,permitopen="host:22",permitlisten="2222" {lines[2]}',
            f'cert-authority,principals="a,b",environment="A=b",expiry-time="20300101" {lines[0]}',
        ]
    )
    return [text.encode()]


@seeds("sshsig")
def _seed_sshsig() -> list[bytes]:
    from ssh_keys import sshsig_sign

    return [sshsig_sign(b"message", _keys()[0], "file").encode()]


@seeds("allowed_signers")
def _seed_allowed_signers() -> list[bytes]:
    line = _keys()[0].public_key.to_line()
    return [f'u@example,*@x namespaces="file",valid-after="20200101" {line}\n'.encode()]


@seeds("krl")
def _seed_krl() -> list[bytes]:
    from ssh_keys import KRL_MAGIC

    header = KRL_MAGIC + (1).to_bytes(4, "big") + (7).to_bytes(8, "big") + bytes(16)
    header += bytes(4) + (4).to_bytes(4, "big") + b"seed"
    text = "\n".join(k.public_key.to_line() for k in _keys()).encode()
    return [header, text]


@seeds("ssh_config")
def _seed_ssh_config() -> list[bytes]:
    return [
        b"Host *.example !bad.example\n  HostName %h.internal\n  Port 2222\n  User u\n"
        b"Match user u host *.internal\n  IdentityFile ~/.ssh/id_%r\n  ProxyJump a@b:22,c\n"
        b"Host *\n  Ciphers +aes128-cbc\n  KexAlgorithms -curve25519-sha256\n"
        b"  LocalForward 8080 localhost:80\n  SetEnv A=b\n  ServerAliveInterval 5\n"
    ]


@seeds("sshd_config")
def _seed_sshd_config() -> list[bytes]:
    return [
        b"Port 2222\nListenAddress 127.0.0.1:2200\nHostKey /k\nAuthorizedKeysFile %h/.ssh/a %%\n"
        b"PasswordAuthentication no\nAllowUsers me u@10.0.0.*\nMaxStartups 10:30:100\n"
        b"Match User me Address 10.0.0.0/8\n  ForceCommand echo\n  PermitTTY no\n"
        b"Match all\n  AllowTcpForwarding local\n  PermitOpen host:22 any\n"
    ]


@seeds("agent_server")
def _seed_agent() -> list[bytes]:
    from ssh_agent.protocol import frame

    # First byte: the chunk size; then framed requests: list keys, sign, lock, extension.
    requests = [b"\x0b", b"\x0d" + bytes(12), b"\x16\x00\x00\x00\x01x", b"\x1b\x00\x00\x00\x04test"]
    return [b"\x07" + b"".join(frame(r) for r in requests)]


def _stream_seed(role: str, after_kex: bool) -> list[bytes]:
    from ssh_transport import Role

    stack = stack_module()
    peer = Role.CLIENT if Role(role) is Role.SERVER else Role.SERVER
    recorded = stack.record()[peer]
    return [recorded[stack.after_first_newkeys(recorded) :] if after_kex else recorded]


SEEDS["transport_client"] = lambda: _stream_seed("client", False)
SEEDS["transport_server"] = lambda: _stream_seed("server", False)
SEEDS["stack_client"] = lambda: _stream_seed("client", True)
SEEDS["stack_server"] = lambda: _stream_seed("server", True)

SEEDS["sftp_server"] = lambda: [
    b"\x3f" + sftp_module().record()[0],
    b"\x00" + sftp_module().record()[0],
]
SEEDS["sftp_client"] = lambda: [sftp_module().record()[1]]
