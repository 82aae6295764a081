"""Ready-made host key checks for a client, on known_hosts files as ssh(1) uses them.

:class:`KnownHostsPolicy` looks a server's key up in the user's and the system's known_hosts
files (hashed names, ``[host]:port`` names, ``@cert-authority`` and ``@revoked`` lines) and
applies one of ssh's StrictHostKeyChecking modes:

- ``"strict"`` (``yes``): the key must be known; anything else is refused.
- ``"accept-new"``: an unknown host's key is added to the user file; a changed key is refused.
- ``"ask"``: the ``ask`` callback decides about unknown hosts (yes: added); changed refused.
- ``"warn"`` (``no``/``off``): unknown keys are added and changed keys accepted, each with a
  logged warning (a changed key is still logged as one, with the line it contradicts).

As ssh (checked against it in tests/interop/test_ssh_config_openssh.py): a key not found
for ``[host]:port`` is also accepted if recorded for the bare host name; a certificate whose
CA is not trusted for the host, or that fails its checks, is judged as its plain key; and
when only keys of other types are recorded, a key of a new type counts as a changed key,
not an unknown one. Unlike ssh, which lets a revoked key through
under StrictHostKeyChecking=no with a warning, a revoked key is refused in every mode.
:meth:`KnownHostsPolicy.verify` raises a :class:`HostKeyError` subclass saying why;
:meth:`KnownHostsPolicy.check` is the same as a ``check(host, port, key) -> bool`` callable,
and :meth:`KnownHostsPolicy.for_host` adapts it to a transport's ``(key, algorithm)`` hook.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Literal

from ssh_keys import (
    Certificate,
    CertificateInvalid,
    CertType,
    KnownHosts,
    KnownHostsEntry,
    Marker,
    PublicKey,
    host_port_name,
)
from ssh_wire import SSHError

if TYPE_CHECKING:
    from .config import HostConfig

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: writers are not serialized
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "HostKeyError",
    "HostKeyUnknown",
    "HostKeyChanged",
    "HostKeyRevoked",
    "HostCertificateInvalid",
    "HostKeyOutcome",
    "HostKeyPolicy",
    "KnownHostsPolicy",
    "CallbackPolicy",
    "AskCallback",
    "HostKeyCallable",
    "policy_from_config",
]

log = logging.getLogger("ssh_connection.host_keys")

Mode = Literal["strict", "accept-new", "ask", "warn"]
#: ``ask(host, port, key, problem) -> bool``: the ``"ask"`` mode's question to a person.
AskCallback = Callable[[str, int, PublicKey, "HostKeyError"], bool]
#: A ``check(host, port, key) -> bool`` callable.
HostKeyCallable = Callable[[str, int, PublicKey], bool]

DEFAULT_USER_FILES = ("~/.ssh/known_hosts", "~/.ssh/known_hosts2")
DEFAULT_GLOBAL_FILES = ("/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2")


# -- errors -----------------------------------------------------------------------------


class HostKeyError(SSHError):
    """The server's host key was not accepted. ``fingerprint`` is the key's SHA256 one."""

    def __init__(self, message: str, host: str, port: int, key: PublicKey) -> None:
        self.host = host
        self.port = port
        self.key = key
        self.fingerprint = key.fingerprint()
        super().__init__(f"{host_port_name(host, port)}: {message} ({self.fingerprint})")


class HostKeyUnknown(HostKeyError):
    """No known_hosts line vouches for the key; ``files`` are the files searched."""

    def __init__(self, host: str, port: int, key: PublicKey, files: Sequence[str]) -> None:
        self.files = tuple(files)
        super().__init__("host key is not known", host, port, key)


class HostKeyChanged(HostKeyError):
    """A different key of the same type is recorded: possibly a man in the middle.

    ``known_file``/``known_line`` locate the contradicting entry, ``known_fingerprint`` its key.
    """

    def __init__(
        self, host: str, port: int, key: PublicKey, known_file: str, entry: KnownHostsEntry
    ) -> None:
        self.known_file = known_file
        self.known_line = entry.line_number
        self.known_key = entry.key
        self.known_fingerprint = entry.key.fingerprint()
        super().__init__(
            f"HOST KEY CHANGED, known as {self.known_fingerprint} in "
            f"{known_file}:{self.known_line}",
            host,
            port,
            key,
        )


class HostKeyRevoked(HostKeyError):
    """The key (or its CA) is listed ``@revoked`` at ``file``:``line``."""

    def __init__(
        self, host: str, port: int, key: PublicKey, file: str | None, line: int | None
    ) -> None:
        self.file = file
        self.line = line
        where = f" at {file}:{line}" if file is not None else ""
        super().__init__(f"host key is revoked{where}", host, port, key)


class HostCertificateInvalid(HostKeyError):
    """A host certificate from a trusted CA failed its checks (type, principal, validity)."""

    def __init__(self, host: str, port: int, key: PublicKey, reason: str) -> None:
        self.reason = reason
        super().__init__(f"host certificate invalid: {reason}", host, port, key)


class HostKeyOutcome(enum.Enum):
    """How an accepted key was accepted."""

    TRUSTED = "trusted"  # a known_hosts line lists the key
    CERTIFIED = "certified"  # a host certificate signed by a trusted CA
    ADDED = "added"  # unknown, accepted and recorded in the user file
    ACCEPTED_NOT_RECORDED = "accepted-not-recorded"  # as ADDED, but the file was not writable
    ACCEPTED_CHANGED = "accepted-changed"  # warn mode: changed key let through


# -- policies -----------------------------------------------------------------------------


class HostKeyPolicy:
    """Base of the policies: ``verify`` raises, ``check`` answers, ``for_host`` adapts."""

    def verify(self, host: str, port: int, key: PublicKey) -> HostKeyOutcome:
        raise NotImplementedError

    def check(self, host: str, port: int, key: PublicKey) -> bool:
        """True if the key is accepted (errors are logged, not raised)."""
        try:
            self.verify(host, port, key)
        except HostKeyError as exc:
            log.error("%s", exc)
            return False
        return True

    __call__ = check

    def for_host(self, host: str, port: int = 22) -> Callable[[PublicKey, str], bool]:
        """A transport ``host_key_check(key, algorithm)`` for one destination; a refusal
        raises the :class:`HostKeyError` so the reason reaches the caller."""

        def check(key: PublicKey, algorithm: str) -> bool:
            self.verify(host, port, key)
            return True

        return check


class CallbackPolicy(HostKeyPolicy):
    """Delegate the decision to ``decide(host, port, key) -> bool``."""

    def __init__(self, decide: HostKeyCallable) -> None:
        self._decide = decide

    def verify(self, host: str, port: int, key: PublicKey) -> HostKeyOutcome:
        if not self._decide(host, port, key):
            raise HostKeyError("host key refused by the application", host, port, key)
        return HostKeyOutcome.TRUSTED


def _now() -> float:
    return datetime.now(timezone.utc).timestamp()


class _Found(enum.Enum):
    TRUSTED = "trusted"
    CHANGED = "changed"  # a different key of the same type
    OTHER_TYPE = "other-type"  # only keys of other types
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class _Loaded:
    path: str
    hosts: KnownHosts


class KnownHostsPolicy(HostKeyPolicy):
    """Known_hosts checking as ssh does it; see the module documentation for the modes.

    New keys go to the first of ``user_files`` (created with a 0700 parent directory if
    needed, written atomically, mode kept), hashed when ``hash_new`` (HashKnownHosts). With
    ``host_key_alias`` the alias is looked up and recorded instead of ``host:port``, as ssh's
    HostKeyAlias. ``now`` returns the time (Unix seconds) for certificate validity; ``home``
    replaces the home directory in ``~/`` paths (default: the user's).
    """

    def __init__(
        self,
        mode: Mode = "strict",
        *,
        user_files: Sequence[str | os.PathLike[str]] = DEFAULT_USER_FILES,
        global_files: Sequence[str | os.PathLike[str]] = DEFAULT_GLOBAL_FILES,
        hash_new: bool = False,
        host_key_alias: str | None = None,
        ask: AskCallback | None = None,
        now: Callable[[], float] = _now,
        home: str | None = None,
    ) -> None:
        if mode not in ("strict", "accept-new", "ask", "warn"):
            raise ValueError(f"unknown host key checking mode {mode!r}")
        if mode == "ask" and ask is None:
            raise ValueError('mode "ask" needs an ask callback')
        self.mode: Mode = mode
        self._home = home
        self.user_files = tuple(self._expand(f) for f in user_files)
        self.global_files = tuple(self._expand(f) for f in global_files)
        self.hash_new = hash_new
        self.host_key_alias = host_key_alias
        self._ask = ask
        self._now = now

    def _expand(self, path: str | os.PathLike[str]) -> str:
        text = os.fspath(path)
        if self._home is not None and (text == "~" or text.startswith("~/")):
            return self._home + text[1:]
        return os.path.expanduser(text)

    def _load(self) -> list[_Loaded]:
        loaded = []
        for path in (*self.user_files, *self.global_files):
            try:
                loaded.append(_Loaded(path, KnownHosts.load(path)))
            except OSError as exc:
                # As ssh: an unreadable file is skipped, not fatal (missing ones are empty).
                log.debug("skipping known_hosts file %s: %s", path, exc.strerror)
        return loaded

    def verify(self, host: str, port: int, key: PublicKey) -> HostKeyOutcome:
        name, name_port = (self.host_key_alias, 22) if self.host_key_alias else (host, port)
        files = self._load()
        revoked = self._revoked(files, name, name_port, key)
        if revoked is not None:
            raise HostKeyRevoked(host, port, key, *revoked)
        plain, cert_problem = key, None
        if isinstance(key, Certificate):
            trusted, cert_problem = self._certified(files, name, name_port, key)
            if trusted:
                return HostKeyOutcome.CERTIFIED
            # As ssh: without a CA vouching for it, the certified key is judged as a plain key.
            plain = key.key
        status, entry = self._plain_status(files, name, name_port, plain)
        if status is _Found.TRUSTED:
            return HostKeyOutcome.TRUSTED
        if status in (_Found.CHANGED, _Found.OTHER_TYPE):
            # As ssh: with only keys of other types on record, a new type is a change too.
            assert entry is not None
            problem = HostKeyChanged(host, port, key, *entry)
            if self.mode != "warn":
                raise problem
            log.warning("%s; accepted (StrictHostKeyChecking no)", problem)
            return HostKeyOutcome.ACCEPTED_CHANGED
        if name_port != 22:
            # As ssh: a key not recorded for [host]:port is also looked for under the bare
            # name, where only a match counts (a different key there is not a change).
            if isinstance(key, Certificate) and self._certified(files, name, 22, key)[0]:
                return HostKeyOutcome.CERTIFIED
            if self._plain_status(files, name, 22, plain)[0] is _Found.TRUSTED:
                return HostKeyOutcome.TRUSTED
        unknown: HostKeyError = HostKeyUnknown(host, port, key, [f.path for f in files])
        if cert_problem is not None:
            log.warning("%s", HostCertificateInvalid(host, port, key, cert_problem))
            unknown = HostCertificateInvalid(host, port, key, cert_problem)
        if self.mode == "strict":
            raise unknown
        if self.mode == "ask":
            assert self._ask is not None
            if not self._ask(host, port, key, unknown):
                raise unknown
        if not self._add(name, name_port, plain):
            return HostKeyOutcome.ACCEPTED_NOT_RECORDED
        if self.mode == "warn":
            log.warning(
                "Permanently added %s (%s) to the list of known hosts",
                host_port_name(name, name_port),
                plain.fingerprint(),
            )
        return HostKeyOutcome.ADDED

    # -- helpers ----------------------------------------------------------------------

    @staticmethod
    def _revoked(
        files: list[_Loaded], name: str, port: int, key: PublicKey
    ) -> tuple[str, int] | None:
        candidates = {key}
        if isinstance(key, Certificate):
            candidates |= {key.key, key.signature_key}
        for f in files:
            for entry in f.hosts.lookup(name, port).entries:
                if entry.marker is Marker.REVOKED and entry.key in candidates:
                    return f.path, entry.line_number
        return None

    def _certified(
        self, files: list[_Loaded], name: str, port: int, cert: Certificate
    ) -> tuple[bool, str | None]:
        """(trusted, why not): whether a CA listed for the name vouches for ``cert``."""
        if not any(cert.signature_key in f.hosts.lookup(name, port).ca_keys for f in files):
            return False, None
        try:
            cert.check(self._now(), name.lower(), CertType.HOST, wildcard_principals=True)
        except CertificateInvalid as exc:
            return False, str(exc)
        return True, None

    @staticmethod
    def _plain_status(
        files: list[_Loaded], name: str, port: int, key: PublicKey
    ) -> tuple[_Found, tuple[str, KnownHostsEntry] | None]:
        """What the plain-key lines say, with the first contradicting line if any."""
        same_type: tuple[str, KnownHostsEntry] | None = None
        other_type: tuple[str, KnownHostsEntry] | None = None
        for f in files:
            for entry in f.hosts.lookup(name, port).entries:
                if entry.marker is not Marker.NONE:
                    continue
                if entry.key == key:
                    return _Found.TRUSTED, (f.path, entry)
                if entry.key.algorithm == key.algorithm:
                    same_type = same_type or (f.path, entry)
                else:
                    other_type = other_type or (f.path, entry)
        if same_type is not None:
            return _Found.CHANGED, same_type
        if other_type is not None:
            return _Found.OTHER_TYPE, other_type
        return _Found.UNKNOWN, None

    def _add(self, name: str, port: int, key: PublicKey) -> bool:
        """Record an accepted key; False (logged) if it cannot be, which, as in ssh, does
        not undo the acceptance."""
        if not self.user_files:
            log.warning("no user known_hosts file to record %s in", host_port_name(name, port))
            return False
        try:
            self._append(name, port, key)
        except (OSError, ValueError) as exc:
            log.warning("failed to add %s to %s: %s", name, self.user_files[0], exc)
            return False
        return True

    def _append(self, name: str, port: int, key: PublicKey) -> None:
        # Through a symlink (dotfile managers): replace its target, not the link.
        path = os.path.realpath(self.user_files[0])
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            os.makedirs(directory, mode=0o700, exist_ok=True)
            os.chmod(directory, 0o700)  # makedirs' mode is subject to the umask
        # Appended, as ssh does, not rewritten: connections accepting new keys at the same
        # time (many hosts at once) must not overwrite each other's lines.
        line = KnownHosts()
        line.add(name, port, key, self.hash_new)
        data = line.to_text().encode("utf-8", "surrogateescape")
        with locked_file(path, append=True) as fd:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data  # the last line had no end
            os.write(fd, data)


@contextlib.contextmanager
def locked_file(path: str, *, append: bool = False) -> Iterator[int]:
    """The file at ``path`` (created if missing), opened and locked (``flock``) against the
    other writers of known_hosts: appenders, and rewriters that replace it by rename. A
    lock taken on a file that was replaced meanwhile is dropped and taken again on the new
    one, so no line is written into a file that is no longer there."""
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    if append:
        flags |= os.O_APPEND
    while True:
        fd = os.open(path, flags, 0o666)
        try:
            if fcntl is None:
                break
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                current = os.stat(path).st_ino
            except FileNotFoundError:
                current = -1
            if current == os.fstat(fd).st_ino:
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # replaced while we waited: lock the new file
    try:
        yield fd
    finally:
        os.close(fd)


_MODES: dict[str, Mode] = {"yes": "strict", "accept-new": "accept-new", "ask": "ask", "no": "warn"}


def policy_from_config(
    config: HostConfig, *, ask: AskCallback | None = None, batch_mode: bool | None = None
) -> KnownHostsPolicy:
    """The policy ssh would apply for a resolved :class:`~ssh_connection.config.HostConfig`.

    ``ask`` without a callback (or in BatchMode) becomes ``strict``, as ssh cannot ask then.
    """
    mode = _MODES[config.strict_host_key_checking]
    batch = config.batch_mode if batch_mode is None else batch_mode
    if mode == "ask" and (ask is None or batch):
        mode = "strict"
    return KnownHostsPolicy(
        mode,
        user_files=config.user_known_hosts_files,
        global_files=config.global_known_hosts_files,
        hash_new=config.hash_known_hosts,
        host_key_alias=config.host_key_alias,
        ask=ask if mode == "ask" else None,
    )


# -- ready-made checks for the front ends: (host, port, key) -> bool --------------------------

#: Decide whether ``key`` may be the key of ``host`` port ``port``.
HostKeyCheck = Callable[[str, int, PublicKey], bool]


def insecure_accept_any_host_key(host: str, port: int, key: PublicKey) -> bool:
    """Trust every server: anyone on the path can read and change the session. For tests
    and throwaway hosts only."""
    return True


def known_hosts(
    path: str | os.PathLike[str] = "~/.ssh/known_hosts", *, accept_new: bool = False
) -> HostKeyCheck:
    """Check keys against one OpenSSH known_hosts file, as ``StrictHostKeyChecking=yes``
    (or ``accept-new``, which records keys of hosts not in the file yet; a changed or
    revoked key is refused either way). :class:`KnownHostsPolicy` does the work; use it
    directly for several files, hashing and the other modes."""
    policy = KnownHostsPolicy(
        "accept-new" if accept_new else "strict", user_files=[path], global_files=()
    )
    return policy.check
