"""The transport core end to end in memory: handshakes, services, rekeying, extensions."""

from __future__ import annotations

import random

import pytest
from transport_pair import (
    Pair,
    connected,
    host_key,
    inject,
    private_key,
    record,
    server_config,
)

from ssh_transport import kex
from ssh_transport.ciphers import SUPPORTED_CIPHERS, cipher_spec
from ssh_transport.config import DEFAULT_SERVER_SIG_ALGS, TransportConfig
from ssh_transport.events import (
    ConnectionTerminated,
    DebugReceived,
    ExtInfoReceived,
    HostKeyReceived,
    KexComplete,
    MessageReceived,
    PongReceived,
    ServiceAccepted,
    ServiceRequested,
)
from ssh_transport.hostkeys import HostKey
from ssh_transport.macs import SUPPORTED_MACS
from ssh_transport.messages import Debug, ServiceAccept, Unimplemented
from ssh_transport.transport import Role, Transport
from ssh_wire import DisconnectReason, LocalProtocolError

AEADS = [c for c in SUPPORTED_CIPHERS if cipher_spec(c).aead]
STREAMS = [c for c in SUPPORTED_CIPHERS if not cipher_spec(c).aead]


def messages(pair: Pair, role: Role) -> list[bytes]:
    return [e.payload for e in pair.of_type(role, MessageReceived)]


def exchange_data(pair: Pair, count: int = 3) -> None:
    """Send messages both ways and check each arrives once, in order."""
    pair.clear()
    c2s = [bytes([94]) + f"c2s {i}".encode() * 7 for i in range(count)]
    s2c = [bytes([94]) + f"s2c {i}".encode() * 5 for i in range(count)]
    for a, b in zip(c2s, s2c, strict=True):
        pair.client.send_message(a)
        pair.server.send_message(b)
    pair.pump()
    assert messages(pair, Role.SERVER) == c2s
    assert messages(pair, Role.CLIENT) == s2c


# --- handshakes ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", kex.supported_kex())
def test_handshake_every_kex(name: str) -> None:
    pair = connected(TransportConfig(kex_algorithms=[name]), server_config(kex_algorithms=[name]))
    assert pair.client.algorithms is not None and pair.client.algorithms.kex == name
    assert pair.server.algorithms == pair.client.algorithms
    assert pair.client.session_id == pair.server.session_id is not None
    assert pair.client.strict_kex and pair.server.strict_kex
    exchange_data(pair)


def test_handshake_events() -> None:
    pair = Pair().handshake()
    client_events = [type(e) for e in pair.events[Role.CLIENT]]
    assert client_events == [HostKeyReceived, KexComplete, ExtInfoReceived]
    # The client's EXT_INFO says it takes another during authentication.
    assert [type(e) for e in pair.events[Role.SERVER]] == [KexComplete, ExtInfoReceived]
    assert pair.server.peer_extensions == {"ext-info-in-auth@openssh.com": b"0"}
    (done,) = pair.of_type(Role.CLIENT, KexComplete)
    assert done.first and done.strict and done.session_id == pair.client.session_id
    assert pair.client.peer_version == pair.server.peer_version == "SSH-2.0-pyssh_0.1"


HOST_KEY_CASES = [
    ("ed25519", False, "ssh-ed25519"),
    ("ecdsa256", False, "ecdsa-sha2-nistp256"),
    ("ecdsa384", False, "ecdsa-sha2-nistp384"),
    ("ecdsa521", False, "ecdsa-sha2-nistp521"),
    ("rsa", False, "rsa-sha2-256"),
    ("rsa", False, "rsa-sha2-512"),
    ("ed25519", True, "ssh-ed25519-cert-v01@openssh.com"),
    ("ecdsa256", True, "ecdsa-sha2-nistp256-cert-v01@openssh.com"),
    ("ecdsa384", True, "ecdsa-sha2-nistp384-cert-v01@openssh.com"),
    ("ecdsa521", True, "ecdsa-sha2-nistp521-cert-v01@openssh.com"),
    ("rsa", True, "rsa-sha2-256-cert-v01@openssh.com"),
    ("rsa", True, "rsa-sha2-512-cert-v01@openssh.com"),
]


