"""When rekeying happens, and what happens when the peer will not rekey."""

from __future__ import annotations

from transport_pair import connected, inject

from ssh_transport import KexComplete, KexFailed, Role, TransportConfig
from ssh_transport.handshake import cipher_rekey_limit
from ssh_transport.messages import Unimplemented
from ssh_transport.negotiation import Algorithms


def algorithms(cipher: str) -> Algorithms:
    return Algorithms("curve25519-sha256", "ssh-ed25519", cipher, cipher, "<implicit>",
                      "<implicit>", "none", "none")  # fmt: skip


def test_rfc4344_limit_for_16_byte_blocks_and_1_gib_for_8_byte_blocks() -> None:
    limit = cipher_rekey_limit
    assert limit(algorithms("aes128-gcm@openssh.com")) == 16 << 32
    assert limit(algorithms("chacha20-poly1305@openssh.com")) == 1 << 30


def test_no_automatic_rekey_before_authentication() -> None:
    pair = connected(TransportConfig(rekey_bytes=4096))
    pair.client.send_ignore(b"x" * 10_000)
    pair.client.send_ignore(b"x" * 10_000)
    pair.pump()
    assert pair.of_type(Role.CLIENT, KexComplete) == []
    pair.authenticate()
    pair.client.send_ignore(b"x")
    pair.pump()
    assert len(pair.of_type(Role.CLIENT, KexComplete)) == 1


def test_unimplemented_for_our_kexinit_fails_at_once() -> None:
    pair = connected()
    seq = pair.client._send_seq
    pair.client.start_rekey()
    pair.client.data_to_send()  # the KEXINIT never reaches the server
    inject(pair.server, Unimplemented(seq).encode())
    pair.pump()
    error = pair.terminated(Role.CLIENT).error
    assert isinstance(error, KexFailed)


def test_peer_rekeys_with_traffic_between_are_not_a_flood() -> None:
    pair = connected(authenticated=True)
    for _ in range(12):
        pair.client.send_ignore(b"y" * 70_000)  # more than 64 KiB between exchanges
        pair.pump()
        pair.server.start_rekey()
        pair.pump()
    assert not pair.client.closed
    assert len(pair.of_type(Role.CLIENT, KexComplete)) == 12


def test_back_to_back_peer_rekeys_are_refused() -> None:
    pair = connected(authenticated=True)
    for _ in range(12):
        pair.server.start_rekey()
        pair.pump()
    assert pair.client.closed
    assert "key exchanges" in (pair.terminated(Role.CLIENT).error or Exception()).args[0]


def test_both_sides_know_the_first_exchange_host_key() -> None:
    pair = connected()
    assert pair.server.host_key is not None
    assert pair.server.host_key == pair.client.host_key
    first = pair.server.host_key
    pair.client.start_rekey()
    pair.pump()
    assert pair.server.host_key is first
