"""Audit: key lifetimes against requests that waited while output was blocked."""

from __future__ import annotations

from ssh_agent import AgentServerCore, KeyStore
from ssh_agent.protocol import FrameBuffer, SignRequest


def test_waiting_requests_run_at_the_time_they_are_released(ed_key):
    store = KeyStore()
    store.add(ed_key, "", now=1000.0, lifetime=10)  # gone at 1010
    server = AgentServerCore(store, max_output=50)  # one signature fills it
    request = SignRequest(ed_key.public_key.blob, b"data", 0).encode()
    wire = b"".join(len(request).to_bytes(4, "big") + request for _ in range(3))
    server.receive_data(wire, 1000.0)
    assert server.output_blocked
    # The client reads its replies long after the key expired: the requests that waited
    # must not be served by a key that is gone.
    replies = FrameBuffer()
    replies.feed(server.data_to_send(1020.0))
    replies.feed(server.data_to_send(1020.0))
    replies.feed(server.data_to_send(1020.0))
    kinds = []
    while (msg := replies.next_message()) is not None:
        kinds.append(msg[0])
    assert kinds == [14, 5, 5]  # SIGN_RESPONSE, then FAILURE twice
    assert len(store) == 0
