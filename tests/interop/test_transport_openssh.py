"""ssh-transport against OpenSSH: our client vs sshd and OpenSSH's ssh vs our server.

Every algorithm both sides implement is covered, legacy opt-in ones included:

* every kex x every host key algorithm (certificates too), each reaching ssh-userauth
  and exchanging an authentication round trip; cipher/MAC pairs rotate through these;
* every cipher x MAC pair x every kex hash (SHA-1/256/384/512: the hash drives key
  derivation, the only place kex and cipher/MAC meet) with varied packet sizes;
* the same lists from OpenSSH's ssh against our server, checked in ssh's debug log;
* rekeying under traffic started by either side, and a Terrapin-style injection.

The literal kex x host key x cipher x MAC product (14 x 14 x 45) would spend minutes
in 8192-bit DH alone and tests no code path the pairs above miss.
"""

from __future__ import annotations

import base64
import getpass
import itertools
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from openssh_tools import (
    GLOBAL_REQUEST,
    HAVE_OPENSSH,
    HOST_KEY_ALGORITHMS,
    REQUEST_FAILURE,
    USERAUTH_REQUEST,
    USERAUTH_SUCCESS,
    HostKeyFiles,
    OurServer,
    ServerResult,
    Sshd,
    SshdFactory,
    assert_lines,
    auth_failure,
    auth_none_request,
    authenticate_publickey,
    common_algorithms,
    global_request,
    our_host_keys,
    parse_auth_failure,
    run_keygen,
    run_ssh,
)

from ssh_keys import (
    PrivateKey,
    PublicKey,
    generate_private_key,
    parse_public_key_blob,
    parse_public_key_line,
)
from ssh_keys.certificate import Certificate
from ssh_transport import KexComplete, Role, TransportConfig
from ssh_transport.ciphers import cipher_spec
from ssh_transport.kex import kex_spec
from ssh_transport.sync import SocketStream, SyncTransport
from ssh_wire import DisconnectError, Reader, Writer

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not HAVE_OPENSSH, reason="OpenSSH sshd/ssh not installed"),
]

COMMON = common_algorithms()
AEAD = tuple(c for c in COMMON.ciphers if cipher_spec(c).aead)
#: (cipher, MAC) pairs; AEAD ciphers carry their own MAC ("<implicit>").
CIPHER_MACS: list[tuple[str, str | None]] = [(c, None) for c in AEAD] + [
    (c, m) for c in COMMON.ciphers if c not in AEAD for m in COMMON.macs
]
#: The cheapest kex for each exchange hash.
_CHEAP_KEX = (
    "curve25519-sha256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
    "diffie-hellman-group14-sha1",
    "diffie-hellman-group1-sha1",
)
KEX_BY_HASH: dict[str, str] = {}
for _name in _CHEAP_KEX:
    if _name in COMMON.kex:
        KEX_BY_HASH.setdefault(kex_spec(_name).hash_name, _name)
#: Packet sizes around block and padding boundaries, and a large one.
IGNORE_SIZES = (0, 1, 3, 4, 7, 8, 11, 12, 15, 16, 17, 31, 32, 33, 255, 1000, 32768)
METHODS = ("publickey", "password")


def _pair_id(cipher: str, mac: str | None) -> str:
    return f"{cipher}+{mac or 'implicit'}"


# -- our client against sshd ------------------------------------------------------------


class HostKeyLog:
    """host_key_check that records what it was shown and trusts it (checked afterwards)."""

    def __init__(self) -> None:
        self.seen: list[tuple[PublicKey, str]] = []

    def __call__(self, key: PublicKey, algorithm: str) -> bool:
        self.seen.append((key, algorithm))
        return True


def connect(sshd: Sshd, **config: object) -> tuple[SyncTransport, HostKeyLog]:
    keys = HostKeyLog()
    stream = SocketStream(sshd.connect_socket())
    cfg = TransportConfig(**config)  # type: ignore[arg-type]
    return SyncTransport(stream, Role.CLIENT, cfg, host_key_check=keys), keys


def auth_round_trip(t: SyncTransport, ignore_sizes: tuple[int, ...] = ()) -> None:
    """IGNOREs of the given sizes, then USERAUTH_REQUEST "none" answered by a FAILURE."""
    for size in ignore_sizes:
        t.send_ignore(bytes(size))
    t.send_message(auth_none_request())
    assert parse_auth_failure(t.receive_message(10)) == METHODS


