"""Algorithm lists (OpenSSH modifiers), the RFC 4253 7.1 choice, and guessed kex packets."""

from __future__ import annotations

from dataclasses import replace

import pytest
from transport_pair import Pair, server_config

from ssh_transport import kex
from ssh_transport.config import TransportConfig
from ssh_transport.events import KexComplete
from ssh_transport.handshake import Handshake
from ssh_transport.messages import KexInit
from ssh_transport.negotiation import (
    PSEUDO_KEX_NAMES,
    apply_modifiers,
    choose,
    guess_was_right,
    negotiate,
)
from ssh_transport.transport import Role, Transport
from ssh_wire import DisconnectError, DisconnectReason

DEFAULTS = ("a", "b-1", "b-2", "c")
SUPPORTED = (*DEFAULTS, "x", "y")


class TestApplyModifiers:
    def test_none_keeps_defaults(self) -> None:
        assert apply_modifiers(DEFAULTS, None, SUPPORTED) == DEFAULTS

    def test_plain_string_replaces(self) -> None:
        assert apply_modifiers(DEFAULTS, "x,a", SUPPORTED) == ("x", "a")

    def test_plain_sequence_replaces_and_dedups(self) -> None:
        assert apply_modifiers(DEFAULTS, ["y", "a", "y"], SUPPORTED) == ("y", "a")

    def test_plus_appends(self) -> None:
        assert apply_modifiers(DEFAULTS, "+x,a,y", SUPPORTED) == (*DEFAULTS, "x", "y")

    def test_minus_removes_with_wildcards(self) -> None:
        assert apply_modifiers(DEFAULTS, "-b-*", SUPPORTED) == ("a", "c")
        assert apply_modifiers(DEFAULTS, "-a,c", SUPPORTED) == ("b-1", "b-2")

    def test_minus_unknown_is_harmless(self) -> None:
        # Removing a name nobody offers changes nothing (as in ssh_config).
        assert apply_modifiers(DEFAULTS, "-nonesuch", SUPPORTED) == DEFAULTS

    def test_caret_puts_first(self) -> None:
        assert apply_modifiers(DEFAULTS, "^c,x", SUPPORTED) == ("c", "x", "a", "b-1", "b-2")

    @pytest.mark.parametrize("spec", ["nonesuch", "+nonesuch", "^nonesuch", ["a", "zz"]])
    def test_unknown_names(self, spec: str | list[str]) -> None:
        with pytest.raises(ValueError, match="unknown cipher"):
            apply_modifiers(DEFAULTS, spec, SUPPORTED, "cipher")

    @pytest.mark.parametrize("spec", ["", [], ","])
    def test_empty_list(self, spec: str | list[str]) -> None:
        with pytest.raises(ValueError, match="empty"):
            apply_modifiers(DEFAULTS, spec, SUPPORTED)

    def test_config_resolves_real_lists(self) -> None:
        lists = TransportConfig(
            kex_algorithms="+diffie-hellman-group14-sha1",
            ciphers="-aes*-gcm@openssh.com",
            macs="^hmac-sha2-512",
            compression=["zlib@openssh.com", "none"],
        ).algorithm_lists()
        assert lists.kex[-1] == "diffie-hellman-group14-sha1"
        assert lists.kex[:-1] == kex.default_kex()
        assert not any("gcm" in c for c in lists.ciphers)
        assert lists.macs[0] == "hmac-sha2-512"
        assert lists.compression == ("zlib@openssh.com", "none")

    def test_config_unknown_name(self) -> None:
        with pytest.raises(ValueError, match="unknown kex method"):
            TransportConfig(kex_algorithms="curve448-sha512").algorithm_lists()
        with pytest.raises(ValueError, match="unknown cipher"):
            Transport(Role.CLIENT, TransportConfig(ciphers="+rot13"))


class TestChoose:
    def test_first_client_name_the_server_has(self) -> None:
        assert choose(["a", "b", "c"], ["c", "b"], "x") == "b"

    def test_no_match(self) -> None:
        with pytest.raises(DisconnectError) as info:
            choose(["a"], ["b"], "cipher")
        assert info.value.reason == DisconnectReason.KEY_EXCHANGE_FAILED
        assert "no matching cipher" in info.value.description

    @pytest.mark.parametrize("pseudo", sorted(PSEUDO_KEX_NAMES))
    def test_pseudo_names_never_chosen(self, pseudo: str) -> None:
        assert choose([pseudo, "real"], [pseudo, "real"], "kex") == "real"
        with pytest.raises(DisconnectError):
            choose([pseudo], [pseudo], "kex")


