"""Key derivation (RFC 4253 7.2): turning K and H into IVs, cipher keys and MAC keys."""

from __future__ import annotations

import hashlib

__all__ = ["derive_key"]


def derive_key(
    hash_name: str, shared_secret: bytes, exchange_hash: bytes, letter: bytes, session_id: bytes,
    size: int,
) -> bytes:  # fmt: skip
    """HASH(K || H || letter || session_id), extended by HASH(K || H || K1 || ...) to ``size``.

    ``shared_secret`` is K already encoded as the method encodes it (mpint or string).
    """
    if size == 0:
        return b""
    key = hashlib.new(hash_name, shared_secret + exchange_hash + letter + session_id).digest()
    while len(key) < size:
        key += hashlib.new(hash_name, shared_secret + exchange_hash + key).digest()
    return key[:size]
