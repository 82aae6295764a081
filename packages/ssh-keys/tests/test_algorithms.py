"""The algorithm table: every name both ways, and key types registered at run time."""

from __future__ import annotations

import pytest

from ssh_keys import (
    Certificate,
    CertType,
    PublicKey,
    UnsupportedAlgorithm,
    accepted_signature_algorithms,
    algorithm_spec,
    algorithm_specs,
    algorithms_for,
    certificate_algorithm_for,
    certificate_type_for,
    certified_key_type,
    generate_private_key,
    is_certificate_type,
    key_type_for,
    key_type_spec,
    parse_public_key_blob,
    register_key_type,
    sign_certificate,
    signature_algorithm_for,
    signer_algorithms,
)
from ssh_keys.algorithms import KEY_TYPES as BUILTIN
from ssh_wire import Reader, Writer

RSA_ALL = ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")

#: algorithm -> (key type of the blob, signature algorithm, legacy), written out by hand.
EXPECTED = {
    "ssh-ed25519": ("ssh-ed25519", "ssh-ed25519", False),
    "ecdsa-sha2-nistp256": ("ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256", False),
    "ecdsa-sha2-nistp384": ("ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384", False),
    "ecdsa-sha2-nistp521": ("ecdsa-sha2-nistp521", "ecdsa-sha2-nistp521", False),
    "sk-ssh-ed25519@openssh.com": (
        "sk-ssh-ed25519@openssh.com",
        "sk-ssh-ed25519@openssh.com",
        False,
    ),
    "sk-ecdsa-sha2-nistp256@openssh.com": (
        "sk-ecdsa-sha2-nistp256@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
        False,
    ),
    "rsa-sha2-512": ("ssh-rsa", "rsa-sha2-512", False),
    "rsa-sha2-256": ("ssh-rsa", "rsa-sha2-256", False),
    "ssh-rsa": ("ssh-rsa", "ssh-rsa", True),
    "ssh-dss": ("ssh-dss", "ssh-dss", True),
    "ssh-ed25519-cert-v01@openssh.com": (
        "ssh-ed25519-cert-v01@openssh.com",
        "ssh-ed25519",
        False,
    ),
    "ecdsa-sha2-nistp256-cert-v01@openssh.com": (
        "ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "ecdsa-sha2-nistp256",
        False,
    ),
    "ecdsa-sha2-nistp384-cert-v01@openssh.com": (
        "ecdsa-sha2-nistp384-cert-v01@openssh.com",
        "ecdsa-sha2-nistp384",
        False,
    ),
    "ecdsa-sha2-nistp521-cert-v01@openssh.com": (
        "ecdsa-sha2-nistp521-cert-v01@openssh.com",
        "ecdsa-sha2-nistp521",
        False,
    ),
    # The bug this table fixed: the signature is sk-ssh-ed25519@openssh.com, not
    # "sk-ssh-ed25519" (which is no algorithm at all).
    "sk-ssh-ed25519-cert-v01@openssh.com": (
        "sk-ssh-ed25519-cert-v01@openssh.com",
        "sk-ssh-ed25519@openssh.com",
        False,
    ),
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com": (
        "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
        False,
    ),
    "rsa-sha2-512-cert-v01@openssh.com": (
        "ssh-rsa-cert-v01@openssh.com",
        "rsa-sha2-512",
        False,
    ),
    "rsa-sha2-256-cert-v01@openssh.com": (
        "ssh-rsa-cert-v01@openssh.com",
        "rsa-sha2-256",
        False,
    ),
    "ssh-rsa-cert-v01@openssh.com": ("ssh-rsa-cert-v01@openssh.com", "ssh-rsa", True),
    "ssh-dss-cert-v01@openssh.com": ("ssh-dss-cert-v01@openssh.com", "ssh-dss", True),
}

