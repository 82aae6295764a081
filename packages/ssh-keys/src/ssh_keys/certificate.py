"""OpenSSH certificates (PROTOCOL.certkeys): parsing, CA signature checks, validation, signing
and the ``ssh-keygen -L`` description.

A certificate is itself a public key: its blob is the whole certificate, its type name is the
``*-cert-v01@openssh.com`` one, and signatures made with it are the certified key's signatures.
Importing this module registers the certificate types with :func:`parse_public_key_blob`.
"""

from __future__ import annotations

import enum
import ipaddress
import os
from collections.abc import Iterable, Mapping
from datetime import datetime

from ssh_wire import DecodeError, Reader, Writer

from . import public as _public
from .algorithms import certificate_type_for, certified_key_type, is_certificate_type
from .errors import CertificateInvalid, KeyFormatError, SignatureInvalid, UnsupportedAlgorithm
from .patterns import match_glob
from .public import (
    PublicKey,
    PublicKeyLine,
    SKECDSAPublicKey,
    SKEd25519PublicKey,
    as_public_key,
    parse_public_key_blob,
    split_signature,
)
from .signer import Signer

__all__ = [
    "CertType",
    "Certificate",
    "FOREVER",
    "DEFAULT_USER_EXTENSIONS",
    "sign_certificate",
    "describe",
    "is_certificate_type",
    "as_certificate",
]

#: ``valid before`` value meaning "never expires" (ssh-keygen's "forever").
FOREVER = 0xFFFF_FFFF_FFFF_FFFF


class CertType(enum.IntEnum):
    USER = 1
    HOST = 2


#: Extensions ``ssh-keygen -s`` puts in user certificates unless told otherwise.
DEFAULT_USER_EXTENSIONS: tuple[str, ...] = (
    "permit-X11-forwarding",
    "permit-agent-forwarding",
    "permit-port-forwarding",
    "permit-pty",
    "permit-user-rc",
)

# Critical options sshd understands (auth-options.c); anything else refuses the certificate.
_KNOWN_CRITICAL = frozenset({"force-command", "source-address", "verify-required"})
_STRING_CRITICAL = frozenset({"force-command", "source-address"})
_FLAG_CRITICAL = frozenset({"verify-required"})
_FLAG_EXTENSIONS = frozenset({*DEFAULT_USER_EXTENSIONS, "no-touch-required"})

_SHA1_SIGNATURES = frozenset({"ssh-rsa", "ssh-dss"})
_MAX_PRINCIPALS = 256  # OpenSSH's SSHKEY_CERT_MAX_PRINCIPALS


def _read_options(data: bytes, what: str) -> dict[str, bytes]:
    """Decode a critical options / extensions field: (string name, string data)*."""
    r = Reader(data)
    options: dict[str, bytes] = {}
    while not r.at_end():
        name = r.text(f"{what} name", max_length=1024)
        if not name or "\x00" in name:
            raise KeyFormatError(f"certificate {what} has an empty or NUL name")
        value = r.string(f"{what} data")
        if name in options:
            # A dict cannot hold both; either copy could be the one a peer honours.
            raise KeyFormatError(f"certificate {what} {name!r} appears twice")
        options[name] = value
    return options


def _read_principals(data: bytes) -> tuple[str, ...]:
    r = Reader(data)
    principals: list[str] = []
    while not r.at_end():
        if len(principals) >= _MAX_PRINCIPALS:
            raise KeyFormatError(f"certificate lists more than {_MAX_PRINCIPALS} principals")
        name = r.text("principal", max_length=1024)
        if "\x00" in name:
            raise KeyFormatError("certificate principal contains NUL")
        principals.append(name)
    return tuple(principals)


def _option_string(value: bytes, name: str) -> str:
    """The single SSH string an option like force-command carries."""
    r = Reader(value)
    try:
        text = r.text(name)
        r.expect_end(name)
    except DecodeError as exc:
        raise KeyFormatError(f"certificate option {name!r} is corrupt: {exc}") from None
    return text