def expected_key(files: HostKeyFiles, algorithm: str) -> PublicKey:
    return parse_public_key_line(files.public_line(HOST_KEY_ALGORITHMS[algorithm])).key


def check_host_key(files: HostKeyFiles, algorithm: str, seen: list[tuple[PublicKey, str]]) -> None:
    assert len(seen) == 1
    key, shown_algorithm = seen[0]
    assert shown_algorithm == algorithm
    plain = expected_key(files, algorithm)
    if algorithm.endswith("-cert-v01@openssh.com"):
        assert isinstance(key, Certificate)
        assert key.key == plain
        ca = parse_public_key_line((files.directory / "ca.pub").read_text()).key
        assert key.signature_key == ca
        assert "127.0.0.1" in key.valid_principals
    else:
        assert key == plain


KEX_HOST_KEY_CASES = [
    pytest.param(kex, hk, *CIPHER_MACS[i % len(CIPHER_MACS)], id=f"{kex}|{hk}")
    for i, (kex, hk) in enumerate(itertools.product(COMMON.kex, COMMON.host_key))
]


@pytest.mark.parametrize(("kex", "host_key", "cipher", "mac"), KEX_HOST_KEY_CASES)
def test_client_kex_host_key(
    sshd: Sshd, host_key_files: HostKeyFiles, kex: str, host_key: str, cipher: str, mac: str | None
) -> None:
    t, keys = connect(
        sshd, kex_algorithms=[kex], host_key_algorithms=[host_key], ciphers=[cipher],
        macs=[mac] if mac else None,
    )  # fmt: skip
    try:
        t.request_service("ssh-userauth", timeout=30)
        algs = t.algorithms
        assert algs is not None
        assert (algs.kex, algs.host_key, algs.cipher_client_to_server) == (kex, host_key, cipher)
        assert t.strict_kex
        check_host_key(host_key_files, host_key, keys.seen)
        auth_round_trip(t)
    finally:
        t.close()


def _cipher_mac_cases() -> list[object]:
    """Every cipher x MAC pair under the first kex hash; under each other hash, every
    cipher once and every MAC once (rotating partners). The hash only feeds key derivation,
    which sizes keys per cipher and per MAC, so that covers each size under each hash
    without the full product (16 MACs x 7 ciphers x 5 hashes, a minute of handshakes)."""
    cases: list[object] = []
    for h, (hash_name, kex) in enumerate(KEX_BY_HASH.items()):
        if h == 0:
            pairs = CIPHER_MACS
        else:
            ciphers = list(dict.fromkeys(c for c, _ in CIPHER_MACS))
            macs = list(dict.fromkeys(m for _, m in CIPHER_MACS if m is not None))
            by_cipher = [p for p in CIPHER_MACS if p[1] is None or p[1] == macs[h % len(macs)]]
            by_cipher = [next(p for p in by_cipher if p[0] == c) for c in ciphers]
            non_aead = [c for c in ciphers if c not in AEAD]
            by_mac = [(non_aead[(h + i) % len(non_aead)], m) for i, m in enumerate(macs)]
            pairs = list(dict.fromkeys(by_cipher + by_mac))
        cases += [
            pytest.param(kex, cipher, mac, id=f"{hash_name}|{_pair_id(cipher, mac)}")
            for cipher, mac in pairs
        ]
    return cases


CIPHER_MAC_CASES = _cipher_mac_cases()


@pytest.mark.parametrize(("kex", "cipher", "mac"), CIPHER_MAC_CASES)
def test_client_cipher_mac(sshd: Sshd, kex: str, cipher: str, mac: str | None) -> None:
    t, _ = connect(sshd, kex_algorithms=[kex], ciphers=[cipher], macs=[mac] if mac else None)
    try:
        t.request_service("ssh-userauth", timeout=30)
        algs = t.algorithms
        assert algs is not None
        assert algs.cipher_client_to_server == algs.cipher_server_to_client == cipher
        if mac is not None:
            assert algs.mac_client_to_server == algs.mac_server_to_client == mac
        # Two rounds: the second runs on sequence numbers and cipher state past the first.
        auth_round_trip(t, IGNORE_SIZES)
        auth_round_trip(t, IGNORE_SIZES[::-1])
    finally:
        t.close()