@pytest.mark.parametrize(("kind", "cert", "algorithm"), HOST_KEY_CASES, ids=lambda x: str(x))
def test_handshake_every_host_key(kind: str, cert: bool, algorithm: str) -> None:
    hk = host_key(kind, cert)
    pair = Pair(
        TransportConfig(host_key_algorithms=[algorithm], kex_algorithms="curve25519-sha256"),
        server_config([hk]),
    ).handshake()
    (received,) = pair.of_type(Role.CLIENT, HostKeyReceived)
    assert received.algorithm == algorithm
    assert received.key == hk.public_key
    assert pair.client.host_key == hk.public_key
    if cert:
        assert received.key.algorithm == algorithm.replace("rsa-sha2-256", "ssh-rsa").replace(
            "rsa-sha2-512", "ssh-rsa"
        )


def test_server_with_several_keys_follows_client_preference() -> None:
    keys = [host_key("ed25519"), host_key("ecdsa256"), host_key("rsa"), host_key("ed25519", True)]
    for algorithm in ("ecdsa-sha2-nistp256", "rsa-sha2-512", "ssh-ed25519",
                      "ssh-ed25519-cert-v01@openssh.com"):  # fmt: skip
        pair = Pair(TransportConfig(host_key_algorithms=[algorithm]), server_config(keys))
        pair.handshake()
        assert pair.of_type(Role.CLIENT, HostKeyReceived)[0].algorithm == algorithm
    # Default client order: certificates first.
    pair = Pair(server_cfg=server_config(keys)).handshake()
    assert pair.client.algorithms is not None
    assert pair.client.algorithms.host_key == "ssh-ed25519-cert-v01@openssh.com"


def test_server_without_key_for_the_client() -> None:
    pair = Pair(TransportConfig(host_key_algorithms="rsa-sha2-512"), server_config())
    pair.pump()
    for role in Role:
        error = pair.terminated(role).error
        assert error is not None and error.reason == DisconnectReason.KEY_EXCHANGE_FAILED


def test_server_needs_a_host_key() -> None:
    with pytest.raises(ValueError, match="host key"):
        Transport(Role.SERVER, TransportConfig())


def test_certificate_for_another_key_fails() -> None:
    # The certificate names key B but the server signs with key A.
    wrong = HostKey(private_key("ecdsa256"), host_key("ed25519", True).certificate)
    pair = Pair(server_cfg=server_config([wrong]))
    pair.pump()
    error = pair.terminated(Role.CLIENT).error
    assert error is not None and error.reason == DisconnectReason.KEY_EXCHANGE_FAILED
    assert not pair.of_type(Role.CLIENT, HostKeyReceived)


def test_host_key_decision_pending_then_accept() -> None:
    pair = Pair(auto_accept=False)
    pair.pump()
    assert not pair.client.is_established and not pair.server.is_established
    (event,) = pair.of_type(Role.CLIENT, HostKeyReceived)
    assert event.key == host_key("ed25519").public_key
    with pytest.raises(LocalProtocolError):
        Pair().client.accept_host_key()
    pair.client.accept_host_key()
    pair.handshake()


def test_reject_host_key() -> None:
    pair = Pair(auto_accept=False)
    pair.pump()
    pair.client.reject_host_key("unknown key")
    pair.pump()
    local = pair.terminated(Role.CLIENT).error
    remote = pair.terminated(Role.SERVER).error
    assert local is not None and remote is not None
    assert local.reason == remote.reason == DisconnectReason.HOST_KEY_NOT_VERIFIABLE
    assert remote.description == "unknown key" and not remote.local


CIPHER_MAC = [(c, "hmac-sha2-256") for c in AEADS] + [
    (c, m) for c in STREAMS for m in SUPPORTED_MACS
]


@pytest.mark.parametrize(("cipher", "mac"), CIPHER_MAC, ids=lambda x: x)
def test_handshake_every_cipher_and_mac(cipher: str, mac: str) -> None:
    config = TransportConfig(kex_algorithms="curve25519-sha256", ciphers=[cipher], macs=[mac])
    pair = connected(config, server_config(ciphers=[cipher], macs=[mac]))
    algs = pair.client.algorithms
    assert algs is not None
    assert algs.cipher_client_to_server == algs.cipher_server_to_client == cipher
    expected_mac = "<implicit>" if cipher in AEADS else mac
    assert algs.mac_client_to_server == algs.mac_server_to_client == expected_mac
    exchange_data(pair, 2)
    pair.client.start_rekey()
    pair.pump()
    exchange_data(pair, 2)


