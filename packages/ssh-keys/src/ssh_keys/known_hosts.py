"""known_hosts files: sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT", as ssh and ssh-keygen use them.

Lines are ``[@marker] hostnames keytype base64 [comment]``. Host lists are comma-separated
patterns (``*``, ``?``, ``!``) or a single hashed name ``|1|base64(salt)|base64(hmac)``
(HMAC-SHA1 keyed by the salt over ``host`` or ``[host]:port``). Lines that cannot be used are
skipped and recorded in :attr:`KnownHosts.warnings`, as ssh does; loading never raises on
content. The original text of every line is kept so that saving changes only what was added
or removed.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import enum
import hmac
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .errors import KeyFormatError
from .patterns import PatternMatch, host_port_name, match_hostname, split_field, split_lines
from .public import PublicKey, PublicKeyLine, _key_like, parse_public_key_line

__all__ = [
    "Marker",
    "HostKeyStatus",
    "KnownHostsEntry",
    "KnownHostsWarning",
    "HostKeyLookup",
    "KnownHosts",
    "hash_host",
    "HASH_MAGIC",
]

#: Prefix of a hashed host name.
HASH_MAGIC = "|1|"
_SHA1_LEN = 20
_SALT_LEN = _SHA1_LEN  # OpenSSH rejects other salt lengths

#: A hook that says whether a certificate host key is valid for a host name (principals,
#: validity window, certificate type); called only when its CA is trusted for the host.
CertificateCheck = Callable[[Any, str], bool]


class Marker(enum.Enum):
    """The optional marker in front of a known_hosts line."""

    NONE = ""
    CERT_AUTHORITY = "@cert-authority"
    REVOKED = "@revoked"


class HostKeyStatus(enum.Enum):
    """What a known_hosts file says about a host key."""

    TRUSTED = "trusted"
    UNKNOWN = "unknown"  # no key of this type is recorded for the host
    CHANGED = "changed"  # a different key of the same type is recorded: possible MITM
    REVOKED = "revoked"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_host(name: str, salt: bytes | None = None) -> str:
    """Hash a host name (``host`` or ``[host]:port``) the way ``ssh-keygen -H`` does."""
    if salt is None:
        salt = os.urandom(_SALT_LEN)
    elif len(salt) != _SALT_LEN:
        raise ValueError(f"salt must be {_SALT_LEN} bytes")
    digest = hmac.new(salt, name.encode("utf-8", "surrogateescape"), "sha1").digest()
    return f"{HASH_MAGIC}{_b64(salt)}|{_b64(digest)}"


def _parse_hashed(field: str) -> tuple[bytes, bytes]:
    """Split ``|1|salt|hash`` into (salt, hash); KeyFormatError if malformed."""
    parts = field[len(HASH_MAGIC) :].split("|")
    if len(parts) != 2:
        raise KeyFormatError("hashed host name needs |1|salt|hash")
    try:
        salt, digest = (base64.b64decode(p.encode("ascii"), validate=True) for p in parts)
    except (binascii.Error, UnicodeEncodeError):
        raise KeyFormatError("hashed host name has invalid base64") from None
    if len(salt) != _SALT_LEN or len(digest) != _SHA1_LEN:
        raise KeyFormatError("hashed host name has the wrong salt or hash length")
    return salt, digest


@dataclass(frozen=True)
class KnownHostsEntry:
    """One usable known_hosts line."""

    marker: Marker
    hosts: str  # the host field exactly as written
    key: PublicKey
    comment: str
    line_number: int  # 1-based position in the file as it is now
    line: str  # the line's text, without its newline

    @property
    def hashed(self) -> bool:
        return self.hosts.startswith(HASH_MAGIC)

    def match(self, name: str) -> PatternMatch:
        """Match one name (``host`` or ``[host]:port``) against this line's host field."""
        if self.hashed:
            # Validated when the line was parsed.
            salt, digest = _parse_hashed(self.hosts)
            mac = hmac.new(salt, name.encode("utf-8", "surrogateescape"), "sha1")
            ok = hmac.compare_digest(mac.digest(), digest)
            return PatternMatch.POSITIVE if ok else PatternMatch.NONE
        return match_hostname(name, self.hosts)

    def matches_any(self, names: Iterable[str]) -> bool:
        """True if some name matches and none hits a negated pattern."""
        results = [self.match(n) for n in names]
        return PatternMatch.POSITIVE in results and PatternMatch.NEGATED not in results


@dataclass(frozen=True)
class KnownHostsWarning:
    """A line that was skipped, and why."""

    line_number: int
    line: str
    reason: str


@dataclass(frozen=True)
class HostKeyLookup:
    """The lines of a known_hosts file that apply to one host."""

    trusted_keys: tuple[PublicKey, ...]
    ca_keys: tuple[PublicKey, ...]
    revoked_keys: tuple[PublicKey, ...]
    entries: tuple[KnownHostsEntry, ...]


