"""The one table of public key algorithm names: key types, the signature algorithms each
makes, and the certificate type that certifies it (RFC 4253 6.6, RFC 8332, RFC 8709,
OpenSSH's PROTOCOL.certkeys and PROTOCOL.u2f).

Three kinds of name meet in SSH and are easy to mix up:

- a *key type* is what a key blob starts with (``ssh-rsa``, ``sk-ssh-ed25519@openssh.com``,
  or a certificate type such as ``ssh-rsa-cert-v01@openssh.com``);
- a *signature algorithm* is what a signature blob starts with (``rsa-sha2-512``);
- an *algorithm* is the name negotiated in KEXINIT's host key list or sent in a
  USERAUTH_REQUEST (``rsa-sha2-512-cert-v01@openssh.com``): it fixes both the key type the
  blob must have and the signature algorithm expected.

Transport and user authentication both look names up here, so they cannot disagree. A key
type taught to :func:`ssh_keys.register_key_type` joins the table, certificate type included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import UnsupportedAlgorithm

if TYPE_CHECKING:
    from .public import PublicKey
    from .signer import Signer

__all__ = [
    "CERT_SUFFIX",
    "KeyTypeSpec",
    "AlgorithmSpec",
    "KEY_TYPES",
    "key_types",
    "key_type_spec",
    "algorithm_specs",
    "algorithm_spec",
    "key_type_for",
    "signature_algorithm_for",
    "accepted_signature_algorithms",
    "certificate_type_for",
    "certified_key_type",
    "certificate_algorithm_for",
    "is_certificate_type",
    "is_legacy_signature_algorithm",
    "algorithms_for",
    "signer_algorithms",
    "default_certificate_type",
]

CERT_SUFFIX = "-cert-v01@openssh.com"


def default_certificate_type(key_type: str) -> str:
    """OpenSSH's naming rule: ``-cert-v01`` goes before the ``@domain`` (``@openssh.com``
    if the name has none): ``ssh-ed25519`` -> ``ssh-ed25519-cert-v01@openssh.com``,
    ``sk-ssh-ed25519@openssh.com`` -> ``sk-ssh-ed25519-cert-v01@openssh.com``."""
    stem, _, domain = key_type.partition("@")
    return f"{stem}-cert-v01@{domain or 'openssh.com'}"


@dataclass(frozen=True)
class KeyTypeSpec:
    """One key type: the signatures it makes and the certificate type that certifies it."""

    #: The type name in the key blob and in public key lines.
    name: str
    #: Every signature algorithm a key of this type makes and verifies, preferred first.
    signature_algorithms: tuple[str, ...]
    #: The SHA-1 ones among them: registered but used only when asked for by name.
    legacy_signature_algorithms: tuple[str, ...] = ()
    #: The certificate type for keys of this type ("" derives it by OpenSSH's rule).
    certificate_type: str = ""

    def __post_init__(self) -> None:
        if not self.name or self.name.endswith(CERT_SUFFIX):
            raise ValueError(f"{self.name!r} is not a plain key type name")
        if not self.signature_algorithms:
            raise ValueError(f"key type {self.name} needs at least one signature algorithm")
        if not set(self.legacy_signature_algorithms) <= set(self.signature_algorithms):
            raise ValueError("legacy signature algorithms must be among signature_algorithms")
        if not self.certificate_type:
            object.__setattr__(self, "certificate_type", default_certificate_type(self.name))
        elif not self.certificate_type.endswith(CERT_SUFFIX):
            raise ValueError(f"certificate type {self.certificate_type!r} must end {CERT_SUFFIX}")

    @property
    def default_signature_algorithms(self) -> tuple[str, ...]:
        """What a key of this type signs with unless a legacy algorithm is asked for."""
        legacy = self.legacy_signature_algorithms
        return tuple(a for a in self.signature_algorithms if a not in legacy)

    def algorithms(self) -> tuple[AlgorithmSpec, ...]:
        """This type's algorithm names: the plain ones, then the certificate ones."""
        plain = [
            AlgorithmSpec(sig, self.name, sig, self.name, sig in self.legacy_signature_algorithms)
            for sig in self.signature_algorithms
        ]
        certs = [
            AlgorithmSpec(
                # The signature named like the key type keeps the certificate type's own
                # name; the others (rsa-sha2-*) get theirs by the same rule.
                self.certificate_type if sig == self.name else default_certificate_type(sig),
                self.certificate_type,
                sig,
                self.name,
                sig in self.legacy_signature_algorithms,
            )
            for sig in self.signature_algorithms
        ]
        return (*plain, *certs)


