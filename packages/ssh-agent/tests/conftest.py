"""Shared helpers: an in-memory client core <-> server core pair."""

from __future__ import annotations

import pytest

from ssh_agent import AgentClientCore, AgentServerCore, KeyStore
from ssh_agent.client import PendingReply
from ssh_keys import PrivateKey, generate_private_key


class Pair:
    """A client core wired to a server core; ``now`` is the server's clock."""

    def __init__(self, store: KeyStore | None = None, *, forwarded: bool = False) -> None:
        self.store = store if store is not None else KeyStore()
        self.client = AgentClientCore()
        self.server = AgentServerCore(self.store, forwarded=forwarded)
        self.now = 1000.0

    def pump(self) -> None:
        while True:
            out = self.client.data_to_send()
            if out:
                self.server.receive_data(out, self.now)
            back = self.server.data_to_send()
            if back:
                self.client.receive_data(back)
            if not out and not back:
                return

    def call(self, reply: PendingReply[object]) -> object:
        self.pump()
        return reply.result()


@pytest.fixture(scope="session")
def ed_key() -> PrivateKey:
    return generate_private_key("ed25519", comment="ed")


@pytest.fixture(scope="session")
def rsa_key() -> PrivateKey:
    return generate_private_key("rsa", 2048, comment="rsa")


@pytest.fixture(scope="session")
def ec_key() -> PrivateKey:
    return generate_private_key("ecdsa", 256, comment="ec")


@pytest.fixture
def pair() -> Pair:
    return Pair()


@pytest.fixture
def make_pair() -> type[Pair]:
    return Pair
