"""The randomart picture ``ssh-keygen -lv`` draws (the "drunken bishop" walk)."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when used: the package imports this module eagerly
    from .public import PublicKey, PublicKeyLine

__all__ = ["randomart"]

_WIDTH, _HEIGHT = 17, 9
# Visit counts map onto these; the last two mark the start and end squares.
_SYMBOLS = " .o+=*BOX@%&#/^SE"
_START, _END = len(_SYMBOLS) - 2, len(_SYMBOLS) - 1
_MAX_VISITS = _START - 1


def _digest(key: PublicKey, hash_name: str) -> tuple[bytes, str]:
    if hash_name == "sha256":
        return hashlib.sha256(key.blob).digest(), "SHA256"
    if hash_name == "md5":
        return hashlib.md5(key.blob, usedforsecurity=False).digest(), "MD5"
    raise ValueError(f"unknown fingerprint hash {hash_name!r} (sha256 or md5)")


def _border(label: str) -> str:
    left = (_WIDTH - len(label)) // 2
    return "+" + "-" * left + label + "-" * (_WIDTH - left - len(label)) + "+"


def randomart(key: PublicKey | PublicKeyLine, hash: str = "sha256") -> str:
    """The picture as lines joined by newlines, without a trailing newline."""
    from .public import as_public_key

    key = as_public_key(key)
    digest, hash_label = _digest(key, hash)
    field = [[0] * _HEIGHT for _ in range(_WIDTH)]
    x, y = _WIDTH // 2, _HEIGHT // 2
    for byte in digest:
        # Each byte is four moves, low bits first: bit 0 picks left/right, bit 1 up/down.
        for _ in range(4):
            x = min(max(x + (1 if byte & 1 else -1), 0), _WIDTH - 1)
            y = min(max(y + (1 if byte & 2 else -1), 0), _HEIGHT - 1)
            if field[x][y] < _MAX_VISITS:
                field[x][y] += 1
            byte >>= 2
    field[_WIDTH // 2][_HEIGHT // 2] = _START
    field[x][y] = _END
    lines = [_border(f"[{key.key_type_label} {key.bits}]")]
    for row in range(_HEIGHT):
        lines.append("|" + "".join(_SYMBOLS[field[col][row]] for col in range(_WIDTH)) + "|")
    lines.append(_border(f"[{hash_label}]"))
    return "\n".join(lines)