def test_directions_negotiated_independently() -> None:
    pair = connected(
        TransportConfig(ciphers=["aes128-ctr", "aes256-gcm@openssh.com"], macs=["hmac-sha1"]),
        server_config(ciphers=["aes256-gcm@openssh.com", "aes128-ctr"], macs="+hmac-sha1"),
    )
    assert pair.client.algorithms is not None
    assert pair.client.algorithms.cipher_client_to_server == "aes128-ctr"
    exchange_data(pair)


# --- services and routing --------------------------------------------------------------------


def test_service_request_accept() -> None:
    pair = Pair().handshake()
    pair.clear()
    pair.client.request_service("ssh-userauth")
    pair.pump()
    assert pair.of_type(Role.SERVER, ServiceRequested) == [ServiceRequested("ssh-userauth")]
    assert pair.of_type(Role.CLIENT, ServiceAccepted) == [ServiceAccepted("ssh-userauth")]
    with pytest.raises(LocalProtocolError):
        pair.client.request_service("ssh-userauth")
    with pytest.raises(LocalProtocolError):
        pair.server.request_service("ssh-userauth")


def test_service_requested_before_kex_is_held_back() -> None:
    pair = Pair()
    pair.client.request_service("ssh-userauth")
    pair.handshake()
    assert pair.of_type(Role.CLIENT, ServiceAccepted) == [ServiceAccepted("ssh-userauth")]


def test_unknown_service() -> None:
    pair = Pair().handshake()
    pair.client.request_service("ssh-connection")
    pair.pump()
    for role in Role:
        error = pair.terminated(role).error
        assert error is not None and error.reason == DisconnectReason.SERVICE_NOT_AVAILABLE


def test_unsolicited_service_accept() -> None:
    pair = Pair().handshake()
    inject(pair.server, ServiceAccept("ssh-userauth").encode())
    pair.pump()
    error = pair.terminated(Role.CLIENT).error
    assert error is not None and error.reason == DisconnectReason.PROTOCOL_ERROR


def test_wrong_service_accepted() -> None:
    pair = Pair().handshake()
    pair.client.request_service("ssh-userauth")
    inject(pair.server, ServiceAccept("ssh-connection").encode())
    pair.pump()
    error = pair.terminated(Role.CLIENT).error
    assert error is not None and error.reason == DisconnectReason.PROTOCOL_ERROR


def test_send_message_rules() -> None:
    pair = Pair().handshake()
    with pytest.raises(LocalProtocolError, match="no service"):
        pair.client.send_message(b"\x32")
    with pytest.raises(LocalProtocolError, match="no service"):
        pair.server.send_message(b"\x32")
    pair.open_service()
    for bad in (b"", b"\x05", b"\x31"):
        with pytest.raises(LocalProtocolError):
            pair.client.send_message(bad)


def test_upper_layer_routing() -> None:
    pair = connected()
    sent = [bytes([n]) + b"body" for n in range(50, 128)]
    for payload in sent:
        pair.client.send_message(payload)
        pair.server.send_message(payload)
    pair.pump()
    assert messages(pair, Role.SERVER) == sent
    assert messages(pair, Role.CLIENT) == sent
    assert pair.of_type(Role.CLIENT, MessageReceived)[0].number == 50


def test_large_messages() -> None:
    pair = connected()
    big = b"\x5e" + random.Random(1).randbytes(200_000)
    pair.client.send_message(big)
    pair.server.send_message(big)
    pair.pump()
    assert messages(pair, Role.SERVER) == [big] and messages(pair, Role.CLIENT) == [big]


# --- rekeying ---------------------------------------------------------------------------------


