"""Paramiko and AsyncSSH as real peers of our transport and authentication layers.

- Paramiko's client against our SyncTransport + ``ssh_auth.sync.serve`` server thread.
- AsyncSSH's client against our AsyncTransport + ``ssh_auth.aio.serve`` server.
- Our SyncTransport + ``ssh_auth.sync.authenticate`` client against an AsyncSSH server and
  a Paramiko server.

Each case forces one kex / cipher / MAC / host key combination on the peer (or on us) and
checks both ends agree on it. There is no connection layer yet, so nothing opens a channel:
success means the peer library says authentication succeeded and our server reports
``UserAuthenticated`` (or the peer server reports the user logged in). One server of each
kind per module; the asyncio servers share one event loop thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import socket
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncssh
import paramiko
import pytest
from openssh_tools import (
    HOST_KEY_ALGORITHMS,
    HostKeyFiles,
    close_listener,
    our_host_keys,
    run_keygen,
)

from ssh_auth import (
    AuthenticationFailed,
    PasswordDatabase,
    StandardPolicy,
    UserAuthenticated,
)
from ssh_auth import aio as auth_aio
from ssh_auth import sync as auth_sync
from ssh_keys import AuthorizedKeys, PublicKey, read_private_key_file
from ssh_transport import Algorithms, KexComplete, Role, TransportConfig, ciphers, kex, macs
from ssh_transport.aio import AsyncStream, AsyncTransport
from ssh_transport.sync import SocketStream, SyncTransport
from ssh_wire import DisconnectError

pytestmark = [
    pytest.mark.interop,
    # AsyncSSH's finite-field DH goes through an API cryptography has deprecated.
    pytest.mark.filterwarnings("ignore:Diffie-Hellman over finite fields"),
]

T = TypeVar("T")

USER = "alice"
PASSWORD = "correct horse battery"
USER_KEYS = {
    "ed25519": ["-t", "ed25519"],
    "ecdsa256": ["-t", "ecdsa", "-b", "256"],
    "ecdsa384": ["-t", "ecdsa", "-b", "384"],
    "rsa": ["-t", "rsa", "-b", "2048"],
}
MLKEM = "mlkem768x25519-sha256"

PARAMIKO_KEX = tuple(paramiko.Transport._preferred_kex)
ASYNCSSH_KEX = tuple(name.decode() for name in asyncssh.kex.get_kex_algs())


def needs_kex(available: tuple[str, ...], who: str, name: str) -> pytest.MarkDecorator:
    """Parameter marks: skip, loudly and with the reason, what this peer build lacks."""
    return pytest.mark.skipif(
        name not in available, reason=f"installed {who} does not offer {name}"
    )


# -- keys and policy ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def user_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """User keys (ssh-keygen's files); ``stranger`` is authorized nowhere."""
    d = tmp_path_factory.mktemp("peer-user-keys")
    for name, args in {**USER_KEYS, "stranger": ["-t", "ed25519"]}.items():
        run_keygen(*args, "-N", "", "-C", f"user-{name}", "-f", d / name)
    return d


def authorized_lines(user_keys: Path) -> str:
    return "".join((user_keys / f"{name}.pub").read_text() for name in USER_KEYS)


@pytest.fixture(scope="module")
def policy(user_keys: Path) -> StandardPolicy:
    authorized = AuthorizedKeys.from_text(authorized_lines(user_keys))
    db = PasswordDatabase(n=1 << 10)
    db.set_password(USER, PASSWORD)
    return StandardPolicy(
        authorized_keys=lambda user: authorized if user == USER else None, password=db
    )


def server_config(host_key_files: HostKeyFiles) -> TransportConfig:
    """Everything we implement, legacy included (ssh-rsa too: our RSA keys make SHA-1
    signatures for a server told to offer them), and a host key (and certificate) per type."""
    return TransportConfig(
        host_keys=our_host_keys(host_key_files),
        kex_algorithms=list(kex.supported_kex()),
        host_key_algorithms=list(HOST_KEY_ALGORITHMS),
        ciphers=list(ciphers.supported_ciphers()),
        macs=list(macs.supported_macs()),
    )


# -- our servers ----------------------------------------------------------------------------


@dataclass
class Outcome:
    """What our server saw on one connection."""

    user: UserAuthenticated | None = None
    error: BaseException | None = None
    algorithms: Algorithms | None = None
    after: list[bytes] = field(default_factory=list)


def _kex_algorithms(next_event: Callable[[], object]) -> Algorithms | None:
    found = None
    while (event := next_event()) is not None:
        if isinstance(event, KexComplete) and event.first:
            found = event.algorithms
    return found


class OurSyncServer:
    """SyncTransport + ssh_auth.sync.serve, a thread per connection, on one loopback port.

    With no connection layer yet, an authenticated connection is held open (messages are
    recorded, not answered) until the client leaves; then its :class:`Outcome` is queued.
    """

    def __init__(self, config: TransportConfig, policy: StandardPolicy) -> None:
        self.config, self.policy = config, policy
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.outcomes: queue.Queue[Outcome] = queue.Queue()
        self.threads: list[threading.Thread] = []
        self.accepter = threading.Thread(target=self._accept, daemon=True)
        self.accepter.start()

    def _accept(self) -> None:
        while True:
            try:
                sock, addr = self.listener.accept()
            except OSError:
                return  # listener closed
            thread = threading.Thread(target=self._serve, args=(sock, addr[0]), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket, address: str) -> None:
        outcome = Outcome()
        transport = SyncTransport(SocketStream(sock), Role.SERVER, self.config)
        try:
            outcome.user = auth_sync.serve(transport, self.policy, client_address=address)
            while True:
                outcome.after.append(transport.receive_message(30))
        except Exception as exc:
            outcome.error = exc
        finally:
            outcome.algorithms = _kex_algorithms(transport.next_event)
            transport.close()
            self.outcomes.put(outcome)

    def next_outcome(self) -> Outcome:
        return self.outcomes.get(timeout=30)

    def close(self) -> None:
        close_listener(self.listener, self.accepter)
        for thread in self.threads:
            thread.join(5)


class LoopThread:
    """An asyncio event loop in a daemon thread, for servers the tests talk to."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        async def cancel_rest() -> None:
            current = asyncio.current_task()
            rest = [t for t in asyncio.all_tasks() if t is not current]
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        self.run(cancel_rest())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture(scope="module")
def loop_thread() -> Iterator[LoopThread]:
    lt = LoopThread()
    yield lt
    lt.close()


class OurAsyncServer:
    """AsyncTransport + ssh_auth.aio.serve on the loop thread; outcomes as OurSyncServer."""

    def __init__(self, config: TransportConfig, policy: StandardPolicy) -> None:
        self.config, self.policy = config, policy
        self.outcomes: queue.Queue[Outcome] = queue.Queue()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        outcome = Outcome()
        address = writer.get_extra_info("peername")[0]
        transport = AsyncTransport(AsyncStream(reader, writer), Role.SERVER, self.config)
        try:
            outcome.user = await auth_aio.serve(transport, self.policy, client_address=address)
            while True:
                outcome.after.append(await transport.receive_message(30))
        except Exception as exc:
            outcome.error = exc
        finally:
            outcome.algorithms = _kex_algorithms(transport.next_event)
            await transport.close()
            self.outcomes.put(outcome)

    def next_outcome(self) -> Outcome:
        return self.outcomes.get(timeout=30)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture(scope="module")
def our_sync_server(
    host_key_files: HostKeyFiles, policy: StandardPolicy
) -> Iterator[OurSyncServer]:
    server = OurSyncServer(server_config(host_key_files), policy)
    yield server
    server.close()


@pytest.fixture(scope="module")
def our_async_server(
    loop_thread: LoopThread, host_key_files: HostKeyFiles, policy: StandardPolicy
) -> Iterator[OurAsyncServer]:
    server = OurAsyncServer(server_config(host_key_files), policy)
    loop_thread.run(server.start())
    yield server
    loop_thread.run(server.stop())


def paramiko_fingerprints(host_key_files: HostKeyFiles) -> dict[str, str]:
    """Host key file name -> SHA256 fingerprint, as Paramiko computes it."""
    return {
        name: paramiko.PKey.from_path(host_key_files.key(name)).fingerprint
        for name in set(HOST_KEY_ALGORITHMS.values())
    }


def assert_negotiated(
    algorithms: Algorithms | None, kex_name: str, host_key: str, cipher: str, mac: str
) -> None:
    assert algorithms is not None
    assert algorithms.kex == kex_name
    assert algorithms.host_key == host_key
    assert algorithms.cipher_client_to_server == cipher
    assert algorithms.cipher_server_to_client == cipher
    if "gcm" not in cipher and "poly1305" not in cipher:  # AEAD: the MAC is implicit
        assert algorithms.mac_client_to_server == mac
        assert algorithms.mac_server_to_client == mac


# -- Paramiko's client, our server ----------------------------------------------------------


@contextlib.contextmanager
def paramiko_client(
    port: int,
    *,
    kex_name: str = "curve25519-sha256@libssh.org",
    cipher: str = "aes128-ctr",
    mac: str = "hmac-sha2-256",
    host_key: str = "ssh-ed25519",
) -> Iterator[paramiko.Transport]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    transport = paramiko.Transport(sock)
    options = transport.get_security_options()
    options.kex = (kex_name,)
    options.ciphers = (cipher,)
    options.digests = (mac,)
    options.key_types = (host_key,)
    try:
        transport.start_client(timeout=30)
        yield transport
    finally:
        transport.close()


PARAMIKO_COMBOS = [
    pytest.param(
        MLKEM, "aes256-gcm@openssh.com", "hmac-sha2-256", "ssh-ed25519", "ed25519",
        marks=needs_kex(PARAMIKO_KEX, "Paramiko", MLKEM), id="mlkem-gcm-ed25519",
    ),
    pytest.param(
        "curve25519-sha256@libssh.org", "aes128-ctr", "hmac-sha2-256-etm@openssh.com",
        "ecdsa-sha2-nistp256", "ecdsa256", id="curve25519-ctr-etm-p256",
    ),
    pytest.param(
        "ecdh-sha2-nistp384", "aes192-ctr", "hmac-sha2-512-etm@openssh.com",
        "ecdsa-sha2-nistp384", "rsa", id="p384-ctr-etm512-p384",
    ),
    pytest.param(
        "ecdh-sha2-nistp521", "aes256-ctr", "hmac-sha2-512", "ecdsa-sha2-nistp521",
        "ecdsa384", id="p521-ctr-sha512-p521",
    ),
    pytest.param(
        "diffie-hellman-group16-sha512", "aes128-gcm@openssh.com", "hmac-sha2-256",
        "rsa-sha2-512", "ed25519", id="group16-gcm-rsa512",
    ),
    pytest.param(
        "diffie-hellman-group-exchange-sha256", "aes256-cbc", "hmac-sha1", "rsa-sha2-256",
        "ecdsa256", id="gex-cbc-sha1-rsa256",
    ),
    pytest.param(
        "diffie-hellman-group14-sha256", "3des-cbc", "hmac-sha2-256", "ssh-ed25519", "rsa",
        id="group14-3des-ed25519",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("kex_name", "cipher", "mac", "host_key", "user_key"), PARAMIKO_COMBOS)
def test_paramiko_client_publickey(
    our_sync_server: OurSyncServer,
    host_key_files: HostKeyFiles,
    user_keys: Path,
    kex_name: str,
    cipher: str,
    mac: str,
    host_key: str,
    user_key: str,
) -> None:
    expected = paramiko_fingerprints(host_key_files)[HOST_KEY_ALGORITHMS[host_key]]
    key = paramiko.PKey.from_path(user_keys / user_key)
    with paramiko_client(
        our_sync_server.port, kex_name=kex_name, cipher=cipher, mac=mac, host_key=host_key
    ) as t:
        assert t.host_key_type == host_key
        assert t.get_remote_server_key().fingerprint == expected
        assert (t.local_cipher, t.remote_cipher) == (cipher, cipher)
        assert t.auth_publickey(USER, key) == []
        assert t.is_authenticated() and t.get_username() == USER
    outcome = our_sync_server.next_outcome()
    assert outcome.user is not None, outcome.error
    assert outcome.user.username == USER and outcome.user.methods == ("publickey",)
    decision_key = outcome.user.decisions[0].key
    assert decision_key is not None
    assert decision_key.blob == key.asbytes()
    assert_negotiated(outcome.algorithms, kex_name, host_key, cipher, mac)


def test_paramiko_client_password(our_sync_server: OurSyncServer) -> None:
    with paramiko_client(our_sync_server.port) as t:
        assert t.auth_password(USER, PASSWORD) == []
        assert t.is_authenticated()
    outcome = our_sync_server.next_outcome()
    assert outcome.user is not None, outcome.error
    assert outcome.user.methods == ("password",)


# Paramiko sends SERVICE_REQUEST "ssh-userauth" before every auth_*() call; like sshd, our
# server accepts a repeated request until authentication succeeds.
def test_paramiko_client_second_attempt(our_sync_server: OurSyncServer) -> None:
    try:
        with paramiko_client(our_sync_server.port) as t:
            with pytest.raises(paramiko.AuthenticationException):
                t.auth_password(USER, "wrong")
            assert not t.is_authenticated()
            assert t.auth_password(USER, PASSWORD) == []
            assert t.is_authenticated()
    finally:
        outcome = our_sync_server.next_outcome()
    assert outcome.user is not None, outcome.error
    assert outcome.user.methods == ("password",)


def test_paramiko_client_keyboard_interactive(our_sync_server: OurSyncServer) -> None:
    prompts: list[tuple[str, bool]] = []

    def handler(title: str, instructions: str, fields: list[tuple[str, bool]]) -> list[str]:
        prompts.extend(fields)
        return [PASSWORD for _ in fields]

    with paramiko_client(our_sync_server.port) as t:
        assert t.auth_interactive(USER, handler) == []
        assert t.is_authenticated()
    assert prompts == [("Password: ", False)]  # one hidden prompt
    outcome = our_sync_server.next_outcome()
    assert outcome.user is not None, outcome.error
    assert outcome.user.methods == ("keyboard-interactive",)


@pytest.mark.parametrize(
    ("user", "key", "password"),
    [
        pytest.param(USER, "stranger", None, id="key-not-authorized"),
        pytest.param("mallory", "ed25519", None, id="user-without-authorized-keys"),
        pytest.param(USER, None, "wrong", id="wrong-password"),
        pytest.param("mallory", None, PASSWORD, id="unknown-user-password"),
    ],
)
def test_paramiko_client_refused_as_policy_says(
    our_sync_server: OurSyncServer, user_keys: Path, user: str, key: str | None,
    password: str | None,
) -> None:  # fmt: skip
    # One attempt per connection: see test_paramiko_client_second_attempt.
    with paramiko_client(our_sync_server.port) as t:
        if key is not None:
            pkey = paramiko.PKey.from_path(user_keys / key)
            with pytest.raises(paramiko.AuthenticationException):
                t.auth_publickey(user, pkey)
        else:
            with pytest.raises(paramiko.AuthenticationException):
                t.auth_password(user, password)
        assert not t.is_authenticated()
    outcome = our_sync_server.next_outcome()
    assert outcome.user is None
    assert isinstance(outcome.error, DisconnectError)


# -- AsyncSSH's client, our server ----------------------------------------------------------


def asyncssh_known_hosts(host_key_files: HostKeyFiles) -> tuple[list[Any], list[Any], list[Any]]:
    """AsyncSSH's (trusted host keys, trusted CA keys, revoked keys): it checks for itself."""
    names = sorted(set(HOST_KEY_ALGORITHMS.values()))
    trusted = [asyncssh.read_public_key(f"{host_key_files.key(name)}.pub") for name in names]
    return trusted, [asyncssh.read_public_key(f"{host_key_files.ca}.pub")], []


async def asyncssh_login(
    port: int, host_key_files: HostKeyFiles, *, kex_name: str = "curve25519-sha256",
    cipher: str = "aes128-ctr", mac: str = "hmac-sha2-256", host_key: str = "ssh-ed25519",
    **auth: Any,
) -> tuple[str, str, str]:  # fmt: skip
    """Connect (connect() returns once authenticated), note what was agreed, close."""
    conn = await asyncio.wait_for(
        asyncssh.connect(
            "127.0.0.1", port, username=USER, config=None, agent_path=None,
            known_hosts=asyncssh_known_hosts(host_key_files),
            kex_algs=[kex_name], encryption_algs=[cipher], mac_algs=[mac],
            server_host_key_algs=[host_key], compression_algs=None, **auth,
        ),
        30,
    )  # fmt: skip
    try:
        server_key = conn.get_server_host_key()
        assert server_key is not None
        return (
            conn.get_extra_info("send_cipher"),
            conn.get_extra_info("recv_cipher"),
            server_key.get_fingerprint(),
        )
    finally:
        conn.close()
        await conn.wait_closed()


ASYNCSSH_COMBOS = [
    pytest.param(
        MLKEM, "chacha20-poly1305@openssh.com", "hmac-sha2-256-etm@openssh.com", "ssh-ed25519",
        "ed25519", marks=needs_kex(ASYNCSSH_KEX, "AsyncSSH", MLKEM), id="mlkem-chacha-ed25519",
    ),
    pytest.param(
        "curve25519-sha256", "aes256-gcm@openssh.com", "hmac-sha2-256", "ecdsa-sha2-nistp256",
        "ecdsa256", id="curve25519-gcm-p256",
    ),
    pytest.param(
        "ecdh-sha2-nistp521", "aes128-ctr", "hmac-sha2-512-etm@openssh.com", "rsa-sha2-512",
        "rsa", id="p521-ctr-etm512-rsa512",
    ),
    pytest.param(
        "diffie-hellman-group-exchange-sha256", "aes256-cbc", "hmac-sha1-etm@openssh.com",
        "rsa-sha2-256", "ecdsa384", id="gex-cbc-sha1etm-rsa256",
    ),
    pytest.param(
        "diffie-hellman-group14-sha1", "3des-cbc", "hmac-sha1", "rsa-sha2-256", "ed25519",
        id="legacy-group14sha1-3des-sha1",
    ),
    pytest.param(
        "ecdh-sha2-nistp256", "aes128-gcm@openssh.com", "hmac-sha2-256",
        "ssh-ed25519-cert-v01@openssh.com", "rsa", id="p256-gcm-ed25519-hostcert",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("kex_name", "cipher", "mac", "host_key", "user_key"), ASYNCSSH_COMBOS)
def test_asyncssh_client_publickey(
    our_async_server: OurAsyncServer,
    host_key_files: HostKeyFiles,
    user_keys: Path,
    kex_name: str,
    cipher: str,
    mac: str,
    host_key: str,
    user_key: str,
) -> None:
    key = asyncssh.read_private_key(user_keys / user_key)
    send, recv, fingerprint = asyncio.run(
        asyncssh_login(
            our_async_server.port, host_key_files, kex_name=kex_name, cipher=cipher, mac=mac,
            host_key=host_key, client_keys=[key], preferred_auth="publickey",
        )
    )  # fmt: skip
    assert send == recv == cipher
    ours = read_private_key_file(host_key_files.key(HOST_KEY_ALGORITHMS[host_key])).public_key
    assert fingerprint == ours.fingerprint()  # for a certificate: the certified key's
    outcome = our_async_server.next_outcome()
    assert outcome.user is not None, outcome.error
    assert outcome.user.username == USER and outcome.user.methods == ("publickey",)
    decision_key = outcome.user.decisions[0].key
    assert decision_key is not None
    assert decision_key.blob == key.public_data
    assert_negotiated(outcome.algorithms, kex_name, host_key, cipher, mac)


@pytest.mark.parametrize("method", ["password", "keyboard-interactive"])
def test_asyncssh_client_password(
    our_async_server: OurAsyncServer, host_key_files: HostKeyFiles, method: str
) -> None:
    asyncio.run(
        asyncssh_login(
            our_async_server.port, host_key_files, client_keys=None, password=PASSWORD,
            preferred_auth=method,
        )
    )  # fmt: skip
    outcome = our_async_server.next_outcome()
    assert outcome.user is not None, outcome.error
    assert outcome.user.methods == (method,)


def test_asyncssh_client_wrong_password(
    our_async_server: OurAsyncServer, host_key_files: HostKeyFiles, user_keys: Path
) -> None:
    stranger = asyncssh.read_private_key(user_keys / "stranger")
    with pytest.raises(asyncssh.PermissionDenied):
        asyncio.run(
            asyncssh_login(
                our_async_server.port, host_key_files, client_keys=[stranger],
                password="wrong", preferred_auth="publickey,password",
            )
        )  # fmt: skip
    outcome = our_async_server.next_outcome()
    assert outcome.user is None
    assert isinstance(outcome.error, DisconnectError)


# -- our client, AsyncSSH's and Paramiko's servers -------------------------------------------


class FingerprintCheck:
    """Our host_key_check: the key must have the fingerprint the peer library computed."""

    def __init__(self, expected: dict[str, str]) -> None:
        self.expected = expected  # host key algorithm -> fingerprint
        self.seen: list[tuple[str, str]] = []

    def __call__(self, key: PublicKey, algorithm: str) -> bool:
        self.seen.append((algorithm, key.fingerprint()))
        return self.expected.get(algorithm) == key.fingerprint()


@dataclass
class AsyncsshServer:
    port: int
    fingerprints: dict[str, str]
    logins: queue.Queue[str]


PEER_HOST_KEYS = {
    "ssh-ed25519": "ed25519",
    "ecdsa-sha2-nistp256": "ecdsa256",
    "ecdsa-sha2-nistp384": "ecdsa384",
    "ecdsa-sha2-nistp521": "ecdsa521",
    "rsa-sha2-512": "rsa",
    "rsa-sha2-256": "rsa",
    "ssh-rsa": "rsa",
}


@pytest.fixture(scope="module")
def asyncssh_server(
    loop_thread: LoopThread, host_key_files: HostKeyFiles, user_keys: Path
) -> Iterator[AsyncsshServer]:
    logins: queue.Queue[str] = queue.Queue()  # users whose login AsyncSSH completed

    class PeerServer(asyncssh.SSHServer):
        def __init__(self) -> None:
            self.conn: asyncssh.SSHServerConnection | None = None

        def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
            self.conn = conn

        def password_auth_supported(self) -> bool:
            return True

        def validate_password(self, username: str, password: str) -> bool:
            return username == USER and password == PASSWORD

        def auth_completed(self) -> None:
            assert self.conn is not None
            logins.put(self.conn.get_extra_info("username"))

    keys = {name: asyncssh.read_private_key(host_key_files.key(name)) for name in PEER_KEY_FILES}
    ours = set(kex.supported_kex())

    async def start() -> asyncssh.SSHAcceptor:
        return await asyncssh.listen(
            "127.0.0.1", 0, server_factory=PeerServer, config=None,
            server_host_keys=list(keys.values()),
            authorized_client_keys=asyncssh.import_authorized_keys(authorized_lines(user_keys)),
            kex_algs=[name for name in ASYNCSSH_KEX if name in ours],
            encryption_algs=list(ciphers.supported_ciphers()),
            mac_algs=list(macs.supported_macs()),
        )  # fmt: skip

    acceptor = loop_thread.run(start())
    fingerprints = {alg: keys[name].get_fingerprint() for alg, name in PEER_HOST_KEYS.items()}
    yield AsyncsshServer(acceptor.get_port(), fingerprints, logins)

    async def stop() -> None:
        acceptor.close()
        await acceptor.wait_closed()

    loop_thread.run(stop())


PEER_KEY_FILES = sorted(set(PEER_HOST_KEYS.values()))


def our_client_login(
    port: int, fingerprints: dict[str, str], user_keys: Path, *, kex_name: str, cipher: str,
    mac: str, host_key: str, method: str, user_key: str = "ed25519",
    while_open: Callable[[], None] = lambda: None,
) -> FingerprintCheck:  # fmt: skip
    check = FingerprintCheck(fingerprints)
    config = TransportConfig(
        kex_algorithms=[kex_name], ciphers=[cipher], macs=[mac], host_key_algorithms=[host_key]
    )
    with SyncTransport.connect("127.0.0.1", port, config, host_key_check=check, timeout=30) as t:
        done = (
            auth_sync.authenticate(
                t, USER, signers=[read_private_key_file(user_keys / user_key)],
                methods=["publickey"],
            )
            if method == "publickey"
            else auth_sync.authenticate(t, USER, password=PASSWORD, methods=["password"])
        )  # fmt: skip
        assert done.methods == (method,)
        algorithms = t.algorithms
        assert_negotiated(algorithms, kex_name, host_key, cipher, mac)
        while_open()
    assert check.seen == [(host_key, fingerprints[host_key])]
    return check


OUR_CLIENT_COMBOS = [
    pytest.param(MLKEM, "chacha20-poly1305@openssh.com", "hmac-sha2-256-etm@openssh.com",
                 "ssh-ed25519", "publickey", "ed25519", id="mlkem-chacha-ed25519-pk"),
    pytest.param("curve25519-sha256", "aes256-gcm@openssh.com", "hmac-sha2-256",
                 "ecdsa-sha2-nistp384", "password", "", id="curve25519-gcm-p384-pw"),
    pytest.param("ecdh-sha2-nistp256", "aes128-ctr", "hmac-sha2-512-etm@openssh.com",
                 "rsa-sha2-512", "publickey", "rsa", id="p256-ctr-etm512-rsa512-pk"),
    pytest.param("diffie-hellman-group-exchange-sha256", "aes192-cbc", "hmac-sha1",
                 "rsa-sha2-256", "publickey", "ecdsa256", id="gex-cbc-sha1-rsa256-pk"),
    pytest.param("diffie-hellman-group16-sha512", "aes256-ctr", "hmac-sha2-512",
                 "ecdsa-sha2-nistp521", "password", "", id="group16-ctr-sha512-p521-pw"),
    pytest.param("ecdh-sha2-nistp384", "aes128-gcm@openssh.com", "hmac-sha2-256",
                 "ecdsa-sha2-nistp256", "publickey", "ecdsa384", id="p384-gcm-p256-pk"),
    # Legacy, opt-in on our side: SHA-1 kex, MAC and host key signature.
    pytest.param("diffie-hellman-group14-sha1", "3des-cbc", "hmac-sha1", "ssh-rsa",
                 "publickey", "rsa", id="legacy-group14sha1-3des-sha1-ssh-rsa-pk"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kex_name", "cipher", "mac", "host_key", "method", "user_key"), OUR_CLIENT_COMBOS
)
def test_our_client_asyncssh_server(
    asyncssh_server: AsyncsshServer,
    user_keys: Path,
    kex_name: str,
    cipher: str,
    mac: str,
    host_key: str,
    method: str,
    user_key: str,
) -> None:
    if kex_name not in ASYNCSSH_KEX:
        pytest.skip(f"installed AsyncSSH does not offer {kex_name}")
    our_client_login(
        asyncssh_server.port, asyncssh_server.fingerprints, user_keys, kex_name=kex_name,
        cipher=cipher, mac=mac, host_key=host_key, method=method, user_key=user_key or "ed25519",
    )  # fmt: skip
    assert asyncssh_server.logins.get(timeout=30) == USER


def test_our_client_asyncssh_rsa_certificate_host_key(
    loop_thread: LoopThread, host_key_files: HostKeyFiles
) -> None:
    """An RSA host certificate negotiated as ssh-rsa-cert-v01@openssh.com (legacy, opt-in).

    Some AsyncSSH setups sign rsa-sha2-256 under that name, which OpenSSH's ssh accepts (any
    RSA hash under the old certificate name) and so do we; the installed AsyncSSH signs
    ssh-rsa here, so the SHA-2 case is covered by ssh-transport's unit tests."""
    key = asyncssh.read_private_key(host_key_files.key("rsa"))
    cert = asyncssh.read_certificate(host_key_files.cert("rsa"))
    name = "ssh-rsa-cert-v01@openssh.com"

    async def start() -> asyncssh.SSHAcceptor:
        return await asyncssh.listen("127.0.0.1", 0, config=None, server_host_keys=[(key, cert)])

    acceptor = loop_thread.run(start())
    try:
        seen: list[tuple[str, str]] = []

        def check(k: PublicKey, algorithm: str) -> bool:
            seen.append((algorithm, k.algorithm))
            return True

        config = TransportConfig(host_key_algorithms=[name])
        port = acceptor.get_port()
        with SyncTransport.connect("127.0.0.1", port, config, host_key_check=check, timeout=30):
            pass
        assert seen == [(name, name)]
    finally:

        async def stop() -> None:
            acceptor.close()
            await acceptor.wait_closed()

        loop_thread.run(stop())


def test_our_client_asyncssh_server_refusals(
    asyncssh_server: AsyncsshServer, user_keys: Path
) -> None:
    with SyncTransport.connect(
        "127.0.0.1", asyncssh_server.port, host_key_check=lambda k, a: True, timeout=30
    ) as t:
        with pytest.raises(AuthenticationFailed) as info:
            auth_sync.authenticate(
                t, USER, signers=[read_private_key_file(user_keys / "stranger")],
                password="wrong", methods=["publickey", "password"],
            )  # fmt: skip
        assert set(info.value.methods) >= {"publickey", "password"}


def test_our_client_rejects_unexpected_host_key(asyncssh_server: AsyncsshServer) -> None:
    wrong = FingerprintCheck(dict.fromkeys(asyncssh_server.fingerprints, "SHA256:nope"))
    with pytest.raises(DisconnectError):
        SyncTransport.connect(
            "127.0.0.1", asyncssh_server.port, host_key_check=wrong, timeout=30
        ).close()
    assert len(wrong.seen) == 1


class ParamikoServer:
    """paramiko.Transport in server mode, one per accepted connection, on one port."""

    def __init__(self, host_key_files: HostKeyFiles, user_keys: Path) -> None:
        self.keys = {
            name: paramiko.PKey.from_path(host_key_files.key(name)) for name in PEER_KEY_FILES
        }
        self.allowed = {paramiko.PKey.from_path(user_keys / n).asbytes() for n in USER_KEYS}
        self.fingerprints = {
            alg: self.keys[name].fingerprint for alg, name in PEER_HOST_KEYS.items()
        }
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.transports: queue.Queue[paramiko.Transport] = queue.Queue()
        self.all: list[paramiko.Transport] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        server = self

        class Interface(paramiko.ServerInterface):
            def get_allowed_auths(self, username: str) -> str:
                return "publickey,password"

            def check_auth_password(self, username: str, password: str) -> int:
                ok = username == USER and password == PASSWORD
                return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

            def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
                ok = username == USER and key.asbytes() in server.allowed
                return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            t = paramiko.Transport(sock)
            for key in self.keys.values():
                t.add_server_key(key)
            self.all.append(t)
            self.transports.put(t)
            t.start_server(event=threading.Event(), server=Interface())

    def close(self) -> None:
        close_listener(self.listener, self.thread)
        for t in self.all:
            t.close()


@pytest.fixture(scope="module")
def paramiko_server(host_key_files: HostKeyFiles, user_keys: Path) -> Iterator[ParamikoServer]:
    server = ParamikoServer(host_key_files, user_keys)
    yield server
    server.close()


PARAMIKO_SERVER_COMBOS = [
    pytest.param(MLKEM, "aes256-gcm@openssh.com", "hmac-sha2-256", "ssh-ed25519", "publickey",
                 "ed25519", marks=needs_kex(PARAMIKO_KEX, "Paramiko", MLKEM),
                 id="mlkem-gcm-ed25519-pk"),
    pytest.param("curve25519-sha256@libssh.org", "aes128-ctr", "hmac-sha2-256-etm@openssh.com",
                 "ecdsa-sha2-nistp256", "password", "", id="curve25519-ctr-etm-p256-pw"),
    pytest.param("ecdh-sha2-nistp384", "aes256-cbc", "hmac-sha2-512", "rsa-sha2-512",
                 "publickey", "rsa", id="p384-cbc-sha512-rsa512-pk"),
    pytest.param("diffie-hellman-group16-sha512", "aes192-ctr", "hmac-sha1", "rsa-sha2-256",
                 "publickey", "ecdsa256", id="group16-ctr-sha1-rsa256-pk"),
    pytest.param("diffie-hellman-group14-sha256", "3des-cbc", "hmac-sha2-512-etm@openssh.com",
                 "ecdsa-sha2-nistp521", "password", "", id="group14-3des-etm512-p521-pw"),
    pytest.param("ecdh-sha2-nistp521", "aes128-gcm@openssh.com", "hmac-sha2-256",
                 "ecdsa-sha2-nistp384", "publickey", "ecdsa384", id="p521-gcm-p384-pk"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kex_name", "cipher", "mac", "host_key", "method", "user_key"), PARAMIKO_SERVER_COMBOS
)
def test_our_client_paramiko_server(
    paramiko_server: ParamikoServer,
    user_keys: Path,
    kex_name: str,
    cipher: str,
    mac: str,
    host_key: str,
    method: str,
    user_key: str,
) -> None:

    def peer_says_authenticated() -> None:
        # Paramiko marks the login before sending USERAUTH_SUCCESS; asked after it closes,
        # it says False (an inactive transport is not authenticated).
        peer = paramiko_server.transports.get(timeout=30)
        assert peer.is_authenticated() and peer.get_username() == USER

    our_client_login(
        paramiko_server.port, paramiko_server.fingerprints, user_keys, kex_name=kex_name,
        cipher=cipher, mac=mac, host_key=host_key, method=method, user_key=user_key or "ed25519",
        while_open=peer_says_authenticated,
    )  # fmt: skip


def test_our_client_paramiko_server_refusals(
    paramiko_server: ParamikoServer, user_keys: Path
) -> None:
    fingerprints = paramiko_server.fingerprints
    with SyncTransport.connect(
        "127.0.0.1", paramiko_server.port, host_key_check=FingerprintCheck(fingerprints),
        timeout=30,
    ) as t:  # fmt: skip
        peer = paramiko_server.transports.get(timeout=30)
        with pytest.raises(AuthenticationFailed) as info:
            auth_sync.authenticate(
                t, USER, signers=[read_private_key_file(user_keys / "stranger")],
                password="wrong", methods=["publickey", "password"],
            )  # fmt: skip
        assert set(info.value.methods) == {"publickey", "password"}
        assert not peer.is_authenticated()
        # The same connection still works with the right password.
        done = auth_sync.authenticate(
            t, USER, password=PASSWORD, methods=["password"], request_service=False
        )
        assert done.methods == ("password",)
        assert peer.is_authenticated() and peer.get_username() == USER
