"""Host-key rotation, the server's half (OpenSSH PROTOCOL 2.5, ``UpdateHostKeys``): after
authentication the server announces every host key in ``hostkeys-00@openssh.com``; the
client asks with ``hostkeys-prove-00@openssh.com`` for proof of the keys it does not know
yet, and the server answers with one signature per key, in the order asked, over
``string "hostkeys-prove-00@openssh.com" || string session_id || string key``. No I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from ssh_transport import HostKey
from ssh_wire import DecodeError, encode_string

from . import forwarding as fw

__all__ = ["announced_blobs", "prove_data", "prove_host_keys", "HostKeyProofError"]

#: Most keys a client may ask us to prove at once (OpenSSH announces a handful).
MAX_PROVE = 64
_RSA_ALGORITHMS = ("rsa-sha2-512", "rsa-sha2-256")


class HostKeyProofError(ValueError):
    """The client asked about a key we do not hold, or sent a malformed request."""


def announced_blobs(host_keys: Sequence[HostKey]) -> list[bytes]:
    """The plain public keys to announce, once each (certificates are not announced, as
    in sshd: a client learns a certified key through its CA)."""
    blobs: list[bytes] = []
    for key in host_keys:
        blob = key.signer.public_key.blob
        if blob not in blobs:
            blobs.append(blob)
    return blobs


def prove_data(session_id: bytes, blob: bytes) -> bytes:
    """What the signature for ``blob`` covers; the client verifies the same bytes."""
    return (
        encode_string(fw.HOSTKEYS_PROVE.encode()) + encode_string(session_id) + encode_string(blob)
    )


def prove_host_keys(
    host_keys: Sequence[HostKey], request: bytes, session_id: bytes, kex_algorithm: str
) -> bytes:
    """The REQUEST_SUCCESS data for a hostkeys-prove-00 request: one signature per asked
    key, in order. RSA keys sign with the RSA algorithm of the key exchange when it was
    one, rsa-sha2-512 otherwise, as sshd does. Raises :class:`HostKeyProofError`."""
    try:
        asked = fw.decode_strings(request, limit=MAX_PROVE)
    except DecodeError as exc:
        raise HostKeyProofError(f"malformed hostkeys-prove request: {exc}") from None
    by_blob = {key.signer.public_key.blob: key for key in host_keys}
    signatures: list[bytes] = []
    for blob in asked:
        key = by_blob.get(blob)
        if key is None:
            raise HostKeyProofError("asked to prove a host key this server does not have")
        algorithm: str | None = None
        if key.signer.public_key.algorithm == "ssh-rsa":
            algorithm = kex_algorithm if kex_algorithm in _RSA_ALGORITHMS else "rsa-sha2-512"
        elif key.signer.public_key.algorithm == "ssh-dss":
            algorithm = "ssh-dss"  # its only algorithm, never a default: named here
        signatures.append(key.signer.sign(prove_data(session_id, blob), algorithm))
    return fw.encode_strings(signatures)