def step_pump(pair: Pair, rng: random.Random, send: dict[Role, list[bytes]]) -> None:
    """Deliver one packet at a time in random order, sending messages in between."""
    pending: dict[Role, list[bytes]] = {Role.CLIENT: [], Role.SERVER: []}
    for _ in range(100_000):
        pair.collect()
        for role in Role:
            if send[role] and rng.random() < 0.5:
                pair.side(role).send_message(send[role].pop(0))
            t = pair.side(role)
            pending[role] += t._out
            t._out.clear()
        movable = [r for r in Role if pending[r]]
        if not movable:
            if not send[Role.CLIENT] and not send[Role.SERVER]:
                return
            continue
        role = rng.choice(movable)
        pair.peer(role).receive_data(pending[role].pop(0))
    raise AssertionError("did not settle")


@pytest.mark.parametrize("initiator", list(Role))
@pytest.mark.parametrize("seed", range(3))
def test_rekey_with_data_flowing(initiator: Role, seed: int) -> None:
    pair = connected()
    rng = random.Random(seed)
    c2s = [bytes([94]) + b"c%d" % i for i in range(60)]
    s2c = [bytes([94]) + b"s%d" % i for i in range(60)]
    send = {Role.CLIENT: list(c2s), Role.SERVER: list(s2c)}
    pair.side(initiator).send_message(send[initiator].pop(0))
    pair.side(initiator).start_rekey()
    step_pump(pair, rng, send)
    for role in Role:
        done = pair.of_type(role, KexComplete)
        assert len(done) == 1 and not done[0].first
        assert done[0].session_id == pair.client.session_id
    assert messages(pair, Role.SERVER) == c2s
    assert messages(pair, Role.CLIENT) == s2c


def test_simultaneous_rekey() -> None:
    pair = connected()
    pair.client.start_rekey()
    pair.server.start_rekey()
    pair.pump()
    for role in Role:
        assert len(pair.of_type(role, KexComplete)) == 1
    exchange_data(pair)


def test_start_rekey_is_a_noop_when_not_open() -> None:
    pair = Pair()
    pair.client.start_rekey()  # first kex still running
    pair.handshake()
    pair.client.start_rekey()
    pair.client.start_rekey()  # already rekeying
    pair.pump()
    assert len(pair.of_type(Role.CLIENT, KexComplete)) == 2


@pytest.mark.parametrize("small_side", list(Role))
def test_rekey_by_bytes(small_side: Role) -> None:
    configs = {Role.CLIENT: TransportConfig(), Role.SERVER: server_config()}
    configs[small_side].rekey_bytes = 16 * 1024
    pair = connected(configs[Role.CLIENT], configs[Role.SERVER], authenticated=True)
    c2s = [bytes([94]) + b"%05d" % i + b"x" * 500 for i in range(200)]
    s2c = [bytes([95]) + b"%05d" % i + b"y" * 300 for i in range(200)]
    step_pump(pair, random.Random(7), {Role.CLIENT: list(c2s), Role.SERVER: list(s2c)})
    rekeys = len(pair.of_type(Role.CLIENT, KexComplete))
    assert rekeys >= 4  # ~160 KB through a 16 KiB limit
    assert len(pair.of_type(Role.SERVER, KexComplete)) == rekeys
    assert pair.server.closed is False and pair.client.closed is False
    assert messages(pair, Role.SERVER) == c2s
    assert messages(pair, Role.CLIENT) == s2c


def test_rekey_by_time() -> None:
    config = TransportConfig(rekey_seconds=100.0, handshake_timeout=30.0)
    pair = Pair(config, server_config(rekey_seconds=None), now=1000.0)
    assert pair.client.get_timer() == 1030.0  # the handshake deadline first
    assert pair.server.get_timer() == 1120.0  # default handshake timeout
    pair.handshake()
    assert pair.client.get_timer() is None  # no automatic rekey before authentication
    pair.open_service().authenticate()
    assert pair.client.get_timer() == 1100.0
    assert pair.server.get_timer() is None
    pair.client.handle_timer(1099.0)
    assert pair.client.data_to_send() == b""
    pair.clear()
    pair.client.handle_timer(1100.0)
    assert pair.client.get_timer() is None  # rekeying
    pair.pump()
    (done,) = pair.of_type(Role.CLIENT, KexComplete)
    assert not done.first
    assert pair.client.get_timer() == 1200.0
    exchange_data(pair)