def _network(entry: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(entry, strict=True)
    except ValueError:
        raise CertificateInvalid(f"invalid source-address entry {entry!r}") from None


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise CertificateInvalid(f"invalid client address {text!r}") from None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped  # a dual-stack socket's view of an IPv4 client
    return addr


def _timestamp(value: int | datetime) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("use an aware datetime (or seconds since the epoch)")
        return max(0, int(value.timestamp()))
    if not 0 <= value <= FOREVER:
        raise ValueError("certificate times are unsigned 64-bit seconds")
    return value


class Certificate(PublicKey):
    """An OpenSSH certificate: a key, identity and limits, signed by a CA key.

    Parsing checks the structure and the CA's signature (as OpenSSH does when it loads a
    certificate); :meth:`check` applies the rules a server or client uses before trusting it.
    ``fingerprint()`` is the certified key's, as ``ssh-keygen -l`` prints for certificates.
    """

    __slots__ = (
        "algorithm",
        "cert_type",
        "critical_options",
        "extensions",
        "key",
        "key_id",
        "nonce",
        "reserved",
        "serial",
        "signature",
        "signature_key",
        "valid_after",
        "valid_before",
        "valid_principals",
    )

    def __init__(
        self,
        *,
        algorithm: str,
        nonce: bytes,
        key: PublicKey,
        serial: int,
        cert_type: CertType,
        key_id: str,
        valid_principals: tuple[str, ...],
        valid_after: int,
        valid_before: int,
        critical_options: dict[str, bytes],
        extensions: dict[str, bytes],
        reserved: bytes,
        signature_key: PublicKey,
        signature: bytes,
        blob: bytes,
    ) -> None:
        super().__init__(blob)
        self.algorithm = algorithm
        self.nonce = nonce
        self.key = key
        self.serial = serial
        self.cert_type = cert_type
        self.key_id = key_id
        self.valid_principals = valid_principals
        self.valid_after = valid_after
        self.valid_before = valid_before
        self.critical_options = critical_options
        self.extensions = extensions
        self.reserved = reserved
        self.signature_key = signature_key
        self.signature = signature

    # -- PublicKey -------------------------------------------------------------

    @property
    def key_type_label(self) -> str:  # type: ignore[override]
        return f"{self.key.key_type_label}-CERT"

    @property
    def bits(self) -> int:
        return self.key.bits

    @property
    def signature_algorithms(self) -> tuple[str, ...]:
        return self.key.signature_algorithms

    def verify(self, data: bytes, signature: bytes, *, allow_sha1: bool = False) -> None:
        """Verify a signature made with the certified key (the certificate's own checks are
        :meth:`check`'s job). A security key's signature must show user verification when
        the certificate carries ``verify-required``."""
        if self.verify_required and isinstance(self.key, (SKEd25519PublicKey, SKECDSAPublicKey)):
            self.key.verify_sk(data, signature, require_verified=True)
            return
        self.key.verify(data, signature, allow_sha1=allow_sha1)

    def _verify(self, algorithm: str, r: Reader, data: bytes) -> None:  # pragma: no cover
        raise AssertionError("Certificate.verify delegates to the certified key")

    def fingerprint(self, hash: str = "sha256") -> str:
        return self.key.fingerprint(hash)

    # -- fields ------------------------------------------------------------------

    @property
    def signed_data(self) -> bytes:
        """The bytes the CA signed: the blob up to and including the signature key."""
        return self._blob[: len(self._blob) - 4 - len(self.signature)]

    @property
    def signature_algorithm(self) -> str:
        """The CA's signature algorithm, e.g. ``rsa-sha2-512``."""
        return split_signature(self.signature)[0]

    @property
    def force_command(self) -> str | None:
        value = self.critical_options.get("force-command")
        return None if value is None else _option_string(value, "force-command")

    @property
    def source_address(self) -> str | None:
        """The comma-separated CIDR list of the source-address option, if any."""
        value = self.critical_options.get("source-address")
        return None if value is None else _option_string(value, "source-address")

    @property
    def verify_required(self) -> bool:
        """Signatures by the key must show user verification (security keys)."""
        return "verify-required" in self.critical_options

    # -- checks ----------------------------------------------------------------

    def verify_ca_signature(self, *, allow_sha1: bool = False) -> None:
        """Check the CA's signature; SHA-1 (``ssh-rsa``, ``ssh-dss``) needs ``allow_sha1``.

        Raises :class:`CertificateInvalid`.
        """
        if isinstance(self.signature_key, Certificate):
            raise CertificateInvalid("the CA key is itself a certificate (chains unsupported)")
        try:
            self.signature_key.verify(self.signed_data, self.signature, allow_sha1=allow_sha1)
        except SignatureInvalid as exc:
            raise CertificateInvalid(f"CA signature invalid: {exc}") from None

    def check(
        self,
        now: int | float | datetime,
        principal: str | None = None,
        cert_type: CertType | int | None = None,
        source_address: str | None = None,
        *,
        require_principal: bool | None = None,
        wildcard_principals: bool = False,
        check_source_address: bool = True,
        allow_sha1: bool = False,
    ) -> None:
        """Apply OpenSSH's acceptance rules; raise :class:`CertificateInvalid` on failure.

        - the CA signature verifies (SHA-1 signatures only with ``allow_sha1``);
        - ``cert_type`` (if given) is the certificate's type;
        - ``valid_after <= now < valid_before``;
        - principals: ``principal`` must be listed. An empty list means "any principal" for
          host certificates (ssh's rule) but is refused for user certificates (sshd's
          TrustedUserCAKeys and ``ssh-keygen -Y verify``); ``require_principal`` overrides.
          ``wildcard_principals`` treats listed principals as ``*``/``?`` patterns.
        - critical options: a host certificate may carry none (ssh refuses any); a user
          certificate may carry only force-command, source-address and verify-required.
          With source-address, ``source_address`` must be given and inside the list (unless
          ``check_source_address`` is false: SSH signatures have no client address).
          Enforcing force-command and verify-required is the caller's job.

        The caller still has to decide whether it trusts :attr:`signature_key` as a CA.
        """
        self.verify_ca_signature(allow_sha1=allow_sha1)
        if cert_type is not None and int(cert_type) != self.cert_type:
            want = "host" if int(cert_type) == CertType.HOST else "user"
            raise CertificateInvalid(f"not a {want} certificate")
        when = now.timestamp() if isinstance(now, datetime) else now
        if when < self.valid_after:
            raise CertificateInvalid("certificate is not yet valid")
        if when >= self.valid_before:
            raise CertificateInvalid("certificate has expired")
        self._check_principal(principal, require_principal, wildcard_principals)
        self._check_critical_options(
            source_address if check_source_address else None, check_source_address
        )

    def _check_principal(self, principal: str | None, require: bool | None, wildcard: bool) -> None:
        if require is None:
            require = self.cert_type == CertType.USER
        if not self.valid_principals:
            if require:
                raise CertificateInvalid("certificate lacks a principal list")
            return
        if principal is None:
            return
        for listed in self.valid_principals:
            if (wildcard and match_glob(principal, listed)) or listed == principal:
                return
        raise CertificateInvalid(f"{principal!r} is not a listed principal")

    def _check_critical_options(self, source_address: str | None, check_source: bool) -> None:
        if self.cert_type == CertType.HOST and self.critical_options:
            raise CertificateInvalid("host certificate carries critical options")
        for name, value in self.critical_options.items():
            if name not in _KNOWN_CRITICAL:
                raise CertificateInvalid(f"unsupported critical option {name!r}")
            if name in _FLAG_CRITICAL and value:
                raise CertificateInvalid(f"critical option {name!r} has unexpected data")
            if name in _STRING_CRITICAL:
                try:
                    text = _option_string(value, name)
                except KeyFormatError as exc:
                    raise CertificateInvalid(str(exc)) from None
                if name == "force-command" and not text:
                    raise CertificateInvalid("empty force-command")
        allowed = self.source_address
        if allowed is None or not check_source:
            return
        networks = [_network(entry) for entry in allowed.split(",")]
        if source_address is None:
            raise CertificateInvalid("certificate restricts source addresses; none given")
        addr = _address(source_address)
        if not any(addr.version == net.version and addr in net for net in networks):
            raise CertificateInvalid(f"source address {source_address} not allowed")

    def __repr__(self) -> str:
        kind = "host" if self.cert_type == CertType.HOST else "user"
        return f"<Certificate {self.algorithm} {kind} id={self.key_id!r} {self.fingerprint()}>"


def as_certificate(value: PublicKey | PublicKeyLine, what: str = "certificate") -> Certificate:
    """Like :func:`~ssh_keys.public.as_public_key`, and the key must be a certificate."""
    key = as_public_key(value, what)
    if not isinstance(key, Certificate):
        raise TypeError(f"{what} must be a certificate, not a plain {key.algorithm} key")
    return key


# -- parsing -----------------------------------------------------------------------


def _read_certificate(r: Reader, algorithm: str) -> Certificate:
    """Key-type reader for ``register_key_type``: ``r`` is just past the type name."""
    plain = certified_key_type(algorithm)
    read_key = _public._key_reader(plain)
    if read_key is None:  # pragma: no cover - the table and the readers are filled together
        raise UnsupportedAlgorithm(f"no reader for {plain} keys")
    nonce = r.string("nonce", max_length=1024)
    key = read_key(r, plain)
    serial = r.uint64("serial")
    type_value = r.uint32("certificate type")
    if type_value not in (CertType.USER, CertType.HOST):
        raise KeyFormatError(f"unknown certificate type {type_value}")
    key_id = r.text("key id", max_length=8192)
    if "\x00" in key_id:
        raise KeyFormatError("certificate key id contains NUL")
    principals = _read_principals(r.string("valid principals"))
    valid_after = r.uint64("valid after")
    valid_before = r.uint64("valid before")
    critical = _read_options(r.string("critical options"), "critical option")
    extensions = _read_options(r.string("extensions"), "extension")
    reserved = r.string("reserved")
    ca_blob = r.string("signature key")
    signature = r.string("signature", max_length=16384)
    # Refuse a certificate as CA before parsing it: nesting would recurse without bound.
    if is_certificate_type(Reader(ca_blob).ascii("signature key type", max_length=256)):
        raise KeyFormatError("certificate is signed by a certificate (chains unsupported)")
    ca = parse_public_key_blob(ca_blob)
    # Rebuild the exact blob from what was read: the strict reader admits one encoding only.
    # parse_public_key_blob swaps in the caller's bytes if a lenient reader saw others.
    body = Writer().string(algorithm.encode()).string(nonce).raw(key.blob[4 + len(plain) :])
    body.uint64(serial).uint32(type_value).text(key_id)
    body.string(_encode_principals(principals))
    body.uint64(valid_after).uint64(valid_before)
    body.string(_encode_options(critical, sort=False)).string(
        _encode_options(extensions, sort=False)
    )
    body.string(reserved).string(ca_blob).string(signature)
    cert = Certificate(
        algorithm=algorithm,
        nonce=nonce,
        key=key,
        serial=serial,
        cert_type=CertType(type_value),
        key_id=key_id,
        valid_principals=principals,
        valid_after=valid_after,
        valid_before=valid_before,
        critical_options=critical,
        extensions=extensions,
        reserved=reserved,
        signature_key=ca,
        signature=signature,
        blob=body.getvalue(),
    )
    # OpenSSH refuses to load a certificate whose CA signature is bad; so do we. The SHA-1
    # policy is applied later, by check().
    try:
        cert.verify_ca_signature(allow_sha1=True)
    except CertificateInvalid as exc:
        raise KeyFormatError(str(exc)) from None
    return cert


# Every certificate type in the algorithm table, including those of key types registered
# later, parses through this reader.
_public._set_certificate_reader(_read_certificate)


# -- signing -----------------------------------------------------------------------


def _encode_principals(principals: Iterable[str]) -> bytes:
    w = Writer()
    for name in principals:
        w.text(name)
    return w.getvalue()


def _encode_options(options: Mapping[str, bytes], *, sort: bool = True) -> bytes:
    w = Writer()
    names = sorted(options, key=lambda n: n.encode()) if sort else list(options)
    for name in names:
        w.text(name).string(options[name])
    return w.getvalue()


def _option_data(name: str, value: str | bytes) -> bytes:
    """``str`` values are wrapped in an SSH string (as ssh-keygen's ``name=contents``), an
    empty ``str`` or ``bytes`` is taken as the raw data (``b""`` or ``""``: a flag)."""
    if isinstance(value, bytes):
        return value
    if not value:
        return b""
    return Writer().text(value).getvalue()


def sign_certificate(
    ca: Signer,
    key: PublicKey | PublicKeyLine,
    *,
    cert_type: CertType | int = CertType.USER,
    key_id: str = "",
    principals: Iterable[str] = (),
    valid_after: int | datetime = 0,
    valid_before: int | datetime = FOREVER,
    critical_options: Mapping[str, str | bytes] | None = None,
    extensions: Mapping[str, str | bytes] | Iterable[str] | None = None,
    serial: int = 0,
    nonce: bytes | None = None,
    signature_algorithm: str | None = None,
) -> Certificate:
    """Certify ``key`` with the CA ``ca``, as ``ssh-keygen -s`` does.

    ``extensions=None`` gives user certificates ssh-keygen's default permit-* set and host
    certificates none. Option values: a non-empty ``str`` is sent as an SSH string (like
    ``force-command``), ``""`` or ``b""`` makes a flag, other ``bytes`` are sent raw.
    Options and extensions are written sorted by name, as the spec requires.
    """
    key = as_public_key(key, "the key to certify")
    if isinstance(key, Certificate) or is_certificate_type(key.algorithm):
        raise UnsupportedAlgorithm(f"cannot certify a {key.algorithm} key")
    algorithm = certificate_type_for(key.algorithm)
    ca_key = ca.public_key
    if isinstance(ca_key, Certificate) or is_certificate_type(ca_key.algorithm):
        raise UnsupportedAlgorithm("a certificate cannot act as a CA")
    kind = CertType(int(cert_type))
    if not 0 <= serial <= 0xFFFF_FFFF_FFFF_FFFF:
        raise ValueError("serial is an unsigned 64-bit number")
    after, before = _timestamp(valid_after), _timestamp(valid_before)
    if after >= before:
        raise ValueError("valid_after must be earlier than valid_before")
    if extensions is None:
        extensions = dict.fromkeys(DEFAULT_USER_EXTENSIONS, "") if kind == CertType.USER else {}
    elif not isinstance(extensions, Mapping):
        extensions = dict.fromkeys(extensions, "")
    critical = {n: _option_data(n, v) for n, v in (critical_options or {}).items()}
    exts = {n: _option_data(n, v) for n, v in extensions.items()}
    for name in (*critical, *exts):
        if not name or "\x00" in name:
            raise ValueError(f"invalid option name {name!r}")
    principal_list = tuple(principals)
    if len(principal_list) > _MAX_PRINCIPALS:
        raise ValueError(f"at most {_MAX_PRINCIPALS} principals")

    w = Writer().string(algorithm.encode())
    w.string(os.urandom(32) if nonce is None else nonce)
    w.raw(key.blob[4 + len(key.algorithm) :])
    w.uint64(serial).uint32(kind).text(key_id)
    w.string(_encode_principals(principal_list))
    w.uint64(after).uint64(before)
    w.string(_encode_options(critical)).string(_encode_options(exts))
    w.string(b"").string(ca_key.blob)
    tbs = w.getvalue()
    signature = ca.sign(tbs, signature_algorithm)
    blob = tbs + Writer().string(signature).getvalue()
    cert = parse_public_key_blob(blob)
    assert isinstance(cert, Certificate)
    return cert


# -- ssh-keygen -L -------------------------------------------------------------------


# Past this, glibc's localtime fails and ssh-keygen prints an undefined date.
_MAX_PRINTABLE_TIME = 67767976233532799


def _format_time(t: int) -> str:
    try:
        return datetime.fromtimestamp(t).strftime("%Y-%m-%dT%H:%M:%S")
    except (OverflowError, OSError, ValueError):
        pass
    if t > _MAX_PRINTABLE_TIME:
        return str(t)
    # Past year 9999 datetime gives up but glibc does not: do the calendar by hand, with the
    # local UTC offset of the last date datetime can show.
    offset = datetime.fromtimestamp(253402000000).astimezone().utcoffset()
    t += int(offset.total_seconds()) if offset is not None else 0
    days, secs = divmod(t, 86400)
    z = days + 719468  # days since 0000-03-01 (H. Hinnant's civil_from_days)
    era, doe = divmod(z, 146097)
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (month <= 2)
    hh, rem = divmod(secs, 3600)
    return f"{year}-{month:02d}-{day:02d}T{hh:02d}:{rem // 60:02d}:{rem % 60:02d}"


def _format_validity(cert: Certificate) -> str:
    if cert.valid_after == 0 and cert.valid_before == FOREVER:
        return "forever"
    if cert.valid_after == 0:
        return f"before {_format_time(cert.valid_before)}"
    if cert.valid_before == FOREVER:
        return f"after {_format_time(cert.valid_after)}"
    return f"from {_format_time(cert.valid_after)} to {_format_time(cert.valid_before)}"


def _describe_options(options: Mapping[str, bytes], critical: bool) -> list[str]:
    lines = []
    for name, value in options.items():
        if critical and name in _STRING_CRITICAL:
            lines.append(f"{name} {_option_string(value, name)}")
        elif (critical and name in _FLAG_CRITICAL) or (not critical and name in _FLAG_EXTENSIONS):
            if value:
                raise KeyFormatError(f"option {name!r} is corrupt: extra data at end")
            lines.append(name)
        elif not value:
            lines.append(f"{name} UNKNOWN FLAG OPTION")
        else:
            lines.append(f"{name} UNKNOWN OPTION: {value.hex()} (len {len(value)})")
    return lines


def describe(cert: Certificate, filename: str | None = None) -> str:
    """What ``ssh-keygen -L -f FILE`` prints (its first line only with ``filename``)."""
    pad, pad2 = " " * 8, " " * 16
    kind = "host" if cert.cert_type == CertType.HOST else "user"
    ca = cert.signature_key
    out = [f"{filename}:"] if filename is not None else []
    out += [
        f"{pad}Type: {cert.algorithm} {kind} certificate",
        f"{pad}Public key: {cert.key_type_label} {cert.fingerprint()}",
        f"{pad}Signing CA: {ca.key_type_label} {ca.fingerprint()} (using "
        f"{cert.signature_algorithm})",
        f'{pad}Key ID: "{cert.key_id}"',
        f"{pad}Serial: {cert.serial}",
        f"{pad}Valid: {_format_validity(cert)}",
    ]
    sections: list[tuple[str, list[str]]] = [
        ("Principals", list(cert.valid_principals)),
        ("Critical Options", _describe_options(cert.critical_options, True)),
        ("Extensions", _describe_options(cert.extensions, False)),
    ]
    for title, items in sections:
        if not items:
            out.append(f"{pad}{title}: (none)")
        else:
            out.append(f"{pad}{title}: ")
            out += [f"{pad2}{item}" for item in items]
    return "\n".join(out) + "\n"