def test_sshd_log_agrees(sshd_factory: SshdFactory) -> None:
    """sshd's own view of a negotiation matches ours (a fresh sshd so its log is ours)."""
    server = sshd_factory.start(**COMMON.sshd_options())
    kex, cipher, mac = "diffie-hellman-group14-sha256", "aes192-ctr", "hmac-sha2-512"
    t, _ = connect(
        server, kex_algorithms=[kex], host_key_algorithms=["ecdsa-sha2-nistp384"],
        ciphers=[cipher], macs=[mac],
    )  # fmt: skip
    try:
        t.request_service("ssh-userauth", timeout=30)
        auth_round_trip(t)
    finally:
        t.close()
    log = _wait_for_log(server, "Connection closed")
    assert_lines(
        log,
        [
            f"kex: algorithm: {kex}",
            "kex: host key algorithm: ecdsa-sha2-nistp384",
            f"kex: client->server cipher: {cipher} MAC: {mac} compression: none",
            f"kex: server->client cipher: {cipher} MAC: {mac} compression: none",
            "will use strict KEX ordering",
            "receive packet: type 5 [preauth]",
            "userauth-request for user nobody service ssh-connection method none",
        ],
    )


def _wait_for_log(server: Sshd, needle: str, timeout: float = 5.0) -> str:
    for _ in range(int(timeout / 0.02)):
        text = server.log_text()
        if needle in text:
            return text
        time.sleep(0.02)
    return server.log_text()


def test_client_delayed_compression(sshd: Sshd) -> None:
    t, _ = connect(sshd, compression=["zlib@openssh.com"])
    try:
        t.request_service("ssh-userauth", timeout=30)
        algs = t.algorithms
        assert algs is not None
        assert algs.compression_client_to_server == "zlib@openssh.com"
        assert algs.compression_server_to_client == "zlib@openssh.com"
        auth_round_trip(t, (100, 30000))  # compression starts only after auth: nothing changes
    finally:
        t.close()


def test_client_plain_zlib_is_refused_by_sshd(sshd: Sshd) -> None:
    """OpenSSH's server dropped pre-auth "zlib": negotiation must fail cleanly on our side."""
    t, _ = connect(sshd, compression=["zlib"])
    with pytest.raises(DisconnectError, match="compression"):
        t.request_service("ssh-userauth", timeout=30)
    t.close()


# -- rekeying with sshd ------------------------------------------------------------------


def _kex_events(t: SyncTransport) -> list[KexComplete]:
    found = []
    while (event := t.next_event()) is not None:
        if isinstance(event, KexComplete):
            found.append(event)
    return found


@pytest.fixture(scope="module")
def user_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[PrivateKey, Path]:
    """A user key and an authorized_keys file holding it."""
    key = generate_private_key("ed25519")
    path = tmp_path_factory.mktemp("user") / "authorized_keys"
    path.write_text(
        f"{key.public_key.algorithm} {base64.b64encode(key.public_key.blob).decode()}\n"
    )
    return key, path


def _logged_in(server: Sshd, key: PrivateKey, **config: object) -> SyncTransport:
    t, _ = connect(server, **config)
    t.request_service("ssh-userauth", timeout=30)
    authenticate_publickey(t, getpass.getuser(), key)
    return t


def _request_round_trip(t: SyncTransport, ignores: tuple[int, ...] = ()) -> None:
    for size in ignores:
        t.send_ignore(bytes(size))
    t.send_message(global_request())
    reply = t.receive_message(30)
    while reply[0] == GLOBAL_REQUEST:  # sshd's hostkeys-00@openssh.com announcement
        reply = t.receive_message(30)
    assert reply[0] == REQUEST_FAILURE


def test_client_survives_sshd_initiated_rekeys(
    sshd_factory: SshdFactory, user_key: tuple[PrivateKey, Path]
) -> None:
    """sshd with RekeyLimit 64K rekeys while we upload 2.4 MB of IGNOREs and keep talking.
    (OpenSSH neither starts nor accepts a rekey before user authentication.)"""
    key, authorized = user_key
    server = sshd_factory.start(RekeyLimit="64K", AuthorizedKeysFile=str(authorized))
    t = _logged_in(server, key, ciphers=["aes128-ctr"], macs=["hmac-sha2-256-etm@openssh.com"])
    try:
        _kex_events(t)  # the first exchange
        session_id = t.session_id
        rekeys = []
        for _ in range(20):
            _request_round_trip(t, (30000,) * 4)
            rekeys += _kex_events(t)
        assert len(rekeys) >= 10
        assert all(not e.first and e.session_id == session_id for e in rekeys)
        assert not t.closed
    finally:
        t.close()
    log = _wait_for_log(server, "Connection closed")
    assert log.count("SSH2_MSG_KEXINIT sent") >= 11, log[-3000:]