def test_host_key_replaced_during_rekey() -> None:
    pair = connected()
    from ssh_keys import generate_private_key

    pair.server._handshake.host_keys = {"ssh-ed25519": HostKey(generate_private_key("ed25519"))}
    pair.client.start_rekey()
    pair.pump()
    error = pair.terminated(Role.CLIENT).error
    assert error is not None and error.reason == DisconnectReason.KEY_EXCHANGE_FAILED
    assert "changed" in error.description


def test_peer_rekeying_back_to_back_is_limited() -> None:
    pair = connected()
    for _ in range(20):
        if pair.server.closed:
            break
        pair.client.start_rekey()
        pair.pump()
    error = pair.terminated(Role.SERVER).error
    assert error is not None and error.reason == DisconnectReason.PROTOCOL_ERROR
    assert len(pair.of_type(Role.SERVER, KexComplete)) <= 8


def test_rekeys_with_traffic_between_are_not_a_flood() -> None:
    """Bulk data one way while the other side rekeys often (its byte limit) is legitimate."""
    pair = connected()
    for i in range(12):
        pair.server.start_rekey()
        pair.pump()
        for _ in range(20):
            pair.client.send_message(b"\x5e" + bytes(100))
        pair.pump()
        assert not pair.server.closed and not pair.client.closed, (i, pair.events)
    assert len(pair.of_type(Role.SERVER, KexComplete)) == 12


def test_own_rekeys_are_not_blamed_on_the_peer() -> None:
    pair = connected()
    for _ in range(12):
        pair.server.start_rekey()
        pair.pump()
        if pair.server.closed:
            break
        pair.server.send_message(b"\x5e")
    pair.pump()
    client_error = pair.terminated(Role.CLIENT).error
    assert client_error is not None and client_error.local
    assert client_error.reason == DisconnectReason.PROTOCOL_ERROR
    # The client may complain about the server's rekeys; the server never about the client.
    for event in pair.of_type(Role.SERVER, ConnectionTerminated):
        assert event.error is not None and not event.error.local


# --- transport messages ------------------------------------------------------------------------


def test_ping_pong() -> None:
    pair = connected()
    pair.client.send_ping(b"are you there")
    pair.pump()
    assert pair.of_type(Role.CLIENT, PongReceived) == [PongReceived(b"are you there")]
    with pytest.raises(LocalProtocolError, match="ping"):
        pair.server.send_ping()  # the client announced no extensions


def test_ignore_and_debug() -> None:
    pair = connected()
    log = record(pair.server)
    pair.client.send_ignore(b"padding" * 10)
    inject(pair.client, Debug(True, "hello debug", "").encode())
    pair.pump()
    assert [p[0] for _, p in log] == [2, 4]
    assert pair.of_type(Role.SERVER, DebugReceived) == [DebugReceived(True, "hello debug")]
    assert not pair.server.closed and not pair.events[Role.CLIENT]


def test_ignore_queued_before_kex() -> None:
    pair = Pair()
    pair.client.send_ignore(b"early")
    pair.handshake()
    assert not pair.server.closed


@pytest.mark.parametrize("number", [8, 9, 19, 29, 128, 191, 194, 255])
def test_unimplemented_replies(number: int) -> None:
    pair = connected()
    log = record(pair.client)
    sent_seq = pair.client._send_seq
    inject(pair.client, bytes([number]) + b"whatever")
    pair.pump()
    (reply,) = [p for _, p in log if p[0] == 3]
    assert Unimplemented.decode(reply).sequence == sent_seq
    assert not pair.server.closed and not pair.client.closed


def test_unimplemented_received_is_harmless() -> None:
    pair = connected()
    inject(pair.server, Unimplemented(12345).encode())
    pair.pump()
    assert not pair.client.closed and not pair.events[Role.CLIENT]


def test_ext_info_contents() -> None:
    config = server_config(
        server_sig_algs=("ssh-ed25519", "rsa-sha2-512"), extra_extensions={"no-flow-control": b"p"}
    )
    pair = Pair(server_cfg=config).handshake()
    (info,) = pair.of_type(Role.CLIENT, ExtInfoReceived)
    assert info.extensions == {
        "server-sig-algs": b"ssh-ed25519,rsa-sha2-512",
        "publickey-hostbound@openssh.com": b"0",
        "ping@openssh.com": b"0",
        "no-flow-control": b"p",
    }
    assert pair.client.peer_extensions == info.extensions
    (client_info,) = pair.of_type(Role.SERVER, ExtInfoReceived)
    assert client_info.extensions == {"ext-info-in-auth@openssh.com": b"0"}


