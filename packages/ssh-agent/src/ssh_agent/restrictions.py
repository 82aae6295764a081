"""Destination restrictions: the checks behind ``ssh-add -h`` (PROTOCOL.agent 1 and 2).

An agent connection is *bound* by ``session-bind@openssh.com`` messages: each records
the host key and session id of one SSH connection the agent is being used through,
and whether it was bound for forwarding (a further hop) or for user authentication.
A destination-restricted key may only be used along a path of hops that its
constraints list, host key by host key. Unbound connections are local use.
"""

from __future__ import annotations

from dataclasses import dataclass

from ssh_keys import Certificate, CertType, PublicKey, match_glob
from ssh_wire import DecodeError, Reader, SSHError

from .protocol import DestinationConstraint, Hop

__all__ = [
    "Binding",
    "MAX_BINDINGS",
    "MAX_SESSION_ID",
    "UserauthRequest",
    "parse_userauth_request",
    "hop_matches",
    "identity_permitted",
    "sign_refusal",
]

#: Bindings one agent connection may collect, and the largest session id accepted.
MAX_BINDINGS = 16
MAX_SESSION_ID = 128

_USERAUTH_REQUEST = 50
_PUBLICKEY_METHODS = ("publickey", "publickey-hostbound-v00@openssh.com")


@dataclass(frozen=True)
class Binding:
    """One ``session-bind@openssh.com`` recorded on a connection."""

    hostkey: PublicKey
    session_id: bytes
    forwarded: bool


@dataclass(frozen=True)
class UserauthRequest:
    """The parts of a signed RFC 4252 7 publickey request the restrictions look at."""

    session_id: bytes
    user: str
    key_blob: bytes
    hostkey_blob: bytes | None


def parse_userauth_request(data: bytes) -> UserauthRequest | None:
    """Parse data to be signed as a publickey userauth request; None if it is not one."""
    r = Reader(data)
    try:
        session_id = r.string("session id", max_length=MAX_SESSION_ID)
        if r.byte("message") != _USERAUTH_REQUEST:
            return None
        user = r.text("user", max_length=1024)
        r.string("service", max_length=1024)
        method = r.ascii("method", max_length=256)
        if method not in _PUBLICKEY_METHODS or not r.boolean("has signature"):
            return None
        r.ascii("algorithm", max_length=256)
        key_blob = r.string("key")
        hostkey = r.string("host key") if method != "publickey" else None
        if not r.at_end():
            return None
    except DecodeError:
        return None
    return UserauthRequest(session_id, user, key_blob, hostkey)


def _certificate_authority(key: PublicKey, hostname: str, now: float | None) -> PublicKey | None:
    """The CA of a host certificate valid for ``hostname`` at ``now`` (wall-clock seconds)
    whose CA signature verifies, as OpenSSH's sshkey_cert_check_host; None without a time."""
    if not isinstance(key, Certificate) or now is None:
        return None
    try:
        key.check(
            now,
            hostname,
            CertType.HOST,
            require_principal=False,
            wildcard_principals=True,
            check_source_address=False,
        )
    except SSHError:
        return None
    return key.signature_key


def hop_matches(hop: Hop, key: PublicKey | None, now: float | None = None) -> bool:
    """Whether ``key`` (None: the agent's own host) is one ``hop`` allows.

    ``now`` (wall-clock seconds) is needed for a host certificate to match a CA key."""
    if key is None:
        return not hop.hostname and not hop.keys
    for spec in hop.keys:
        if spec.is_ca:
            ca = _certificate_authority(key, hop.hostname, now)
            if ca is not None and ca == spec.key:
                return True
        elif spec.key == key:
            return True
    return False


def _allows(
    dc: DestinationConstraint,
    from_key: PublicKey | None,
    to_key: PublicKey | None,
    user: str | None,
    now: float | None,
) -> bool:
    if not hop_matches(dc.from_hop, from_key, now):
        return False
    # No to_key: asking whether the key may go anywhere beyond from_key.
    if to_key is not None and not hop_matches(dc.to_hop, to_key, now):
        return False
    return not (
        user is not None and dc.to_hop.username and not match_glob(user, dc.to_hop.username)
    )


def identity_permitted(
    destinations: tuple[DestinationConstraint, ...],
    bindings: list[Binding],
    *,
    bind_failed: bool = False,
    user: str | None = None,
    now: float | None = None,
) -> bool:
    """Whether a key with these constraints may be seen or used on this connection.

    ``user`` is given for a signature request (the user in the userauth request);
    without it, a connection last bound for forwarding only sees keys that may go on
    from there, so keys usable only *at* that host stay hidden from it. ``now`` is the
    wall-clock time host certificates are checked at (without it they match no CA key).
    """
    if not destinations:
        return True
    if not bindings:
        return not bind_failed  # unbound: local use, unless a bind was refused
    from_key: PublicKey | None = None
    if user is not None and bindings[-1].forwarded:
        # PROTOCOL.agent: a session bound for forwarding is never used for authentication.
        return False
    for i, binding in enumerate(bindings):
        test_user = user if i == len(bindings) - 1 else None
        if not any(_allows(dc, from_key, binding.hostkey, test_user, now) for dc in destinations):
            return False
        from_key = binding.hostkey
    last = bindings[-1]
    return not (
        last.forwarded
        and user is None
        and not any(_allows(dc, last.hostkey, None, None, now) for dc in destinations)
    )


def sign_refusal(
    destinations: tuple[DestinationConstraint, ...],
    bindings: list[Binding],
    identity_blob: bytes,
    data: bytes,
    *,
    bind_failed: bool = False,
    now: float | None = None,
) -> str | None:
    """Why a signature with a destination-restricted key must be refused, or None."""
    if not destinations:
        return None
    if not bindings:
        return "destination-restricted key used on an unbound connection"
    req = parse_userauth_request(data)
    if req is None:
        return "destination-restricted key asked to sign something not a userauth request"
    if req.key_blob != identity_blob:
        return "userauth request names a different key"
    if bindings[-1].forwarded:
        return "a session bound for forwarding cannot be used for authentication"
    if not identity_permitted(
        destinations, bindings, bind_failed=bind_failed, user=req.user, now=now
    ):
        return "destination not permitted for this key"
    last = bindings[-1]
    if req.session_id != last.session_id:
        return "userauth request is not for the most recently bound session"
    if len(bindings) > 1 and req.hostkey_blob is None:
        return "forwarded use needs a host-bound userauth request"
    if req.hostkey_blob is not None and req.hostkey_blob != last.hostkey.blob:
        return "host key in the request differs from the bound one"
    return None
