"""Host key algorithms: the names come from ssh-keys' table; legacy ssh-rsa is really served
when asked for; what cannot be served raises at configuration time; RSA certificates."""

from __future__ import annotations

import functools

import pytest
from cryptography.hazmat.primitives.asymmetric import dsa
from transport_pair import Pair, ca_key, host_key, private_key, server_config

import ssh_keys
from ssh_keys import (
    CertType,
    PrivateKey,
    PublicKey,
    private_key_from_crypto,
    sign_certificate,
    split_signature,
)
from ssh_transport import hostkeys
from ssh_transport.config import TransportConfig
from ssh_transport.events import HostKeyReceived
from ssh_transport.hostkeys import HostKey
from ssh_transport.transport import Role, Transport
from ssh_wire import DisconnectReason


@pytest.mark.parametrize("name", hostkeys.SUPPORTED_HOST_KEY_ALGORITHMS)
def test_names_mean_what_the_ssh_keys_table_says(name: str) -> None:
    assert hostkeys.key_type_for(name) == ssh_keys.key_type_for(name)
    assert hostkeys.signature_algorithm_for(name) == ssh_keys.signature_algorithm_for(name)


def test_security_key_certificate_signs_with_the_security_key_algorithm() -> None:
    name = "sk-ssh-ed25519-cert-v01@openssh.com"
    assert hostkeys.signature_algorithm_for(name) == "sk-ssh-ed25519@openssh.com"
    assert hostkeys.key_type_for(name) == name
    name = "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com"
    assert hostkeys.signature_algorithm_for(name) == "sk-ecdsa-sha2-nistp256@openssh.com"


def test_defaults_have_no_sha1_and_legacy_has_it() -> None:
    for name in hostkeys.DEFAULT_HOST_KEY_ALGORITHMS:
        assert not ssh_keys.algorithm_spec(name).legacy
    assert set(hostkeys.LEGACY_HOST_KEY_ALGORITHMS) == {
        "ssh-rsa",
        "ssh-rsa-cert-v01@openssh.com",
        "ssh-dss",
        "ssh-dss-cert-v01@openssh.com",
    }
    assert "ssh-rsa" not in host_key("rsa").algorithms()[:2]
    assert "ssh-rsa" not in TransportConfig().algorithm_lists().host_key


# -- +ssh-rsa is really served ------------------------------------------------------------


def _offered(pair: Pair) -> tuple[str, ...]:
    return pair.server._handshake.kexinit().server_host_key_algorithms


@pytest.mark.parametrize(
    ("certified", "name"), [(False, "ssh-rsa"), (True, "ssh-rsa-cert-v01@openssh.com")]
)
def test_server_configured_with_sha1_offers_and_uses_it(certified: bool, name: str) -> None:
    hk = host_key("rsa", certified)
    pair = Pair(
        TransportConfig(host_key_algorithms=[name]),
        server_config([hk], host_key_algorithms=f"+{name}"),
    )
    assert name in _offered(pair)
    pair.handshake()
    (received,) = pair.of_type(Role.CLIENT, HostKeyReceived)
    assert received.algorithm == name
    assert pair.server.algorithms is not None and pair.server.algorithms.host_key == name


def test_sha1_is_not_offered_unless_configured() -> None:
    pair = Pair(TransportConfig(host_key_algorithms="ssh-rsa"), server_config([host_key("rsa")]))
    assert "ssh-rsa" not in _offered(pair)
    pair.pump()
    error = pair.terminated(Role.CLIENT).error
    assert error is not None and error.reason == DisconnectReason.KEY_EXCHANGE_FAILED


def test_default_client_never_takes_sha1_from_a_server() -> None:
    pair = Pair(server_cfg=server_config([host_key("rsa")], host_key_algorithms="ssh-rsa"))
    assert _offered(pair) == ("ssh-rsa",)
    pair.pump()
    error = pair.terminated(Role.CLIENT).error
    assert error is not None and error.reason == DisconnectReason.KEY_EXCHANGE_FAILED


# -- what cannot be served raises when configured -------------------------------------------


@functools.cache
def _dsa_key() -> PrivateKey:
    return private_key_from_crypto(dsa.generate_private_key(1024))


@pytest.mark.parametrize(
    ("keys", "spec", "name"),
    [
        (["ed25519"], "+ssh-rsa", "ssh-rsa"),
        (["rsa"], "+ssh-rsa-cert-v01@openssh.com", "ssh-rsa-cert-v01@openssh.com"),
        (["rsa"], "^rsa-sha2-256-cert-v01@openssh.com", "rsa-sha2-256-cert-v01@openssh.com"),
        (["ed25519"], ["ssh-ed25519", "ecdsa-sha2-nistp256"], "ecdsa-sha2-nistp256"),
        (["ed25519"], "+ssh-dss", "ssh-dss"),
    ],
)
def test_unservable_host_key_algorithm_raises(
    keys: list[str], spec: str | list[str], name: str
) -> None:
    host_keys = [HostKey(_dsa_key()) if k == "dsa" else host_key(k) for k in keys]
    config = server_config(host_keys, host_key_algorithms=spec)
    with pytest.raises(ValueError, match=name):
        Transport(Role.SERVER, config)