def test_ext_info_again_right_before_userauth_success() -> None:
    pair = connected()
    pair.server.send_message(b"\x34")  # USERAUTH_SUCCESS
    pair.pump()
    infos = pair.of_type(Role.CLIENT, ExtInfoReceived)
    assert len(infos) == 1
    assert "server-sig-algs" in infos[0].extensions
    assert [m[0] for m in messages(pair, Role.CLIENT)] == [52]


def test_ext_info_default_sig_algs() -> None:
    pair = Pair().handshake()
    (info,) = pair.of_type(Role.CLIENT, ExtInfoReceived)
    assert info.extensions["server-sig-algs"].decode().split(",") == list(DEFAULT_SERVER_SIG_ALGS)


def test_ext_info_only_once_from_server_after_rekey() -> None:
    pair = connected()
    pair.client.start_rekey()
    pair.pump()
    assert not pair.of_type(Role.CLIENT, ExtInfoReceived)


# --- compression -----------------------------------------------------------------------------


def zlib_pair() -> Pair:
    config = TransportConfig(compression="zlib@openssh.com")
    return connected(config, server_config(compression="zlib@openssh.com"))


def send_measured(pair: Pair, role: Role, payload: bytes) -> int:
    """Send one message from ``role``, deliver it, and return its size on the wire."""
    pair.side(role).send_message(payload)
    data = pair.side(role).data_to_send()
    pair.peer(role).receive_data(data)
    pair.pump()
    return len(data)


def test_delayed_compression_starts_after_userauth_success() -> None:
    pair = zlib_pair()
    assert pair.client.algorithms is not None
    assert pair.client.algorithms.compression_client_to_server == "zlib@openssh.com"
    assert pair.client.algorithms.compression_server_to_client == "zlib@openssh.com"
    payload = b"\x5e" + b"A" * 5000
    assert send_measured(pair, Role.CLIENT, payload) > 5000  # not compressed yet
    assert send_measured(pair, Role.SERVER, payload) > 5000
    # USERAUTH_SUCCESS, uncompressed, after the EXT_INFO that ext-info-in-auth allows
    assert send_measured(pair, Role.SERVER, b"\x34") < 400
    assert [m[0] for m in messages(pair, Role.CLIENT)] == [94, 52]
    assert send_measured(pair, Role.CLIENT, payload) < 200
    assert send_measured(pair, Role.SERVER, payload) < 200
    assert messages(pair, Role.SERVER) == [payload, payload]
    assert messages(pair, Role.CLIENT)[-1] == payload
    exchange_data(pair)


@pytest.mark.parametrize("initiator", list(Role))
def test_compression_survives_rekey(initiator: Role) -> None:
    pair = zlib_pair()
    send_measured(pair, Role.SERVER, b"\x34")
    payload = b"\x5e" + b"B" * 4000
    for _ in range(3):
        pair.side(initiator).start_rekey()
        pair.pump()
        assert not pair.client.closed and not pair.server.closed, pair.events
        exchange_data(pair, 5)
        assert send_measured(pair, Role.CLIENT, payload) < 200
        assert send_measured(pair, Role.SERVER, payload) < 200
        assert messages(pair, Role.SERVER)[-1] == messages(pair, Role.CLIENT)[-1] == payload


def test_compression_rekey_data_flows() -> None:
    pair = zlib_pair()
    send_measured(pair, Role.SERVER, b"\x34")
    send = {
        Role.CLIENT: [b"\x5e" + b"c%d" % i * 50 for i in range(40)],
        Role.SERVER: [b"\x5e" + b"s%d" % i * 50 for i in range(40)],
    }
    expected = {r: list(v) for r, v in send.items()}
    pair.clear()
    pair.client.start_rekey()
    step_pump(pair, random.Random(3), send)
    assert messages(pair, Role.SERVER) == expected[Role.CLIENT]
    assert messages(pair, Role.CLIENT) == expected[Role.SERVER]