def test_client_initiated_rekeys(
    sshd_factory: SshdFactory, user_key: tuple[PrivateKey, Path]
) -> None:
    """Twenty rekeys we start, each followed by a request round trip."""
    key, authorized = user_key
    server = sshd_factory.start(AuthorizedKeysFile=str(authorized))
    t = _logged_in(server, key, kex_algorithms=["curve25519-sha256", "ecdh-sha2-nistp256"])
    try:
        session_id = t.session_id
        for _ in range(20):
            # SyncTransport.rekey() returns on any queued KexComplete, an old one too.
            _kex_events(t)
            t.rekey(timeout=30)
            _request_round_trip(t, (100,))
        assert t.session_id == session_id
    finally:
        t.close()


def test_sshd_refuses_rekey_before_auth(sshd: Sshd) -> None:
    """OpenSSH answers a pre-auth KEXINIT with UNIMPLEMENTED; we must not hang forever."""
    t, _ = connect(sshd)
    try:
        t.request_service("ssh-userauth", timeout=30)
        _kex_events(t)
        with pytest.raises(DisconnectError):
            t.rekey(timeout=1)
    finally:
        t.close()


# -- Terrapin-style injection ------------------------------------------------------------


def _plain_ignore_packet() -> bytes:
    """An unencrypted SSH_MSG_IGNORE packet, as an attacker on the wire can forge."""
    payload = b"\x02" + struct.pack(">I", 0)
    padding = 8 - (5 + len(payload)) % 8
    padding += 8 if padding < 4 else 0
    return struct.pack(">IB", 1 + len(payload) + padding, padding) + payload + bytes(padding)


class InjectingProxy:
    """A TCP proxy that inserts a forged IGNORE after the first KEXINIT in one direction."""

    def __init__(self, target_port: int, inject_towards_client: bool) -> None:
        self.target_port = target_port
        self.inject_towards_client = inject_towards_client
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.injected = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        client, _ = self.listener.accept()
        server = socket.create_connection(("127.0.0.1", self.target_port))
        # Per direction: the bytes seen so far, until the injection point is passed.
        seen = {client: bytearray(), server: bytearray()}
        victim_source = server if self.inject_towards_client else client
        peer = {client: server, server: client}
        try:
            while True:
                ready, _, _ = select.select([client, server], [], [], 10)
                if not ready:
                    return
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is victim_source and not self.injected.is_set():
                        data = self._maybe_inject(seen[sock], data)
                    peer[sock].sendall(data)
        except OSError:
            return
        finally:
            client.close()
            server.close()
            self.listener.close()

    def _maybe_inject(self, buffer: bytearray, data: bytes) -> bytes:
        start = len(buffer)
        buffer += data
        end_of_version = buffer.find(b"\r\n")
        if end_of_version < 0:
            return data
        pos = end_of_version + 2
        if len(buffer) < pos + 4:
            return data
        (length,) = struct.unpack(">I", buffer[pos : pos + 4])
        kexinit_end = pos + 4 + length
        if len(buffer) < kexinit_end:
            return data
        self.injected.set()
        cut = kexinit_end - start
        return data[:cut] + _plain_ignore_packet() + data[cut:]


def test_terrapin_injection_towards_our_client_is_detected(sshd: Sshd) -> None:
    proxy = InjectingProxy(sshd.port, inject_towards_client=True)
    stream = SocketStream(socket.create_connection(("127.0.0.1", proxy.port), timeout=30))
    t = SyncTransport(stream, Role.CLIENT, TransportConfig(), host_key_check=lambda k, a: True)
    with pytest.raises(DisconnectError, match="strict"):
        t.request_service("ssh-userauth", timeout=30)
    assert proxy.injected.is_set()
    t.close()


def test_terrapin_injection_towards_sshd_is_detected(sshd_factory: SshdFactory) -> None:
    server = sshd_factory.start(**COMMON.sshd_options())
    proxy = InjectingProxy(server.port, inject_towards_client=False)
    stream = SocketStream(socket.create_connection(("127.0.0.1", proxy.port), timeout=30))
    t = SyncTransport(stream, Role.CLIENT, TransportConfig(), host_key_check=lambda k, a: True)
    with pytest.raises(DisconnectError):
        t.request_service("ssh-userauth", timeout=30)
    assert proxy.injected.is_set()
    t.close()
    log = _wait_for_log(server, "strict KEX violation")
    assert "strict KEX violation: unexpected packet type 2" in log


