"""ssh-keys: SSH keys, signatures, certificates, fingerprints and host files.

Reads what ``ssh-keygen`` writes, writes what it reads, and agrees with it to
the byte on fingerprints and randomart.
"""

from __future__ import annotations

from .authorized_keys import (
    AuthorizedKey,
    AuthorizedKeyOptions,
    AuthorizedKeys,
    AuthorizedKeysError,
)
from .certificate import (
    DEFAULT_USER_EXTENSIONS,
    FOREVER,
    Certificate,
    CertType,
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
from .known_hosts import HostKeyLookup, HostKeyStatus, KnownHosts, hash_host
from .ppk import dump_ppk, is_ppk, load_ppk
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
    parse_public_key_blob,
    parse_public_key_line,
)
from .randomart import randomart
from .signer import AsyncSigner, Signer
from .sshsig import AllowedSigner, AllowedSigners, SSHSignature, parse_signature
from .sshsig import sign as sshsig_sign
from .sshsig import verify as sshsig_verify

__version__ = "0.1.0"

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
    "randomart",
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
    "sign_certificate",
    "describe_certificate",
    "FOREVER",
    "DEFAULT_USER_EXTENSIONS",
    # PuTTY
    "load_ppk",
    "dump_ppk",
    "is_ppk",
    # host and user files
    "KnownHosts",
    "HostKeyStatus",
    "HostKeyLookup",
    "hash_host",
    "AuthorizedKeys",
    "AuthorizedKey",
    "AuthorizedKeyOptions",
    "AuthorizedKeysError",
    # SSHSIG
    "sshsig_sign",
    "sshsig_verify",
    "parse_signature",
    "SSHSignature",
    "AllowedSigners",
    "AllowedSigner",
]