@dataclass(frozen=True)
class AlgorithmSpec:
    """One algorithm name as negotiated for host keys or sent in a publickey request."""

    name: str
    #: The type name the key blob must carry (a certificate type for certificates).
    key_type: str
    #: The signature algorithm the signature blob is expected to carry.
    signature_algorithm: str
    #: The plain key type (the certified key's, for certificates).
    plain_key_type: str
    #: SHA-1: opt-in only.
    legacy: bool

    @property
    def is_certificate(self) -> bool:
        return self.key_type != self.plain_key_type


_RSA_SIGNATURES = ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")

#: The built-in key types, in OpenSSH's order of preference.
KEY_TYPES: tuple[KeyTypeSpec, ...] = (
    KeyTypeSpec("ssh-ed25519", ("ssh-ed25519",)),
    KeyTypeSpec("ecdsa-sha2-nistp256", ("ecdsa-sha2-nistp256",)),
    KeyTypeSpec("ecdsa-sha2-nistp384", ("ecdsa-sha2-nistp384",)),
    KeyTypeSpec("ecdsa-sha2-nistp521", ("ecdsa-sha2-nistp521",)),
    KeyTypeSpec("sk-ssh-ed25519@openssh.com", ("sk-ssh-ed25519@openssh.com",)),
    KeyTypeSpec("sk-ecdsa-sha2-nistp256@openssh.com", ("sk-ecdsa-sha2-nistp256@openssh.com",)),
    KeyTypeSpec("ssh-rsa", _RSA_SIGNATURES, ("ssh-rsa",)),
    KeyTypeSpec("ssh-dss", ("ssh-dss",), ("ssh-dss",)),
)

# The live table: built-ins, then types registered at run time.
_key_types: dict[str, KeyTypeSpec] = {}
_by_certificate: dict[str, KeyTypeSpec] = {}
_algorithms: dict[str, AlgorithmSpec] = {}


def _rebuild() -> None:
    _by_certificate.clear()
    _algorithms.clear()
    for spec in _key_types.values():
        _by_certificate[spec.certificate_type] = spec
        for alg in spec.algorithms():
            _algorithms.setdefault(alg.name, alg)


def _add_key_type(spec: KeyTypeSpec) -> None:
    """Add or replace a key type (ssh_keys.register_key_type calls this)."""
    known = _key_types.get(spec.name)
    if known is None:
        for name in (spec.name, spec.certificate_type, *spec.signature_algorithms):
            if name in _algorithms or name in _by_certificate or name in _key_types:
                raise ValueError(f"{name!r} is already a name in the algorithm table")
    _key_types[spec.name] = spec
    _rebuild()


for _spec in KEY_TYPES:
    _key_types[_spec.name] = _spec
_rebuild()


def key_types() -> tuple[KeyTypeSpec, ...]:
    """Every key type known now, built-in first."""
    return tuple(_key_types.values())


def key_type_spec(name: str) -> KeyTypeSpec:
    """The spec of a key type, given its name or its certificate type's name."""
    spec = _key_types.get(name) or _by_certificate.get(name)
    if spec is None:
        raise UnsupportedAlgorithm(f"unknown key type {name!r}")
    return spec


def algorithm_specs() -> tuple[AlgorithmSpec, ...]:
    """Every algorithm name known now: per key type, the plain names then the certificate
    ones (legacy ones included)."""
    return tuple(_algorithms.values())


def algorithm_spec(algorithm: str) -> AlgorithmSpec:
    spec = _algorithms.get(algorithm)
    if spec is None:
        raise UnsupportedAlgorithm(f"unknown public key algorithm {algorithm!r}")
    return spec


