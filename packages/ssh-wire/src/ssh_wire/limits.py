"""Default bounds applied by readers; every length field is checked against them."""

from __future__ import annotations

__all__ = ["MAX_STRING", "MAX_NAME_LIST", "MAX_NAMES", "MAX_NAME", "MAX_MPINT_BITS"]

#: Largest ``string`` a reader accepts unless told otherwise. Packets are at most
#: 256 KiB in OpenSSH, so nothing larger can arrive inside one.
MAX_STRING = 1 << 20
#: Largest ``name-list`` in bytes, its number of names, and one name's length
#: (RFC 4251 6: algorithm names are at most 64 characters; we allow more for
#: extension values but keep a hard bound).
MAX_NAME_LIST = 64 * 1024
MAX_NAMES = 1024
MAX_NAME = 256
#: Largest ``mpint`` (RSA 16384 and DH 8192 fit with room to spare).
MAX_MPINT_BITS = 16384 + 64