def _parse_line(text: str, line_number: int) -> KnownHostsEntry | None:
    """Parse one line; None for blank and comment lines, KeyFormatError if unusable."""
    body = text.strip(" \t\r\n\v\f")
    if not body or body.startswith("#"):
        return None
    hosts, key_text = split_field(body)
    marker = Marker.NONE
    if hosts.startswith("@"):
        try:
            marker = Marker(hosts)
        except ValueError:
            raise KeyFormatError(f"unknown marker {hosts!r}") from None
        hosts, key_text = split_field(key_text)
        if not hosts:
            raise KeyFormatError("marker without host names")
    if not key_text:
        raise KeyFormatError("no key after the host names")
    if hosts.startswith(HASH_MAGIC):
        _parse_hashed(hosts)
    elif hosts.startswith("|"):
        raise KeyFormatError("unsupported host name hash")
    parsed = parse_public_key_line(key_text)
    return KnownHostsEntry(marker, hosts, parsed.key, parsed.comment, line_number, text)


def _lookup_names(host: str, port: int, addresses: Iterable[str]) -> list[str]:
    # ssh lowercases the host before matching and hashing; addresses likewise (IPv6 hex).
    return [host_port_name(h.lower(), port) for h in (host, *addresses)]


class KnownHosts:
    """A known_hosts file in memory: lookups, trust checks, edits and atomic saving."""

    def __init__(self, text: str = "", *, path: str | os.PathLike[str] | None = None) -> None:
        self.path = path
        # Each line is its raw text or its parsed entry; saving writes them back in order.
        self._lines: list[str | KnownHostsEntry] = []
        self._warnings: list[KnownHostsWarning] = []
        for number, line in enumerate(split_lines(text), 1):
            try:
                entry = _parse_line(line, number)
            except (KeyFormatError, ValueError) as exc:
                # UnsupportedAlgorithm is a KeyFormatError: new key types are skipped too.
                self._warnings.append(KnownHostsWarning(number, line, str(exc)))
                entry = None
            self._lines.append(entry if entry is not None else line)

    @classmethod
    def from_text(cls, text: str) -> KnownHosts:
        return cls(text)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, missing_ok: bool = True) -> KnownHosts:
        """Read a file (``~`` expanded); a missing file is an empty one unless
        ``missing_ok`` is false."""
        path = os.path.expanduser(path)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            if not missing_ok:
                raise
            data = b""
        # surrogateescape keeps stray non-UTF-8 bytes intact for saving back.
        return cls(data.decode("utf-8", "surrogateescape"), path=path)

    # -- reading -----------------------------------------------------------------

    @property
    def entries(self) -> tuple[KnownHostsEntry, ...]:
        return tuple(e for e in self._lines if isinstance(e, KnownHostsEntry))

    @property
    def warnings(self) -> tuple[KnownHostsWarning, ...]:
        return tuple(self._warnings)

    def __iter__(self) -> Iterator[KnownHostsEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def lookup(self, host: str, port: int = 22, addresses: Iterable[str] = ()) -> HostKeyLookup:
        """Everything recorded for ``host`` (and its ``addresses``) on ``port``.

        A line applies if one of the names matches it and none is excluded by a negated
        pattern on that line.
        """
        names = _lookup_names(host, port, addresses)
        hits = [e for e in self.entries if e.matches_any(names)]

        def keys(marker: Marker) -> tuple[PublicKey, ...]:
            return tuple(dict.fromkeys(e.key for e in hits if e.marker is marker))

        return HostKeyLookup(
            trusted_keys=keys(Marker.NONE),
            ca_keys=keys(Marker.CERT_AUTHORITY),
            revoked_keys=keys(Marker.REVOKED),
            entries=tuple(hits),
        )

    def find(self, host: str, port: int = 22) -> list[KnownHostsEntry]:
        """The lines ``ssh-keygen -F host`` prints (for a port, ``-F '[host]:port'``)."""
        name = host_port_name(host, port)
        return [e for e in self.entries if e.match(name) is PatternMatch.POSITIVE]

    def check(
        self,
        host: str,
        port: int,
        key: PublicKey | PublicKeyLine,
        *,
        certificate_valid: CertificateCheck | None = None,
    ) -> HostKeyStatus:
        """Decide whether ``key`` presented by ``host:port`` is trusted, as ssh does.

        Certificates (anything with a ``signature_key`` attribute) are trusted when their
        CA is an ``@cert-authority`` for the host and ``certificate_valid(cert, host)`` says
        the certificate itself is valid for it; without that hook a certificate is never
        trusted through its CA. Otherwise, as ssh does, the certified plain key (the
        certificate's ``key`` attribute, if it has one) is checked like any host key.
        A revoked key, CA or certified key gives REVOKED whatever else matches.
        """
        key = _key_like(key)
        found = self.lookup(host, port)
        revoked = set(found.revoked_keys)
        ca: PublicKey | None = getattr(key, "signature_key", None)
        if ca is not None:
            plain: PublicKey | None = getattr(key, "key", None)
            if key in revoked or ca in revoked or (plain is not None and plain in revoked):
                return HostKeyStatus.REVOKED
            if (
                ca in found.ca_keys
                and certificate_valid is not None
                and certificate_valid(key, host)
            ):
                return HostKeyStatus.TRUSTED
            if plain is None:
                return HostKeyStatus.UNKNOWN
            key = plain
        if key in revoked:
            return HostKeyStatus.REVOKED
        if key in found.trusted_keys:
            return HostKeyStatus.TRUSTED
        if any(k.algorithm == key.algorithm for k in found.trusted_keys):
            return HostKeyStatus.CHANGED
        return HostKeyStatus.UNKNOWN

    # -- editing -----------------------------------------------------------------

    def add(
        self,
        host: str,
        port: int,
        key: PublicKey | PublicKeyLine,
        hashed: bool = False,
        *,
        addresses: Iterable[str] = (),
        marker: Marker = Marker.NONE,
        comment: str = "",
        salt: bytes | None = None,
    ) -> KnownHostsEntry:
        """Append the line ssh writes for a newly accepted key and return its entry.

        Plain: ``host[,address...] keytype base64``; hashed: one ``|1|...`` name per line as
        ssh with HashKnownHosts does, so only the first (host) line is returned when
        ``addresses`` are given with ``hashed=True``; the address lines are added too.
        """
        key = _key_like(key)
        names = _lookup_names(host, port, addresses)
        for n in names:
            # A name must stay one name: no separators, nothing read as a marker, hash,
            # negation or comment, and no wildcards in a hash (ssh-keygen -H refuses them).
            if (
                not n
                or n[0] in "@|!#"
                or any(c.isspace() or c == "," for c in n)
                or (hashed and any(c in n for c in "*?"))
            ):
                raise ValueError(f"invalid host name for known_hosts: {n!r}")
        key_text = key.to_line(comment)
        prefix = f"{marker.value} " if marker is not Marker.NONE else ""
        if hashed:
            if salt is not None and len(names) > 1:
                raise ValueError("one salt cannot be reused for several names")
            fields = [hash_host(n, salt) for n in names]
        else:
            fields = [",".join(names)]
        added = []
        for field in fields:
            line = f"{prefix}{field} {key_text}"
            entry = _parse_line(line, len(self._lines) + 1)
            assert entry is not None
            self._lines.append(entry)
            added.append(entry)
        return added[0]

    def remove(
        self, host: str, port: int = 22, *, include_markers: bool = False
    ) -> list[KnownHostsEntry]:
        """Drop the lines ``ssh-keygen -R`` drops for this host and return them.

        Like ssh-keygen, ``@cert-authority`` and ``@revoked`` lines are kept unless
        ``include_markers`` is set: forgetting a host must not un-revoke a key.
        """
        name = host_port_name(host, port)
        removed = [
            e
            for e in self.entries
            if e.match(name) is PatternMatch.POSITIVE
            and (include_markers or e.marker is Marker.NONE)
        ]
        if removed:
            gone = {id(e) for e in removed}
            self._lines = [x for x in self._lines if id(x) not in gone]
            self._renumber()
        return removed

    def _renumber(self) -> None:
        lines: list[str | KnownHostsEntry] = []
        for number, item in enumerate(self._lines, 1):
            if isinstance(item, KnownHostsEntry) and item.line_number != number:
                item = dataclasses.replace(item, line_number=number)
            lines.append(item)
        self._lines = lines
        # Warnings keep the numbers of the file as loaded.

    def to_text(self) -> str:
        lines = [x.line if isinstance(x, KnownHostsEntry) else x for x in self._lines]
        return "".join(f"{line}\n" for line in lines)

    def save(self, path: str | os.PathLike[str] | None = None) -> None:
        """Write the file atomically: a temporary file beside it, then ``os.replace``.

        An existing file keeps its permission bits; a new one gets the default for a new
        file (0666 less the umask), as ssh creates known_hosts.
        """
        target = path if path is not None else self.path
        if target is None:
            raise ValueError("no path to save to")
        target = os.fspath(target)
        try:
            mode: int | None = stat.S_IMODE(os.stat(target).st_mode)
        except FileNotFoundError:
            mode = None
        directory = os.path.dirname(os.path.abspath(target))
        tmp = os.path.join(directory, f".{os.path.basename(target)}.{os.urandom(6).hex()}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(tmp, flags, 0o666)
        try:
            with os.fdopen(fd, "wb") as f:
                if mode is not None:
                    os.fchmod(f.fileno(), mode)
                f.write(self.to_text().encode("utf-8", "surrogateescape"))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        if path is not None:
            self.path = path
