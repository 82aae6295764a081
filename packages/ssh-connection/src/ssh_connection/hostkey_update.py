"""The client's side of hostkeys-00@openssh.com, as ssh's ``UpdateHostKeys=yes``.

After login OpenSSH's sshd announces all its host keys (hostkeys-00@openssh.com, no reply
wanted). The client compares them with known_hosts; for each key not recorded yet it asks
the server to prove it holds the private key (hostkeys-prove-00@openssh.com: one signature
per key over ``string "hostkeys-prove-00@openssh.com" || string session_id || string
key``), and then rewrites the user's known_hosts file: proven new keys are added, keys no
longer offered for that host are removed. Sans-I/O apart from reading and writing that file.

As ssh does, nothing is changed when: the key the connection was verified with is not among
those announced; a line that names this host also names others or is a pattern (a shared
line cannot be edited for one host); the host was verified through a certificate (a CA
line); or the proof fails (then the whole update is dropped, and logged). Certificates in
the announcement are ignored. New lines are hashed with HashKnownHosts, and also when the
host's existing lines are hashed (so a hashed file stays hashed). Keys recorded in other
files (the system's) count as known and are left where they are.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

from ssh_keys import (
    Certificate,
    KeyFormatError,
    KnownHosts,
    Marker,
    PublicKey,
    SignatureInvalid,
    host_port_name,
    parse_public_key_blob,
)
from ssh_wire import DecodeError, SSHError, encode_string

from . import forwarding as fw
from .host_keys import locked_file

__all__ = [
    "HostKeysUpdate",
    "HostKeyProofInvalid",
    "HostKeyUpdater",
    "parse_announced_keys",
    "proof_data",
    "verify_proofs",
]

log = logging.getLogger("ssh_connection.hostkey_update")

#: Host keys an announcement may carry (OpenSSH's client reads at most this many too).
MAX_ANNOUNCED = 64


class HostKeyProofInvalid(SSHError):
    """The server's hostkeys-prove-00 reply did not prove a key it announced."""


@dataclass(frozen=True)
class HostKeysUpdate:
    """What one announcement led to. ``announced``: the server's plain host keys;
    ``added`` / ``removed``: the keys written to / dropped from ``path`` (empty when
    nothing changed); ``skipped``: why the file was left alone, or None."""

    announced: tuple[PublicKey, ...]
    added: tuple[PublicKey, ...] = ()
    removed: tuple[PublicKey, ...] = ()
    path: str | None = None
    skipped: str | None = None


def parse_announced_keys(data: bytes) -> list[PublicKey]:
    """The plain keys of a hostkeys-00 announcement, deduplicated, in order; key types we
    do not know and certificates are left out. DecodeError for a malformed list."""
    keys: list[PublicKey] = []
    for blob in fw.decode_strings(data, limit=MAX_ANNOUNCED):
        try:
            key = parse_public_key_blob(blob)
        except (KeyFormatError, DecodeError):
            log.debug("hostkeys-00: skipping a key of an unknown type")
            continue
        if isinstance(key, Certificate) or key in keys:
            continue
        keys.append(key)
    return keys


def proof_data(session_id: bytes, key: PublicKey) -> bytes:
    """What the server signs with ``key`` to prove it holds it."""
    return encode_string(fw.HOSTKEYS_PROVE) + encode_string(session_id) + encode_string(key.blob)


def verify_proofs(reply: bytes, keys: Sequence[PublicKey], session_id: bytes) -> None:
    """Check the hostkeys-prove-00 reply: one valid signature per key, in order (SHA-1
    RSA signatures refused). Raises :class:`HostKeyProofInvalid`."""
    try:
        signatures = fw.decode_strings(reply, limit=MAX_ANNOUNCED)
    except DecodeError as exc:
        raise HostKeyProofInvalid(f"malformed hostkeys-prove-00 reply: {exc}") from None
    if len(signatures) != len(keys):
        raise HostKeyProofInvalid(
            f"hostkeys-prove-00 reply has {len(signatures)} signatures for {len(keys)} keys"
        )
    for key, signature in zip(keys, signatures, strict=True):
        try:
            key.verify(proof_data(session_id, key), signature)
        except SignatureInvalid as exc:
            raise HostKeyProofInvalid(
                f"the server did not prove {key.algorithm} {key.fingerprint()}: {exc}"
            ) from None


