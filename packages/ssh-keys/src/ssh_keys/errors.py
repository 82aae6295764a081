"""Errors of ssh-keys. Every one derives from :class:`ssh_wire.SSHError`."""

from __future__ import annotations

from ssh_wire import SSHError

__all__ = [
    "KeyFormatError",
    "UnsupportedAlgorithm",
    "PassphraseRequired",
    "WrongPassphrase",
    "SignatureInvalid",
    "CertificateInvalid",
]


class KeyFormatError(SSHError, ValueError):
    """A key, certificate, signature or host file is malformed; says what and where."""


class UnsupportedAlgorithm(KeyFormatError):
    """The data names an algorithm, cipher or KDF this package does not handle."""


class PassphraseRequired(SSHError):
    """The private key is encrypted and no passphrase was given."""


class WrongPassphrase(SSHError, ValueError):
    """The passphrase does not decrypt the key (raised the same way whatever failed)."""


class SignatureInvalid(SSHError):
    """A signature does not verify, or is malformed."""


class CertificateInvalid(SSHError):
    """A certificate fails a check: CA signature, validity window, principal, options."""