def key_type_for(algorithm: str) -> str:
    """The key type an algorithm's blob must carry: ``rsa-sha2-512`` -> ``ssh-rsa``,
    ``rsa-sha2-512-cert-v01@openssh.com`` -> ``ssh-rsa-cert-v01@openssh.com``."""
    return algorithm_spec(algorithm).key_type


def signature_algorithm_for(algorithm: str) -> str:
    """The signature algorithm an algorithm signs with:
    ``sk-ssh-ed25519-cert-v01@openssh.com`` -> ``sk-ssh-ed25519@openssh.com``."""
    return algorithm_spec(algorithm).signature_algorithm


def accepted_signature_algorithms(algorithm: str) -> tuple[str, ...]:
    """Signature algorithms a verifier accepts under ``algorithm``.

    Exactly :func:`signature_algorithm_for`, with one exception that OpenSSH makes for
    ``ssh-rsa-cert-v01@openssh.com``: it names a key type more than a hash (it predates
    the ``rsa-sha2-*-cert-v01`` names), so any RSA signature is accepted under it. SHA-2
    signatures there are stronger than what was negotiated, and servers (AsyncSSH among
    them) send them.
    """
    spec = algorithm_spec(algorithm)
    if spec.is_certificate and spec.name == spec.key_type:
        return key_type_spec(spec.plain_key_type).signature_algorithms
    return (spec.signature_algorithm,)


def certificate_type_for(key_type: str) -> str:
    """``ssh-rsa`` -> ``ssh-rsa-cert-v01@openssh.com`` (a known plain key type only)."""
    spec = _key_types.get(key_type)
    if spec is None:
        raise UnsupportedAlgorithm(f"no certificate type for {key_type!r}")
    return spec.certificate_type


def certified_key_type(certificate_type: str) -> str:
    """``sk-ssh-ed25519-cert-v01@openssh.com`` -> ``sk-ssh-ed25519@openssh.com``."""
    spec = _by_certificate.get(certificate_type)
    if spec is None:
        raise UnsupportedAlgorithm(f"unknown certificate type {certificate_type!r}")
    return spec.name


def certificate_algorithm_for(algorithm: str) -> str:
    """The certificate form of a plain algorithm:
    ``rsa-sha2-256`` -> ``rsa-sha2-256-cert-v01@openssh.com``."""
    spec = algorithm_spec(algorithm)
    if spec.is_certificate:
        return spec.name
    for alg in _algorithms.values():
        if (
            alg.is_certificate
            and alg.plain_key_type == spec.plain_key_type
            and alg.signature_algorithm == spec.signature_algorithm
        ):
            return alg.name
    raise UnsupportedAlgorithm(f"no certificate form of {algorithm!r}")  # pragma: no cover


def is_certificate_type(name: str) -> bool:
    return name in _by_certificate


def is_legacy_signature_algorithm(name: str) -> bool:
    """SHA-1 signature algorithms (``ssh-rsa``, ``ssh-dss``): verified and made only on
    explicit request."""
    return any(name in spec.legacy_signature_algorithms for spec in _key_types.values())


def algorithms_for(key: PublicKey | str, *, legacy: bool = False) -> tuple[str, ...]:
    """Algorithm names a key (or key type) can be used under, preferred first.

    A certificate gets the certificate names. Legacy (SHA-1) names only with ``legacy``.
    """
    key_type = key if isinstance(key, str) else key.algorithm
    spec = key_type_spec(key_type)
    is_cert = key_type == spec.certificate_type
    return tuple(
        alg.name
        for alg in spec.algorithms()
        if alg.is_certificate == is_cert and (legacy or not alg.legacy)
    )


def signer_algorithms(signer: Signer, *, legacy: bool = False) -> tuple[str, ...]:
    """Signature algorithms ``signer`` can make, preferred first.

    :attr:`Signer.algorithms` lists what a signer uses by default; a signer that can also
    make legacy (SHA-1) signatures when asked by name says so in an optional
    ``legacy_algorithms`` attribute (our private keys and agent keys do). With
    ``legacy`` those follow.
    """
    names = tuple(signer.algorithms)
    if legacy:
        extra = tuple(getattr(signer, "legacy_algorithms", ()))
        names += tuple(a for a in extra if a not in names)
    return names