class HostKeyUpdater:
    """Decides and applies an update for one destination's entries in ``path``.

    ``host``/``port`` name the destination as known_hosts does (HostKeyAlias: the alias
    and port 22); ``other_files`` are the remaining known_hosts files, read only.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        host: str,
        port: int,
        *,
        other_files: Sequence[str | os.PathLike[str]] = (),
        hash_new: bool = False,
    ) -> None:
        self.path = os.path.expanduser(os.fspath(path))
        self.host, self.port = host, port
        self.other_files = tuple(os.path.expanduser(os.fspath(f)) for f in other_files)
        self.hash_new = hash_new

    def _known_elsewhere(self) -> set[PublicKey]:
        known: set[PublicKey] = set()
        for path in self.other_files:
            try:
                lookup = KnownHosts.load(path).lookup(self.host, self.port)
            except OSError:
                continue
            known.update(lookup.trusted_keys)
        return known

    def plan(
        self, announced: Sequence[PublicKey], connection_key: PublicKey | None
    ) -> tuple[list[PublicKey], list[PublicKey], str | None]:
        """(keys to prove and add, keys to remove, why nothing is done or None)."""
        if connection_key is None or isinstance(connection_key, Certificate):
            return [], [], "the host was verified through a certificate"
        if connection_key not in announced:
            return [], [], "the server did not announce the key it used"
        try:
            known_hosts = KnownHosts.load(self.path)
        except OSError as exc:
            return [], [], f"cannot read {self.path}: {exc.strerror}"
        name = host_port_name(self.host, self.port)
        lookup = known_hosts.lookup(self.host, self.port)
        if any(e.marker is Marker.CERT_AUTHORITY for e in lookup.entries):
            return [], [], "the host is vouched for by a @cert-authority line"
        revoked = set(lookup.revoked_keys)
        recorded: list[PublicKey] = []
        for entry in lookup.entries:
            if entry.marker is not Marker.NONE:
                continue
            if not entry.hashed and any(c in entry.hosts for c in "*?!"):
                return [], [], f"line {entry.line_number} matches {name} by a pattern"
            if not entry.hashed and entry.hosts != name:
                return [], [], f"line {entry.line_number} names more hosts than {name}"
            recorded.append(entry.key)
        known = set(recorded) | self._known_elsewhere()
        new = [k for k in announced if k not in known and k not in revoked]
        gone = [k for k in dict.fromkeys(recorded) if k not in announced]
        return new, gone, None

    def apply(self, add: Sequence[PublicKey], remove: Sequence[PublicKey]) -> None:
        """Rewrite the file (atomically, through a symlink to its target): drop this host's
        lines for ``remove``, append ``add``."""
        path = os.path.realpath(self.path)
        # Under the lock ssh_connection's known_hosts writers share: a line another
        # connection appends meanwhile is not lost by the rewrite.
        with locked_file(path):
            self._rewrite(path, add, remove)

    def _rewrite(self, path: str, add: Sequence[PublicKey], remove: Sequence[PublicKey]) -> None:
        known_hosts = KnownHosts.load(path)
        name = host_port_name(self.host, self.port)
        entries = known_hosts.lookup(self.host, self.port).entries
        hashed = self.hash_new or any(e.hashed for e in entries)
        drop = {e.line_number for e in entries if e.marker is Marker.NONE and e.key in remove}
        if drop:  # the other lines stay exactly as written
            lines = known_hosts.to_text().splitlines(keepends=True)
            text = "".join(line for i, line in enumerate(lines, 1) if i not in drop)
            known_hosts = KnownHosts(text, path=path)
        for key in add:
            known_hosts.add(self.host, self.port, key, hashed)
        known_hosts.save(path)
        log.info(
            "updated %s for %s: %d key(s) added, %d removed", path, name, len(add), len(remove)
        )