def test_servable_and_client_configurations_are_fine() -> None:
    Transport(Role.SERVER, server_config([host_key("ed25519")], host_key_algorithms="-rsa*"))
    Transport(Role.SERVER, server_config([host_key("rsa")], host_key_algorithms="+ssh-rsa"))
    # DSA signs only when named; by default a DSA host key is simply not offered.
    Transport(Role.SERVER, server_config([HostKey(_dsa_key())], host_key_algorithms="+ssh-dss"))
    assert HostKey(_dsa_key()).algorithms() == ("ssh-dss",)
    # A client has no host keys: anything supported may be asked for.
    Transport(Role.CLIENT, TransportConfig(host_key_algorithms="+ssh-rsa,ssh-dss"))


def test_host_key_takes_a_certificate_line_and_refuses_a_public_key_as_signer() -> None:
    cert = host_key("ed25519", True).certificate
    assert cert is not None
    line = ssh_keys.parse_public_key_line(cert.to_line("host cert"))
    assert HostKey(private_key("ed25519"), line).certificate == cert  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="certificate"):
        HostKey(private_key("ed25519"), private_key("ed25519").public_key)
    with pytest.raises(TypeError, match="signer"):
        HostKey(line)  # type: ignore[arg-type]


# -- RSA certificates signing with SHA-2 under ssh-rsa-cert-v01 -----------------------------


class FixedAlgorithmSigner:
    """Signs with one algorithm whatever it is asked for, as AsyncSSH's server does for
    ssh-rsa-cert-v01@openssh.com (it sends rsa-sha2-256)."""

    def __init__(self, key: PrivateKey, algorithm: str) -> None:
        self.key = key
        self.algorithm = algorithm

    @property
    def public_key(self) -> PublicKey:
        return self.key.public_key

    @property
    def algorithms(self) -> tuple[str, ...]:
        return ("rsa-sha2-512", "rsa-sha2-256")

    @property
    def legacy_algorithms(self) -> tuple[str, ...]:
        return ("ssh-rsa",)

    def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
        return self.key.sign(data, self.algorithm)


def _rsa_cert_pair(client_name: str, signs_with: str) -> Pair:
    signer = FixedAlgorithmSigner(private_key("rsa"), signs_with)
    cert = sign_certificate(ca_key(), signer.public_key, cert_type=CertType.HOST)
    server = server_config([HostKey(signer, cert)], host_key_algorithms=f"+{client_name}")
    return Pair(TransportConfig(host_key_algorithms=[client_name]), server)


@pytest.mark.parametrize("signs_with", ["rsa-sha2-256", "rsa-sha2-512", "ssh-rsa"])
def test_rsa_certificate_may_sign_with_any_rsa_hash_under_ssh_rsa_cert(signs_with: str) -> None:
    pair = _rsa_cert_pair("ssh-rsa-cert-v01@openssh.com", signs_with).handshake()
    (received,) = pair.of_type(Role.CLIENT, HostKeyReceived)
    assert received.algorithm == "ssh-rsa-cert-v01@openssh.com"


@pytest.mark.parametrize(
    ("negotiated", "signs_with"),
    [
        ("ssh-rsa", "rsa-sha2-256"),  # plain names fix the hash, as in OpenSSH
        ("rsa-sha2-256-cert-v01@openssh.com", "rsa-sha2-512"),
        ("rsa-sha2-512-cert-v01@openssh.com", "ssh-rsa"),
    ],
)
def test_other_names_still_need_their_own_signature(negotiated: str, signs_with: str) -> None:
    if negotiated == "ssh-rsa":
        signer = FixedAlgorithmSigner(private_key("rsa"), signs_with)
        server = server_config([HostKey(signer)], host_key_algorithms="+ssh-rsa")
        pair = Pair(TransportConfig(host_key_algorithms=["ssh-rsa"]), server)
    else:
        pair = _rsa_cert_pair(negotiated, signs_with)
    pair.pump()
    error = pair.terminated(Role.CLIENT).error
    assert error is not None and error.reason == DisconnectReason.KEY_EXCHANGE_FAILED
    assert "signed with" in str(error) or "signature" in str(error)
    assert not pair.of_type(Role.CLIENT, HostKeyReceived)


def test_signature_algorithm_of_a_real_exchange() -> None:
    # Our own server signs what the name says (SHA-1 for ssh-rsa-cert-v01, as OpenSSH).
    signatures: list[str] = []
    key = private_key("rsa")

    class Recording(FixedAlgorithmSigner):
        def sign(self, data: bytes, algorithm: str | None = None) -> bytes:
            signature = key.sign(data, algorithm)
            signatures.append(split_signature(signature)[0])
            return signature

    signer = Recording(key, "")
    cert = sign_certificate(ca_key(), key.public_key, cert_type=CertType.HOST)
    name = "ssh-rsa-cert-v01@openssh.com"
    server = server_config([HostKey(signer, cert)], host_key_algorithms=f"+{name}")
    Pair(TransportConfig(host_key_algorithms=[name]), server).handshake()
    assert signatures == ["ssh-rsa"]
