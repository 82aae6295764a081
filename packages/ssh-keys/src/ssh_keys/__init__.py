"""ssh-keys: SSH keys, signatures, certificates, fingerprints and host files.

Reads what ``ssh-keygen`` writes, writes what it reads, and agrees with it to
the byte on fingerprints and randomart.
"""

from __future__ import annotations

from .errors import (
    CertificateInvalid,
    KeyFormatError,
    PassphraseRequired,
    SignatureInvalid,
    UnsupportedAlgorithm,
    WrongPassphrase,
)
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
]
