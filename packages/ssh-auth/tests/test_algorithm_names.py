"""User authentication and the transport read algorithm names from the same ssh-keys table."""

from __future__ import annotations

import pytest

import ssh_keys
from ssh_auth import algorithms
from ssh_keys import CertType, generate_private_key, sign_certificate
from ssh_transport import hostkeys

NAMES = [a.name for a in ssh_keys.algorithm_specs()]


@pytest.mark.parametrize("name", NAMES)
def test_auth_and_transport_agree(name: str) -> None:
    assert algorithms.key_type_for(name) == hostkeys.key_type_for(name)
    assert algorithms.signature_algorithm_for(name) == hostkeys.signature_algorithm_for(name)


def test_unknown_names_map_to_themselves() -> None:
    # A peer's name we do not know matches no key; it never raises inside the server core.
    assert algorithms.key_type_for("x-unknown@example.com") == "x-unknown@example.com"
    assert algorithms.signature_algorithm_for("x-unknown@example.com") == "x-unknown@example.com"
    assert algorithms.with_certificate_variants(["x-unknown@example.com"]) == (
        "x-unknown@example.com",
    )


def test_certificate_variants_include_security_keys() -> None:
    names = algorithms.with_certificate_variants(
        ["sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com", "rsa-sha2-256"]
    )
    assert names == (
        "sk-ssh-ed25519@openssh.com",
        "sk-ssh-ed25519-cert-v01@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
        "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "rsa-sha2-256",
        "rsa-sha2-256-cert-v01@openssh.com",
    )


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_request_algorithm_for_certificates(kind: str) -> None:
    key = generate_private_key(kind, 2048 if kind == "rsa" else None)
    cert = sign_certificate(key, key.public_key, cert_type=CertType.USER, principals=["u"])
    for signature in key.algorithms:
        name = algorithms.request_algorithm(cert, signature)
        assert algorithms.signature_algorithm_for(name) == signature
        assert algorithms.key_type_for(name) == cert.algorithm
        assert algorithms.request_algorithm(key.public_key, signature) == signature


def test_key_arguments_take_lines_or_raise_type_error() -> None:
    from ssh_auth import CertifiedSigner, StandardPolicy, key_candidates

    key = generate_private_key("ed25519")
    cert = sign_certificate(key, key.public_key, cert_type=CertType.USER, principals=["u"])
    line = ssh_keys.parse_public_key_line(cert.to_line("id-cert"))  # as read from -cert.pub
    assert CertifiedSigner(key, line).public_key == cert  # type: ignore[arg-type]
    assert key_candidates(key, line)[0].public_key == cert  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="certificate"):
        CertifiedSigner(key, key.public_key)  # type: ignore[arg-type]
    StandardPolicy(trusted_user_ca_keys=[ssh_keys.parse_public_key_line(key.public_key.to_line())])
    with pytest.raises(TypeError, match="trusted user CA key must be a PublicKey"):
        StandardPolicy(trusted_user_ca_keys=["ssh-ed25519 AAAA"])  # type: ignore[list-item]


def test_sha1_user_signature_only_when_both_sides_opt_in() -> None:
    from auth_pair import AuthPair, host_key, key

    from ssh_auth import AuthenticationSucceeded, SignatureRequested, StandardPolicy
    from ssh_keys import AuthorizedKeys
    from ssh_transport import TransportConfig

    rsa = key("rsa")
    keys = AuthorizedKeys(rsa.public_key.to_line())
    policy = StandardPolicy(authorized_keys=lambda user: keys)
    cfg = TransportConfig(host_keys=(host_key(),), server_sig_algs=("ssh-rsa",))
    pair = AuthPair(policy, server_config=cfg)
    # The client never picks SHA-1 by itself...
    assert pair.c.signature_algorithm(rsa) is None
    # ...but signs with it when told to, and a server listing it accepts it.
    pair.c.try_publickey(rsa, algorithm="ssh-rsa")
    pair.pump()
    assert pair.of(pair.client_events, SignatureRequested)[0].algorithm == "ssh-rsa"
    assert pair.of(pair.client_events, AuthenticationSucceeded)
