"""ssh-keys: SSH keys, signatures, certificates, fingerprints and host files.

Reads what ``ssh-keygen`` writes, writes what it reads, and agrees with it to
the byte on fingerprints and randomart.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# Eager: the function shares its module's name, and once any import loads the module,
# the package attribute would be the module and __getattr__ would never run.
from .randomart import randomart

if TYPE_CHECKING:  # at run time each name is imported on first use: __getattr__
    from .algorithms import (
        AlgorithmSpec,
        KeyTypeSpec,
        accepted_signature_algorithms,
        algorithm_spec,
        algorithm_specs,
        algorithms_for,
        certificate_algorithm_for,
        certificate_type_for,
        certified_key_type,
        is_certificate_type,
        key_type_for,
        key_type_spec,
        key_types,
        signature_algorithm_for,
        signer_algorithms,
    )
    from .authorized_keys import (
        AuthorizedKey,
        AuthorizedKeyOptions,
        AuthorizedKeys,
        AuthorizedKeysError,
        PermitListen,
        PermitOpen,
    )
    from .certificate import (
        DEFAULT_USER_EXTENSIONS,
        FOREVER,
        Certificate,
        CertType,
        as_certificate,
        sign_certificate,
    )
    from .certificate import describe as describe_certificate
    from .errors import (
        CertificateInvalid,
        KeyFormatError,
        PassphraseRequired,
        SignatureInvalid,
        UnsupportedAlgorithm,
        WrongPassphrase,
    )
    from .keyfile import (
        UnprotectedPrivateKeyWarning,
        load_private_key,
        load_public_key,
        read_private_key_file,
        read_public_key_file,
        serialize_private_key,
        write_private_key_file,
        write_secret_file,
    )
    from .known_hosts import (
        HostKeyLookup,
        HostKeyStatus,
        KnownHosts,
        KnownHostsEntry,
        Marker,
        hash_host,
    )
    from .krl import (
        KRL_MAGIC,
        MAX_REVOCATION_FILE_SIZE,
        CertificateRevocations,
        KRLFormatError,
        KRLSection,
        KRLSignature,
        RevocationList,
        is_krl,
        load_revoked_keys,
        parse_krl,
        parse_revoked_keys_text,
    )
    from .patterns import (
        PatternMatch,
        host_port_name,
        match_address_list,
        match_glob,
        match_host_and_address,
        match_hostname,
        match_pattern_list,
        validate_address_list,
    )
    from .ppk import dump_ppk, is_ppk, load_ppk, ppk_public_key
    from .private import (
        DSAPrivateKey,
        ECDSAPrivateKey,
        Ed25519PrivateKey,
        PrivateKey,
        RSAPrivateKey,
        SKPrivateKey,
        generate_private_key,
        private_key_from_crypto,
    )
    from .private_wire import PrivateEntry, read_private_entry, write_private_fields
    from .public import (
        DSAPublicKey,
        ECDSAPublicKey,
        Ed25519PublicKey,
        PublicKey,
        PublicKeyLine,
        RSAPublicKey,
        SKECDSAPublicKey,
        SKEd25519PublicKey,
        SKSignature,
        as_public_key,
        parse_public_key_blob,
        parse_public_key_line,
        register_key_type,
        split_signature,
    )
    from .signer import AsyncSigner, Signer
    from .sshsig import AllowedSigner, AllowedSigners, SSHSignature, parse_signature
    from .sshsig import sign as sshsig_sign
    from .sshsig import verify as sshsig_verify

__version__ = "0.2.0"

__all__ = [
    # errors
    "KeyFormatError",
    "UnsupportedAlgorithm",
    "PassphraseRequired",
    "WrongPassphrase",
    "SignatureInvalid",
    "CertificateInvalid",
    # public keys
    "PublicKey",
    "Ed25519PublicKey",
    "ECDSAPublicKey",
    "RSAPublicKey",
    "DSAPublicKey",
    "SKEd25519PublicKey",
    "SKECDSAPublicKey",
    "SKSignature",
    "PublicKeyLine",
    "parse_public_key_blob",
    "parse_public_key_line",
    "as_public_key",
    "split_signature",
    "register_key_type",
    "randomart",
    # the algorithm table: key types, signature algorithms, certificate types
    "KeyTypeSpec",
    "AlgorithmSpec",
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
    "algorithms_for",
    "signer_algorithms",
    # private keys and signing
    "PrivateKey",
    "Ed25519PrivateKey",
    "ECDSAPrivateKey",
    "RSAPrivateKey",
    "DSAPrivateKey",
    "SKPrivateKey",
    "generate_private_key",
    "private_key_from_crypto",
    "Signer",
    "AsyncSigner",
    # the per-key private fields of OpenSSH key files and agent ADD_IDENTITY messages
    "write_private_fields",
    "read_private_entry",
    "PrivateEntry",
    # key files
    "load_private_key",
    "load_public_key",
    "read_private_key_file",
    "read_public_key_file",
    "write_private_key_file",
    "serialize_private_key",
    "write_secret_file",
    "UnprotectedPrivateKeyWarning",
    # certificates
    "Certificate",
    "CertType",
    "as_certificate",
    "sign_certificate",
    "describe_certificate",
    "FOREVER",
    "DEFAULT_USER_EXTENSIONS",
    # PuTTY
    "load_ppk",
    "ppk_public_key",
    "dump_ppk",
    "is_ppk",
    # host and user files
    "KnownHosts",
    "HostKeyStatus",
    "HostKeyLookup",
    "hash_host",
    "KnownHostsEntry",
    "Marker",
    "AuthorizedKeys",
    "AuthorizedKey",
    "AuthorizedKeyOptions",
    "PermitOpen",
    "PermitListen",
    "AuthorizedKeysError",
    "match_glob",
    # OpenSSH pattern lists (Host, Match, from=, AllowUsers)
    "PatternMatch",
    "match_pattern_list",
    "match_hostname",
    "match_address_list",
    "match_host_and_address",
    "validate_address_list",
    "host_port_name",
    # SSHSIG
    "sshsig_sign",
    "sshsig_verify",
    "parse_signature",
    "SSHSignature",
    "AllowedSigners",
    "AllowedSigner",
    # revocation (KRL and plain revoked-key files)
    "parse_krl",
    "load_revoked_keys",
    "parse_revoked_keys_text",
    "is_krl",
    "RevocationList",
    "CertificateRevocations",
    "KRLSignature",
    "KRLSection",
    "KRLFormatError",
    "KRL_MAGIC",
    "MAX_REVOCATION_FILE_SIZE",
]

#: Where each public name lives, imported on first use so that importing the package
#: costs little (``sshd-py -i`` starts a process per connection).
_EXPORTS: dict[str, tuple[str, ...]] = {
    ".algorithms": (
        "AlgorithmSpec",
        "KeyTypeSpec",
        "accepted_signature_algorithms",
        "algorithm_spec",
        "algorithm_specs",
        "algorithms_for",
        "certificate_algorithm_for",
        "certificate_type_for",
        "certified_key_type",
        "is_certificate_type",
        "key_type_for",
        "key_type_spec",
        "key_types",
        "signature_algorithm_for",
        "signer_algorithms",
    ),
    ".authorized_keys": (
        "AuthorizedKey",
        "AuthorizedKeyOptions",
        "AuthorizedKeys",
        "AuthorizedKeysError",
        "PermitListen",
        "PermitOpen",
    ),
    ".certificate": (
        "DEFAULT_USER_EXTENSIONS",
        "FOREVER",
        "Certificate",
        "CertType",
        "as_certificate",
        "sign_certificate",
    ),
    ".errors": (
        "CertificateInvalid",
        "KeyFormatError",
        "PassphraseRequired",
        "SignatureInvalid",
        "UnsupportedAlgorithm",
        "WrongPassphrase",
    ),
    ".keyfile": (
        "UnprotectedPrivateKeyWarning",
        "load_private_key",
        "load_public_key",
        "read_private_key_file",
        "read_public_key_file",
        "serialize_private_key",
        "write_private_key_file",
        "write_secret_file",
    ),
    ".known_hosts": (
        "HostKeyLookup",
        "HostKeyStatus",
        "KnownHosts",
        "KnownHostsEntry",
        "Marker",
        "hash_host",
    ),
    ".krl": (
        "KRL_MAGIC",
        "MAX_REVOCATION_FILE_SIZE",
        "CertificateRevocations",
        "KRLFormatError",
        "KRLSection",
        "KRLSignature",
        "RevocationList",
        "is_krl",
        "load_revoked_keys",
        "parse_krl",
        "parse_revoked_keys_text",
    ),
    ".patterns": (
        "PatternMatch",
        "host_port_name",
        "match_address_list",
        "match_glob",
        "match_host_and_address",
        "match_hostname",
        "match_pattern_list",
        "validate_address_list",
    ),
    ".ppk": ("dump_ppk", "is_ppk", "load_ppk", "ppk_public_key"),
    ".private": (
        "DSAPrivateKey",
        "ECDSAPrivateKey",
        "Ed25519PrivateKey",
        "PrivateKey",
        "RSAPrivateKey",
        "SKPrivateKey",
        "generate_private_key",
        "private_key_from_crypto",
    ),
    ".private_wire": ("PrivateEntry", "read_private_entry", "write_private_fields"),
    ".public": (
        "DSAPublicKey",
        "ECDSAPublicKey",
        "Ed25519PublicKey",
        "PublicKey",
        "PublicKeyLine",
        "RSAPublicKey",
        "SKECDSAPublicKey",
        "SKEd25519PublicKey",
        "SKSignature",
        "as_public_key",
        "parse_public_key_blob",
        "parse_public_key_line",
        "register_key_type",
        "split_signature",
    ),
    ".signer": ("AsyncSigner", "Signer"),
    ".sshsig": ("AllowedSigner", "AllowedSigners", "SSHSignature", "parse_signature"),
}
_ALIASES: dict[str, tuple[str, str]] = {
    "describe_certificate": (".certificate", "describe"),
    "sshsig_sign": (".sshsig", "sign"),
    "sshsig_verify": (".sshsig", "verify"),
}
_SUBMODULES: frozenset[str] = frozenset()
_WHERE = {name: (module, name) for module, names in _EXPORTS.items() for name in names}
_WHERE.update(_ALIASES)


def __getattr__(name: str) -> object:
    if name in _SUBMODULES:
        value: object = importlib.import_module(f".{name}", __name__)
    else:
        try:
            module, attribute = _WHERE[name]
        except KeyError:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module, __name__), attribute)
    globals()[name] = value  # once: later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