# -- OpenSSH's ssh against our server ----------------------------------------------------


@pytest.fixture(scope="module")
def our_server(host_key_files: HostKeyFiles) -> Iterator[OurServer]:
    keys = our_host_keys(host_key_files)

    def config() -> TransportConfig:
        return TransportConfig(host_keys=keys, **COMMON.ssh_server_config())  # type: ignore[arg-type]

    server = OurServer(config)
    yield server
    server.close()


@pytest.fixture(scope="module")
def known_hosts(host_key_files: HostKeyFiles, our_server: OurServer, tmp_path_factory) -> Path:
    """Our server's plain keys for its port, and the CA for its certificates."""
    path = tmp_path_factory.mktemp("ssh") / "known_hosts"
    lines = [
        f"[127.0.0.1]:{our_server.port} {host_key_files.public_line(name).strip()}"
        for name in dict.fromkeys(HOST_KEY_ALGORITHMS.values())
    ]
    ca = (host_key_files.directory / "ca.pub").read_text().strip()
    lines.append(f"@cert-authority * {ca}")
    path.write_text("\n".join(lines) + "\n")
    return path


def ssh_to_ours(server: OurServer, known_hosts: Path, **options: str) -> tuple[str, ServerResult]:
    opts = {"StrictHostKeyChecking": "yes", "UserKnownHostsFile": str(known_hosts), **options}
    result = run_ssh(server.port, opts)
    served = server.next_result()
    assert result.returncode == 255, result.log[-3000:]  # no way in: auth fails as it should
    assert_lines(
        result.log,
        [
            "Authentications that can continue: publickey,password",
            "SSH2_MSG_EXT_INFO received",
            "kex_input_ext_info: server-sig-algs=<",
        ],
    )
    # ssh hangs up after auth: a clean end on our side, never a protocol error.
    assert isinstance(served.error, DisconnectError), served.error
    assert served.auth_requests >= 1
    assert "malformed" not in str(served.error) and "MAC" not in str(served.error)
    return result.log, served


@pytest.mark.parametrize("kex", COMMON.kex)
def test_ssh_kex(our_server: OurServer, known_hosts: Path, kex: str) -> None:
    log, served = ssh_to_ours(our_server, known_hosts, KexAlgorithms=kex)
    assert_lines(log, [f"kex: algorithm: {kex}", "will use strict KEX ordering"])
    assert served.algorithms.kex == kex


#: Every name, ssh-rsa(-cert) too: our RSA keys make SHA-1 signatures for a server told to
#: offer them (the module's server lists every common name), as ssh -oHostKeyAlgorithms=ssh-rsa
#: then checks.
SERVER_HOST_KEYS = COMMON.host_key


@pytest.mark.parametrize("host_key", SERVER_HOST_KEYS)
def test_ssh_host_key(our_server: OurServer, known_hosts: Path, host_key: str) -> None:
    log, served = ssh_to_ours(
        our_server, known_hosts, HostKeyAlgorithms=host_key, KexAlgorithms="curve25519-sha256"
    )
    expected = [f"kex: host key algorithm: {host_key}"]
    if host_key.endswith("-cert-v01@openssh.com"):
        expected += ["host certificate.", "Found CA key in"]
    else:
        expected.append("is known and matches the")
    assert_lines(log, expected)
    assert served.algorithms.host_key == host_key


@pytest.mark.parametrize(
    ("cipher", "mac"), [pytest.param(c, m, id=_pair_id(c, m)) for c, m in CIPHER_MACS]
)
def test_ssh_cipher_mac(
    our_server: OurServer, known_hosts: Path, cipher: str, mac: str | None
) -> None:
    options = {"Ciphers": cipher, "KexAlgorithms": "curve25519-sha256"}
    if mac is not None:
        options["MACs"] = mac
    log, served = ssh_to_ours(our_server, known_hosts, **options)
    shown = mac or "<implicit>"
    assert_lines(
        log,
        [
            f"kex: server->client cipher: {cipher} MAC: {shown} compression: none",
            f"kex: client->server cipher: {cipher} MAC: {shown} compression: none",
        ],
    )
    assert served.algorithms.cipher_client_to_server == cipher


def test_ssh_compression(our_server: OurServer, known_hosts: Path) -> None:
    log, served = ssh_to_ours(our_server, known_hosts, Compression="yes")
    assert "compression: zlib@openssh.com" in log
    assert served.algorithms.compression_server_to_client == "zlib@openssh.com"


