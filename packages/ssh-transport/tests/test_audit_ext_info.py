"""Audit: a server may send EXT_INFO again before USERAUTH_SUCCESS (RFC 8308 2.4), but
repeated EXT_INFOs with ever new names must not grow the client's ``peer_extensions``
without limit: past MAX_EXTENSIONS names in all, the client disconnects."""

from __future__ import annotations

from transport_pair import Pair

from ssh_transport.messages import MAX_EXTENSIONS, ExtInfo


def test_repeated_ext_info_with_new_names_is_bounded() -> None:
    pair = Pair().handshake().open_service()
    client = pair.client
    for batch in range(200):
        names = {f"x{batch}-{i}@example.org": b"v" * 1000 for i in range(MAX_EXTENSIONS)}
        pair.server._send_or_queue(ExtInfo.from_dict(names).encode())  # no public API
        pair.pump()
        if client.closed:
            break
    assert client.closed
    assert len(client.peer_extensions) <= 2 * MAX_EXTENSIONS


def test_a_second_ext_info_before_success_still_works() -> None:
    pair = Pair().handshake().open_service()
    pair.server._send_or_queue(ExtInfo.from_dict({"server-sig-algs": b"ssh-ed25519"}).encode())
    pair.pump()
    assert not pair.client.closed
    assert pair.client.peer_extensions["server-sig-algs"] == b"ssh-ed25519"
