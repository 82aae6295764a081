"""ssh_auth.sync and ssh_auth.aio over real sockets (a socketpair), client and server."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import pytest
from auth_pair import host_key, key

from ssh_auth import (
    AuthenticationFailed,
    KeyboardInteractivePrompt,
    StandardPolicy,
    UserAuthenticated,
)
from ssh_auth import aio as auth_aio
from ssh_auth import sync as auth_sync
from ssh_keys import AuthorizedKeys
from ssh_transport import Role, TransportConfig
from ssh_transport.aio import AsyncStream, AsyncTransport
from ssh_transport.sync import SocketStream, SyncTransport
from ssh_wire import DisconnectError


def policy(**kw: Any) -> StandardPolicy:
    ak = AuthorizedKeys(key("ed25519").public_key.to_line())
    return StandardPolicy(
        authorized_keys=lambda user: ak, password=lambda u, p: p == "pw", banner="hello", **kw
    )


def run_sync(server_kw: dict[str, Any], **client_kw: Any) -> tuple[object, object]:
    a, b = socket.socketpair()
    results: dict[str, object] = {}

    def server() -> None:
        t = SyncTransport(SocketStream(b), Role.SERVER, TransportConfig(host_keys=(host_key(),)))
        try:
            results["server"] = auth_sync.serve(t, server_kw.pop("policy", policy()), **server_kw)
        except Exception as exc:
            results["server"] = exc
        finally:
            t.close()

    thread = threading.Thread(target=server)
    thread.start()
    t = SyncTransport(SocketStream(a), Role.CLIENT, host_key_check=lambda k, alg: True)
    try:
        results["client"] = auth_sync.authenticate(t, "alice", timeout=10, **client_kw)
    except Exception as exc:
        results["client"] = exc
    finally:
        t.close()
        thread.join(10)
    return results["client"], results["server"]


def test_sync_publickey() -> None:
    banners: list[str] = []
    _, server = run_sync({}, signers=[key("ed25519")], on_banner=banners.append)
    assert isinstance(server, UserAuthenticated) and server.methods == ("publickey",)
    assert banners == ["hello"]


def test_sync_password_callback() -> None:
    answers = iter(["wrong", "pw"])
    _, server = run_sync({}, password=lambda: next(answers), methods=["password"])
    assert isinstance(server, UserAuthenticated) and server.methods == ("password",)


def test_sync_keyboard_interactive_handler() -> None:
    def kbd(prompt: KeyboardInteractivePrompt) -> list[str]:
        return ["pw" for _ in prompt.prompts]

    _, server = run_sync({}, keyboard_interactive=kbd, methods=["keyboard-interactive"])
    assert isinstance(server, UserAuthenticated)


def test_sync_failure_and_max_tries() -> None:
    client, server = run_sync({"max_auth_tries": 2}, password=lambda: "bad", password_tries=5,
                              methods=["password"])  # fmt: skip
    assert isinstance(client, (AuthenticationFailed, DisconnectError))
    assert isinstance(server, DisconnectError)
    client, _ = run_sync({}, password="bad", methods=["password"])
    assert isinstance(client, AuthenticationFailed)
    assert "publickey" in client.methods


def test_sync_grace_time() -> None:
    _, server = run_sync({"login_grace_time": 0.2}, password=lambda: _slow(), methods=["password"])
    assert isinstance(server, DisconnectError)
    assert "grace" in server.description


def _slow() -> str:
    threading.Event().wait(1.0)
    return "pw"


async def run_async(**client_kw: Any) -> tuple[object, object]:
    a, b = socket.socketpair()
    sr, sw = await asyncio.open_connection(sock=b)
    cr, cw = await asyncio.open_connection(sock=a)
    server_t = AsyncTransport(
        AsyncStream(sr, sw), Role.SERVER, TransportConfig(host_keys=(host_key(),))
    )
    client_t = AsyncTransport(AsyncStream(cr, cw), Role.CLIENT, host_key_check=lambda k, alg: True)

    async def client() -> object:
        try:
            return await auth_aio.authenticate(client_t, "alice", timeout=10, **client_kw)
        except Exception as exc:
            return exc
        finally:
            await client_t.close()  # a failed client hangs up; the server sees it

    async def server() -> object:
        try:
            return await auth_aio.serve(server_t, policy())
        except Exception as exc:
            return exc

    results = await asyncio.gather(client(), server())
    await server_t.close()
    return results[0], results[1]


class AsyncKey:
    """An async signer, as an agent over an asyncio socket would be."""

    def __init__(self) -> None:
        self.inner = key("ed25519")
        self.public_key = self.inner.public_key
        self.algorithms = self.inner.algorithms

    async def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
        await asyncio.sleep(0)
        return self.inner.sign(data, algorithm)


def test_aio_async_signer() -> None:
    _, server = asyncio.run(run_async(signers=[AsyncKey()]))
    assert isinstance(server, UserAuthenticated) and server.methods == ("publickey",)


def test_aio_password_coroutine() -> None:
    async def password() -> str:
        return "pw"

    _, server = asyncio.run(run_async(password=password, methods=["password"]))
    assert isinstance(server, UserAuthenticated)


def test_aio_failure() -> None:
    client, _ = asyncio.run(run_async(password="no", methods=["password"]))
    assert isinstance(client, AuthenticationFailed)


@pytest.mark.parametrize("module", ["ssh_auth", "ssh_auth.client", "ssh_auth.server"])
def test_cores_do_not_import_io(module: str) -> None:
    import subprocess
    import sys

    code = (f"import sys; import {module}; "
            "bad = [m for m in ('asyncio', 'socket', 'selectors') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")  # fmt: skip
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