#: key type -> (certificate type, signature algorithms preferred first)
KEY_TYPES = {
    "ssh-ed25519": ("ssh-ed25519-cert-v01@openssh.com", ("ssh-ed25519",)),
    "ecdsa-sha2-nistp256": ("ecdsa-sha2-nistp256-cert-v01@openssh.com", ("ecdsa-sha2-nistp256",)),
    "ecdsa-sha2-nistp384": ("ecdsa-sha2-nistp384-cert-v01@openssh.com", ("ecdsa-sha2-nistp384",)),
    "ecdsa-sha2-nistp521": ("ecdsa-sha2-nistp521-cert-v01@openssh.com", ("ecdsa-sha2-nistp521",)),
    "sk-ssh-ed25519@openssh.com": (
        "sk-ssh-ed25519-cert-v01@openssh.com",
        ("sk-ssh-ed25519@openssh.com",),
    ),
    "sk-ecdsa-sha2-nistp256@openssh.com": (
        "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
        ("sk-ecdsa-sha2-nistp256@openssh.com",),
    ),
    "ssh-rsa": ("ssh-rsa-cert-v01@openssh.com", RSA_ALL),
    "ssh-dss": ("ssh-dss-cert-v01@openssh.com", ("ssh-dss",)),
}


def test_the_table_has_exactly_the_expected_names() -> None:
    # Other tests register key types; the built-in ones are what is checked here.
    plain = {spec.name for spec in BUILTIN}
    names = [a.name for a in algorithm_specs() if a.plain_key_type in plain]
    assert sorted(names) == sorted(EXPECTED)
    assert [spec.name for spec in BUILTIN] == list(KEY_TYPES)


@pytest.mark.parametrize("algorithm", list(EXPECTED))
def test_algorithm_to_key_type_and_signature(algorithm: str) -> None:
    key_type, signature, legacy = EXPECTED[algorithm]
    assert key_type_for(algorithm) == key_type
    assert signature_algorithm_for(algorithm) == signature
    spec = algorithm_spec(algorithm)
    assert spec.legacy is legacy
    assert spec.is_certificate is is_certificate_type(key_type)
    assert spec.is_certificate is algorithm.endswith("-cert-v01@openssh.com")
    # The signature algorithm is one the plain key type makes.
    plain = certified_key_type(key_type) if spec.is_certificate else key_type
    assert spec.plain_key_type == plain
    assert signature in KEY_TYPES[plain][1]


@pytest.mark.parametrize("key_type", list(KEY_TYPES))
def test_key_type_to_certificate_and_algorithms(key_type: str) -> None:
    cert_type, signatures = KEY_TYPES[key_type]
    assert certificate_type_for(key_type) == cert_type
    assert certified_key_type(cert_type) == key_type
    assert is_certificate_type(cert_type) and not is_certificate_type(key_type)
    spec = key_type_spec(key_type)
    assert spec is key_type_spec(cert_type)
    assert spec.signature_algorithms == signatures
    # The other way round: key type -> algorithm names -> the same key type again.
    plain_names = algorithms_for(key_type, legacy=True)
    cert_names = algorithms_for(cert_type, legacy=True)
    assert [signature_algorithm_for(n) for n in plain_names] == list(signatures)
    assert [signature_algorithm_for(n) for n in cert_names] == list(signatures)
    assert {key_type_for(n) for n in plain_names} == {key_type}
    assert {key_type_for(n) for n in cert_names} == {cert_type}
    for plain, cert in zip(plain_names, cert_names, strict=True):
        assert certificate_algorithm_for(plain) == cert
        assert certificate_algorithm_for(cert) == cert
    # Without legacy, SHA-1 names are left out.
    assert all(not algorithm_spec(n).legacy for n in algorithms_for(key_type))


def test_defaults_leave_sha1_out() -> None:
    assert algorithms_for("ssh-rsa") == ("rsa-sha2-512", "rsa-sha2-256")
    assert algorithms_for("ssh-rsa-cert-v01@openssh.com") == (
        "rsa-sha2-512-cert-v01@openssh.com",
        "rsa-sha2-256-cert-v01@openssh.com",
    )
    assert algorithms_for("ssh-dss") == ()
    assert key_type_spec("ssh-rsa").default_signature_algorithms == RSA_ALL[:2]


def test_algorithms_for_a_key_object() -> None:
    key = generate_private_key("ed25519")
    assert algorithms_for(key.public_key) == ("ssh-ed25519",)
    cert = sign_certificate(key, key.public_key, cert_type=CertType.HOST)
    assert algorithms_for(cert) == ("ssh-ed25519-cert-v01@openssh.com",)