def test_legacy_zlib_compresses_from_newkeys() -> None:
    config = TransportConfig(compression="zlib")
    pair = connected(config, server_config(compression="zlib"))
    pair.client.send_message(b"\x5e" + b"C" * 5000)
    data = pair.client.data_to_send()
    assert len(data) < 200
    pair.server.receive_data(data)
    pair.collect()
    assert messages(pair, Role.SERVER) == [b"\x5e" + b"C" * 5000]


# --- timeouts, close, EOF ----------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_handshake_timeout(role: Role) -> None:
    pair = Pair(TransportConfig(handshake_timeout=10), server_config(handshake_timeout=10))
    t = pair.side(role)
    assert t.get_timer() == 10
    t.handle_timer(9.9)
    assert not t.closed
    t.handle_timer(10)
    assert t.closed and t.get_timer() is None
    pair.collect()
    error = pair.terminated(role).error
    assert error is not None and error.local
    assert error.reason == DisconnectReason.KEY_EXCHANGE_FAILED
    assert "timed out" in error.description


def test_handshake_timeout_waiting_for_host_key_decision() -> None:
    pair = Pair(TransportConfig(handshake_timeout=10), auto_accept=False)
    pair.pump()
    pair.client.handle_timer(10)
    pair.pump()
    error = pair.terminated(Role.CLIENT).error
    assert error is not None and error.reason == DisconnectReason.KEY_EXCHANGE_FAILED
    remote = pair.terminated(Role.SERVER).error
    assert remote is not None and remote.reason == DisconnectReason.KEY_EXCHANGE_FAILED


def test_no_handshake_timeout_after_kex() -> None:
    pair = Pair(TransportConfig(handshake_timeout=10, rekey_seconds=None)).handshake()
    assert pair.client.get_timer() is None
    pair.client.handle_timer(1e9)
    assert not pair.client.closed


def test_no_timeout_configured() -> None:
    t = Transport(Role.CLIENT, TransportConfig(handshake_timeout=None))
    assert t.get_timer() is None


@pytest.mark.parametrize("role", list(Role))
def test_close(role: Role) -> None:
    pair = connected()
    pair.side(role).close(DisconnectReason.BY_APPLICATION, "bye")
    pair.pump()
    assert pair.terminated(role).error is None
    remote = pair.terminated(pair.peer(role).role).error
    assert remote is not None
    assert remote.reason == DisconnectReason.BY_APPLICATION
    assert remote.description == "bye" and not remote.local
    with pytest.raises(LocalProtocolError):
        pair.side(role).send_message(b"\x5e")
    pair.side(role).close()  # idempotent
    assert len(pair.of_type(role, ConnectionTerminated)) == 1


@pytest.mark.parametrize("role", list(Role))
def test_close_during_handshake(role: Role) -> None:
    pair = Pair()
    pair.side(role).close()
    pair.pump()
    remote = pair.terminated(pair.peer(role).role).error
    assert remote is not None and remote.reason == DisconnectReason.BY_APPLICATION


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("when", ["version", "kex", "open"])
def test_eof(role: Role, when: str) -> None:
    pair = Pair()
    if when == "kex":
        pair.side(role).receive_data(pair.peer(role).data_to_send())
    elif when == "open":
        pair.handshake()
    pair.clear()
    pair.side(role).receive_data(b"")
    pair.collect()
    error = pair.terminated(role).error
    assert error is not None and error.reason == DisconnectReason.CONNECTION_LOST
    assert pair.side(role).closed
    pair.side(role).receive_data(b"more")  # ignored once closed
    assert len(pair.of_type(role, ConnectionTerminated)) == 1


@pytest.mark.parametrize("role", list(Role))
def test_corrupted_packet_is_a_mac_error(role: Role) -> None:
    pair = connected()
    sender = pair.peer(role)
    sender.send_message(b"\x5e" + b"x" * 100)
    data = bytearray(sender.data_to_send())
    data[20] ^= 0x01
    pair.side(role).receive_data(bytes(data))
    pair.collect()
    error = pair.terminated(role).error
    assert error is not None and error.reason == DisconnectReason.MAC_ERROR