HOSTBOUND = "publickey-hostbound-v00@openssh.com"


def _login_flood_refuse(total: int) -> Callable[[SyncTransport, ServerResult], None]:
    """Server handler: publickey auth by hand (RFC 4252 7), then ``total`` bytes of random
    IGNOREs (rekeying every rekey_bytes, waiting for each exchange), then refuse the
    session channel so that ssh exits."""

    def handler(t: SyncTransport, result: ServerResult) -> None:
        t.wait_for_service(30)
        while True:
            message = t.receive_message(30)
            r = Reader(message)
            assert r.byte() == USERAUTH_REQUEST
            result.auth_requests += 1
            r.text(), r.text()
            method = r.text()
            if method not in ("publickey", HOSTBOUND):
                t.send_message(auth_failure(["publickey"]))
                continue
            has_signature = r.boolean()
            algorithm, blob = r.text(), r.string()
            if not has_signature:
                t.send_message(Writer().byte(60).text(algorithm).string(blob).getvalue())
                continue
            if method == HOSTBOUND:  # our server announced publickey-hostbound@openssh.com
                assert r.string() in {k.public_key.blob for k in t.config.host_keys}
            signed = message[: r.offset]
            signature = r.string()
            assert t.session_id is not None
            data = Writer().string(t.session_id).raw(signed).getvalue()
            parse_public_key_blob(blob).verify(data, signature)
            t.send_message(bytes([USERAUTH_SUCCESS]))
            break
        for _ in range(total // 30000):
            t.send_ignore(os.urandom(30000))  # random: zlib must not shrink it
        while True:
            message = t.receive_message(30)
            if message[0] == 90:  # CHANNEL_OPEN: refuse it (no connection layer here)
                r = Reader(message)
                r.byte(), r.text()
                sender = r.uint32()
                refusal = Writer().byte(92).uint32(sender).uint32(1).text("no").text("")
                t.send_message(refusal.getvalue())

    return handler


@pytest.mark.parametrize("compression", ["no", "yes"])
def test_ssh_with_our_server_rekeying_under_traffic(
    host_key_files: HostKeyFiles, tmp_path: Path, compression: str
) -> None:
    """Both sides rekey every 64K while our server sends 2 MB after (hand-made) auth; with
    compression, zlib@openssh.com starts right after USERAUTH_SUCCESS under that traffic."""
    keys = our_host_keys(host_key_files, certified=False)
    run_keygen("-t", "ed25519", "-N", "", "-f", tmp_path / "id")
    server = OurServer(
        lambda: TransportConfig(host_keys=keys, rekey_bytes=64 * 1024),
        _login_flood_refuse(1_200_000),
    )
    try:
        result = run_ssh(
            server.port,
            {"RekeyLimit": "64K", "IdentityFile": str(tmp_path / "id"), "Compression": compression},
        )
        served = server.next_result()
    finally:
        server.close()
    assert_lines(result.log, ["Authenticated to 127.0.0.1", "channel 0: open failed"])
    if compression == "yes":
        assert "Enabling compression at level 6." in result.log
        assert served.algorithms.compression_server_to_client == "zlib@openssh.com"
    assert isinstance(served.error, DisconnectError), served.error
    assert "protocol" not in str(served.error).lower(), served.error
    rekeys = [e for e in served.events if isinstance(e, KexComplete) and not e.first]
    assert len(rekeys) >= 10
    assert result.log.count("SSH2_MSG_NEWKEYS received") >= 11


def _flood_before_auth(t: SyncTransport, result: ServerResult) -> None:
    t.wait_for_service(30)
    assert t.receive_message(30)[0] == USERAUTH_REQUEST
    for _ in range(10):  # 300 KB > rekey_bytes: the core wants to rekey, pre-auth
        t.send_ignore(bytes(30000))
    t.send_message(auth_failure(METHODS))
    while True:
        t.receive_message(30)


def test_our_server_defers_rekey_until_authenticated(host_key_files: HostKeyFiles) -> None:
    keys = our_host_keys(host_key_files, certified=False)
    server = OurServer(
        lambda: TransportConfig(host_keys=keys, rekey_bytes=64 * 1024), _flood_before_auth
    )
    try:
        result = run_ssh(server.port, {})
        server.next_result()
    finally:
        server.close()
    assert_lines(result.log, ["Authentications that can continue: publickey,password"])
