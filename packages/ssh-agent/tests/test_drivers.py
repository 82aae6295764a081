"""The blocking and asyncio drivers over a real Unix socket (our client, our agent)."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import threading
from collections.abc import Iterator

import pytest

from ssh_agent import AgentFailure, ConfirmationRequested, KeyStore
from ssh_agent.aio import AsyncAgentClient
from ssh_agent.sync import AgentClient, AgentServer, bind_unix_listener
from ssh_keys import AsyncSigner, Signer, read_public_key_file


class Running:
    def __init__(self, tmp_path, confirm=lambda e: True) -> None:
        self.path = str(tmp_path / "agent.sock")
        self.asked: list[ConfirmationRequested] = []

        def ask(event: ConfirmationRequested) -> bool:
            self.asked.append(event)
            return confirm(event)

        self.server = AgentServer(self.path, KeyStore(), confirm=ask)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(5)
        assert not self.thread.is_alive()


@pytest.fixture
def agent(tmp_path) -> Iterator[Running]:
    r = Running(tmp_path)
    yield r
    r.stop()


def test_socket_is_private(agent):
    mode = os.stat(agent.path).st_mode
    assert stat.S_ISSOCK(mode)
    assert stat.S_IMODE(mode) == 0o600


def test_listener_refuses_shared_directory(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    from ssh_agent import AgentError

    with pytest.raises(AgentError):
        bind_unix_listener(str(shared / "s"))


def test_sync_client_full_cycle(agent, ed_key, rsa_key):
    with AgentClient.connect(agent.path) as client:
        client.add(ed_key, "one")
        client.add(rsa_key, lifetime=60)
        keys = client.list_identities()
        assert [k.comment for k in keys] == ["one", "rsa"]
        assert all(isinstance(k, Signer) for k in keys)
        rsa = keys[1]
        assert rsa.algorithms == ("rsa-sha2-512", "rsa-sha2-256")
        for alg in rsa.algorithms:
            sig = rsa.sign(b"msg", alg)
            rsa_key.public_key.verify(b"msg", sig)
            assert sig[4 : 4 + len(alg)] == alg.encode()
        keys[0].public_key.verify(b"m", keys[0].sign(b"m"))
        client.remove(ed_key.public_key)
        assert len(client.list_identities()) == 1
        client.lock("pw")
        assert client.list_identities() == []
        with pytest.raises(AgentFailure):
            client.unlock("nope")
        client.unlock("pw")
        assert "session-bind@openssh.com" in client.extensions()
        client.remove_all()
        assert client.identities() == []


def test_sha1_only_when_named_and_key_lines_accepted(agent, rsa_key, tmp_path):
    pub = tmp_path / "id_rsa.pub"
    pub.write_text(rsa_key.public_key.to_line("rsa") + "\n")
    line = read_public_key_file(pub)  # a PublicKeyLine, as a user would pass it
    with AgentClient.connect(agent.path) as client:
        client.add(rsa_key)
        (key,) = client.list_identities()
        assert "ssh-rsa" not in key.algorithms
        assert key.legacy_algorithms == ("ssh-rsa",)
        sig = key.sign(b"m", "ssh-rsa")
        assert sig[4:11] == b"ssh-rsa"
        rsa_key.public_key.verify(b"m", sig, allow_sha1=True)
        assert client.sign(line, b"m")[4:16] == b"rsa-sha2-512"
        with pytest.raises(TypeError, match="PublicKey or PublicKeyLine, not str"):
            client.sign("id_rsa.pub", b"m")  # type: ignore[arg-type]
        client.remove(line)
        assert client.identities() == []


def test_confirmation_goes_through_callback(tmp_path, ed_key):
    r = Running(tmp_path, confirm=lambda e: e.comment == "yes")
    try:
        with AgentClient.connect(r.path) as client:
            client.add(ed_key, "yes", confirm=True)
            [key] = client.list_identities()
            ed_key.public_key.verify(b"d", key.sign(b"d"))
            client.add(ed_key, "no", confirm=True)
            with pytest.raises(AgentFailure):
                key.sign(b"d")
        assert [e.comment for e in r.asked] == ["yes", "no"]
    finally:
        r.stop()


def test_many_clients_and_abrupt_disconnects(agent, ed_key):
    with AgentClient.connect(agent.path) as c:
        c.add(ed_key)
    for _ in range(20):
        s = socket.socket(socket.AF_UNIX)
        s.connect(agent.path)
        s.sendall(b"\x00\x00\x00\x05\x0d\x00")  # half a request, then gone
        s.close()
    with AgentClient.connect(agent.path) as c:
        assert len(c.list_identities()) == 1


def test_oversized_message_closes_connection(agent):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(agent.path)
    s.sendall((256 * 1024 + 1).to_bytes(4, "big") + b"\x0b")
    assert s.recv(10) == b""
    s.close()


def test_async_client(agent, ec_key):
    async def main() -> None:
        async with await AsyncAgentClient.connect(agent.path) as client:
            await client.add(ec_key, "async")
            [key] = await client.list_identities()
            assert isinstance(key, AsyncSigner)
            sig = await key.sign(b"payload")
            ec_key.public_key.verify(b"payload", sig)
            await client.lock(b"x")
            assert await client.list_identities() == []
            await client.unlock(b"x")
            await client.remove(key)
            assert await client.identities() == []

    asyncio.run(main())


# Whole-suite runs only (twice on 2026-12-02, never in a module run): the agent stops
# answering with requests still unread. Open in issue 11's note; retried once meanwhile.
@pytest.mark.wedge_retry
def test_pipelining_client_gets_every_reply(agent, ed_key):
    # 64k requests in flight while replies are read: the agent pauses reading when
    # its replies wait (bounded memory, see test_server) and loses none.
    with AgentClient.connect(agent.path) as c:
        c.add(ed_key, "k" * 100)
    count = 65536
    request = b"\x00\x00\x00\x01\x0b"
    received = bytearray()
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(30)
        s.connect(agent.path)
        sender = threading.Thread(target=s.sendall, args=(request * count,))
        sender.start()
        reply_len = None
        while reply_len is None or len(received) < reply_len * count:
            chunk = s.recv(1 << 20)
            assert chunk, "agent closed the connection"
            received += chunk
            if reply_len is None and len(received) >= 4:
                reply_len = 4 + int.from_bytes(received[:4], "big")
        sender.join(30)
        assert not sender.is_alive()
        assert len(received) == reply_len * count