def kexinit(**kw: object) -> KexInit:
    base = KexInit(
        bytes(16),
        ("curve25519-sha256", "ecdh-sha2-nistp256"),
        ("ssh-ed25519", "rsa-sha2-256"),
        ("aes128-ctr", "chacha20-poly1305@openssh.com"),
        ("chacha20-poly1305@openssh.com", "aes128-ctr"),
        ("hmac-sha2-256",),
        ("hmac-sha2-512", "hmac-sha2-256"),
        ("none",),
        ("zlib@openssh.com", "none"),
        (),
        (),
        False,
        0,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


class TestNegotiate:
    AEAD = frozenset({"chacha20-poly1305@openssh.com"})

    def test_each_direction_independent(self) -> None:
        client = kexinit()
        server = kexinit(
            kex_algorithms=("ecdh-sha2-nistp256", "curve25519-sha256"),
            server_host_key_algorithms=("rsa-sha2-256", "ssh-ed25519"),
        )
        algs = negotiate(client, server, aead=self.AEAD)
        assert algs.kex == "curve25519-sha256"  # the client's preference wins
        assert algs.host_key == "ssh-ed25519"
        assert algs.cipher_client_to_server == "aes128-ctr"
        assert algs.cipher_server_to_client == "chacha20-poly1305@openssh.com"
        assert algs.mac_client_to_server == "hmac-sha2-256"
        assert algs.mac_server_to_client == "<implicit>"  # AEAD: no MAC negotiated
        assert algs.compression_server_to_client == "zlib@openssh.com"

    def test_aead_needs_no_common_mac(self) -> None:
        client = kexinit(
            encryption_client_to_server=("chacha20-poly1305@openssh.com",),
            mac_client_to_server=("hmac-sha1",),
        )
        algs = negotiate(client, kexinit(), aead=self.AEAD)
        assert algs.mac_client_to_server == "<implicit>"

    def test_host_key_limited_to_keys_held(self) -> None:
        algs = negotiate(kexinit(), kexinit(), aead=self.AEAD, host_key_ok=("rsa-sha2-256",))
        assert algs.host_key == "rsa-sha2-256"
        with pytest.raises(DisconnectError, match="host key"):
            negotiate(kexinit(), kexinit(), aead=self.AEAD, host_key_ok=("ssh-dss",))

    @pytest.mark.parametrize(
        "field",
        [
            "kex_algorithms",
            "server_host_key_algorithms",
            "encryption_client_to_server",
            "mac_server_to_client",
            "compression_client_to_server",
        ],
    )
    def test_no_common_algorithm(self, field: str) -> None:
        server = kexinit(**{field: ("nothing-in-common",)})
        with pytest.raises(DisconnectError) as info:
            negotiate(kexinit(), server, aead=frozenset())
        assert info.value.reason == DisconnectReason.KEY_EXCHANGE_FAILED

    def test_in_memory_mismatch_disconnects_both(self) -> None:
        pair = Pair(TransportConfig(ciphers="aes128-ctr"), server_config(ciphers="aes256-ctr"))
        pair.pump()
        for role in Role:
            error = pair.terminated(role).error
            assert error is not None
            # The side that found no match says why; the other hears its DISCONNECT.
            assert error.reason == DisconnectReason.KEY_EXCHANGE_FAILED


class TestGuess:
    def test_right_when_both_first_choices_match(self) -> None:
        assert guess_was_right(kexinit(), kexinit())

    def test_wrong_when_kex_differs(self) -> None:
        server = kexinit(kex_algorithms=("ecdh-sha2-nistp256", "curve25519-sha256"))
        assert not guess_was_right(kexinit(), server)

    def test_wrong_when_host_key_differs(self) -> None:
        server = kexinit(server_host_key_algorithms=("rsa-sha2-256", "ssh-ed25519"))
        assert not guess_was_right(kexinit(), server)

    def test_empty_lists(self) -> None:
        assert not guess_was_right(kexinit(kex_algorithms=()), kexinit())


class _GuessingHandshake(Handshake):
    """Sets first_kex_packet_follows and sends a guessed packet."""

    guess = b"\x1e" + b"\x00\x00\x00\x04junk"  # a KEX_ECDH_INIT that would not parse

    def kexinit(self) -> KexInit:
        return replace(super().kexinit(), first_kex_packet_follows=not self.first_done)

    def start(self) -> None:
        super().start()
        if not self.first_done:
            self._t._send_packet(self.guess)


class _GuessingClient(Transport):
    _handshake_type = _GuessingHandshake


def guessing_pair(server_kex: str) -> Pair:
    pair = Pair(server_cfg=server_config(kex_algorithms=server_kex))
    config = TransportConfig(kex_algorithms="curve25519-sha256", host_key_algorithms="ssh-ed25519")
    pair.client = _GuessingClient(Role.CLIENT, config)
    return pair


def test_wrong_guess_is_skipped_by_the_server() -> None:
    pair = guessing_pair("ecdh-sha2-nistp256,curve25519-sha256")
    pair.handshake()
    (done,) = pair.of_type(Role.SERVER, KexComplete)
    assert done.algorithms.kex == "curve25519-sha256"


def test_right_guess_is_used_by_the_server() -> None:
    # Same first choices: the garbage guess is processed as the real KEX_ECDH_INIT.
    pair = guessing_pair("curve25519-sha256")
    pair.pump()
    error = pair.terminated(Role.SERVER).error
    assert error is not None and error.reason == DisconnectReason.KEY_EXCHANGE_FAILED


@pytest.mark.parametrize("role", list(Role))
def test_negotiation_failure_names_whose_list_is_whose(role: Role) -> None:
    client = TransportConfig(ciphers="aes128-ctr")
    pair = Pair(client, server_config(ciphers="aes256-gcm@openssh.com"))
    pair.pump()
    error = pair.terminated(role).error
    assert error is not None and error.reason == DisconnectReason.KEY_EXCHANGE_FAILED
    assert "client offers aes128-ctr;" in error.description
    assert "server offers aes256-gcm@openssh.com" in error.description
    assert "we offer" not in error.description and "peer offers" not in error.description