def test_accepted_signatures_under_a_negotiated_name() -> None:
    # OpenSSH accepts any RSA signature under the old ssh-rsa-cert-v01 name...
    assert accepted_signature_algorithms("ssh-rsa-cert-v01@openssh.com") == RSA_ALL
    # ...and only the named one everywhere else.
    for name in EXPECTED:
        if name != "ssh-rsa-cert-v01@openssh.com":
            assert accepted_signature_algorithms(name) == (signature_algorithm_for(name),)


@pytest.mark.parametrize(
    "name", ["sk-ssh-ed25519", "ssh-ed25519-cert", "rsa-sha2-384", "", "nope-cert-v01@openssh.com"]
)
def test_unknown_names_raise(name: str) -> None:
    for fn in (key_type_for, signature_algorithm_for, accepted_signature_algorithms):
        with pytest.raises(UnsupportedAlgorithm):
            fn(name)
    with pytest.raises(UnsupportedAlgorithm):
        certificate_type_for(name)
    with pytest.raises(UnsupportedAlgorithm):
        certified_key_type(name)
    assert not is_certificate_type(name)


def test_signer_algorithms() -> None:
    rsa = generate_private_key("rsa", 2048)
    assert signer_algorithms(rsa) == RSA_ALL[:2]
    assert signer_algorithms(rsa, legacy=True) == RSA_ALL
    ed = generate_private_key("ed25519")
    assert signer_algorithms(ed, legacy=True) == ("ssh-ed25519",)


# -- a key type registered at run time -------------------------------------------------


class ToyPublicKey(PublicKey):
    """A made-up key type: one string field, "verified" when the signature repeats it."""

    algorithm = "toy@example.com"
    key_type_label = "TOY"
    __slots__ = ("secret",)
    signature_algorithms = ("toy@example.com",)
    bits = 8

    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        super().__init__(Writer().string(self.algorithm.encode()).string(secret).getvalue())

    @classmethod
    def read(cls, r: Reader, algorithm: str) -> ToyPublicKey:
        return cls(r.string("toy secret"))

    def _verify(self, algorithm: str, r: Reader, data: bytes) -> None:
        r.expect_end("toy signature")


def test_registered_key_type_is_in_the_table_and_certifiable() -> None:
    spec = register_key_type("toy@example.com", ToyPublicKey.read)
    assert spec.certificate_type == "toy-cert-v01@example.com"
    assert key_type_for("toy@example.com") == "toy@example.com"
    assert key_type_for("toy-cert-v01@example.com") == "toy-cert-v01@example.com"
    assert signature_algorithm_for("toy-cert-v01@example.com") == "toy@example.com"
    assert certificate_type_for("toy@example.com") == "toy-cert-v01@example.com"
    assert certified_key_type("toy-cert-v01@example.com") == "toy@example.com"

    toy = ToyPublicKey(b"hello")
    assert parse_public_key_blob(toy.blob) == toy
    ca = generate_private_key("ed25519")
    cert = sign_certificate(ca, toy, cert_type=CertType.USER, principals=["u"])
    assert cert.algorithm == "toy-cert-v01@example.com"
    again = parse_public_key_blob(cert.blob)
    assert isinstance(again, Certificate) and again.key == toy
    again.check(0, "u")
    assert algorithms_for(again) == ("toy-cert-v01@example.com",)


def test_registering_over_a_known_name_is_refused() -> None:
    with pytest.raises(ValueError, match="already"):
        register_key_type(
            "bad@example.com",
            ToyPublicKey.read,
            certificate_type=("ssh-ed25519-cert-v01@openssh.com"),
        )
    with pytest.raises(ValueError, match="plain key type"):
        register_key_type("x-cert-v01@openssh.com", ToyPublicKey.read)


def test_registering_a_known_type_again_replaces_only_its_reader() -> None:
    from ssh_keys.public import RSAPublicKey

    before = key_type_spec("ssh-rsa")
    assert register_key_type("ssh-rsa", RSAPublicKey._read) is before
    assert key_type_spec("ssh-rsa").signature_algorithms == RSA_ALL
