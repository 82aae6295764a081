"""Packet protection throughput: seal+open of 32 KiB payloads per cipher (and MAC).

For each combination it also times the bare `cryptography`/hashlib primitives doing the
same cryptographic work on 32 KiB buffers (encrypt + decrypt, MAC twice), the ceiling a
Python packet layer can approach, and prints our speed as a fraction of it.

    hatch run test:python bench/bench_ciphers.py [--seconds 0.5] [--rounds 5] [--size 32768] [--all]

``--crosscheck`` (in the bench environment, which has AsyncSSH) instead seals packets with
fixed padding on both stacks, for every cipher and MAC, and checks the bytes are identical
and that our opener reads AsyncSSH's packets: an independent implementation as oracle.

    hatch run bench:python bench/bench_ciphers.py --crosscheck
"""

from __future__ import annotations

import argparse
import hmac
import importlib
import os
import time
from collections.abc import Callable

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from ssh_transport.ciphers import CipherSpec, cipher_spec
from ssh_transport.macs import MacSpec, mac_spec
from ssh_transport.packet import PacketOpener, PacketSealer

AEAD = ("chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com", "aes256-gcm@openssh.com")
STREAM = ("aes128-ctr", "aes256-ctr")
LEGACY_STREAM = ("aes192-ctr", "aes128-cbc", "aes256-cbc", "3des-cbc")
MACS = ("hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "hmac-sha2-256")
ALL_MACS = (*MACS, "hmac-sha2-512", "hmac-sha1-etm@openssh.com", "hmac-sha1")


def seconds_per_call(func: Callable[[], object], seconds: float) -> float:
    """Mean time of one call of ``func`` over a run of about ``seconds``."""
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(20):
            func()
        count += 20
        now = time.perf_counter()
        if now >= deadline:
            return (now - start) / count


def best_rates(
    a: Callable[[], object], b: Callable[[], object], seconds: float, rounds: int
) -> tuple[float, float]:
    """Calls per second of ``a`` and ``b``, best of ``rounds`` interleaved runs, so a
    busy neighbour on the machine slows both sides alike."""
    best_a = best_b = float("inf")
    for _ in range(rounds):
        best_a = min(best_a, seconds_per_call(a, seconds / rounds))
        best_b = min(best_b, seconds_per_call(b, seconds / rounds))
    return 1.0 / best_a, 1.0 / best_b


def ours(cipher: CipherSpec, mac: MacSpec | None, size: int) -> Callable[[], object]:
    key, iv = os.urandom(cipher.key_size), os.urandom(cipher.iv_size)
    mac_key = os.urandom(mac.key_size) if mac else b""
    sealer = PacketSealer(cipher, key, iv, mac, mac_key)
    opener = PacketOpener(cipher, key, iv, mac, mac_key)
    payload = os.urandom(size)
    seq = [0]

    def round_trip() -> object:
        n = seq[0]
        seq[0] = n + 1
        wire = sealer.seal(n, payload)
        opener.packet_length(n, wire)
        return opener.open(n, wire)

    return round_trip


def ceiling(cipher: CipherSpec, mac: MacSpec | None, size: int) -> Callable[[], object]:
    """The primitives alone: encrypt and decrypt ``size`` bytes, MAC them twice."""
    data = os.urandom(size)
    nonce = os.urandom(12)
    if cipher.name.startswith("chacha20"):
        chacha = ChaCha20Poly1305(os.urandom(32))
        return lambda: chacha.decrypt(nonce, chacha.encrypt(nonce, data, b"1234"), b"1234")
    if cipher.name.startswith("aes") and "gcm" in cipher.name:
        gcm = AESGCM(os.urandom(cipher.key_size))
        return lambda: gcm.decrypt(nonce, gcm.encrypt(nonce, data, b"1234"), b"1234")
    key = os.urandom(cipher.key_size)
    iv = os.urandom(cipher.iv_size)
    algorithm: algorithms.AES | TripleDES
    algorithm = TripleDES(key) if cipher.name == "3des-cbc" else algorithms.AES(key)
    if "cbc" in cipher.name:
        cbc = Cipher(algorithm, modes.CBC(iv))
        enc, dec = cbc.encryptor().update, cbc.decryptor().update
    else:
        ctr = Cipher(algorithm, modes.CTR(iv))
        enc, dec = ctr.encryptor().update, ctr.decryptor().update
    digest = mac.digest_size if mac else 0
    keyed = hmac.new(os.urandom(32), digestmod={32: "sha256", 64: "sha512", 20: "sha1"}[digest])

    def mac_of(buf: bytes) -> bytes:
        h = keyed.copy()
        h.update(buf)
        return h.digest()

    return lambda: (mac_of(dec(enc(data))), mac_of(data))


class RecordingRng:
    """Random padding that remembers its last output, to build the other stack's packet."""

    def __init__(self) -> None:
        self.last = b""

    def __call__(self, n: int) -> bytes:
        self.last = os.urandom(n)
        return self.last


def crosscheck() -> bool:
    """Compare our packets with AsyncSSH's, byte for byte, in every combination."""
    # Only the bench environment has AsyncSSH; imported by name so type checking needs no stubs.
    encryption = importlib.import_module("asyncssh.encryption")

    combos: list[tuple[CipherSpec, MacSpec | None]] = [(cipher_spec(n), None) for n in AEAD]
    streams = STREAM + LEGACY_STREAM
    combos += [(cipher_spec(c), mac_spec(m)) for c in streams for m in ALL_MACS]
    all_ok = True
    for cipher, mac in combos:
        key, iv = os.urandom(cipher.key_size), os.urandom(cipher.iv_size)
        mac_key = os.urandom(mac.key_size) if mac else b""
        mac_name = mac.name.encode() if mac else b""
        theirs = encryption.get_encryption(
            cipher.name.encode(), key, iv, mac_name, mac_key, bool(mac and mac.etm)
        )
        rng = RecordingRng()
        sealer = PacketSealer(cipher, key, iv, mac, mac_key, rng)
        opener = PacketOpener(cipher, key, iv, mac, mac_key)
        ok = True
        for seq in (0, 1, 2, 0xFFFFFFFF):
            payload = os.urandom(50 + seq % 97)
            ours_wire = sealer.seal(seq, payload)
            body = bytes((len(rng.last),)) + payload + rng.last
            encrypted, tag = theirs.encrypt_packet(seq, len(body).to_bytes(4, "big"), body)
            theirs_wire = encrypted + tag
            ok &= ours_wire == theirs_wire
            total = opener.packet_length(seq, theirs_wire)
            ok &= opener.open(seq, theirs_wire[:total]) == payload
        all_ok &= ok
        print(
            f"{cipher.name:32} {mac.name if mac else '(aead)':32} {'same' if ok else 'DIFFERENT'}"
        )
    return all_ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=0.5, help="time per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved runs, best kept")
    parser.add_argument("--size", type=int, default=32768, help="payload bytes per packet")
    parser.add_argument("--all", action="store_true", help="legacy ciphers and every MAC too")
    parser.add_argument("--crosscheck", action="store_true", help="compare with AsyncSSH")
    args = parser.parse_args()
    if args.crosscheck:
        raise SystemExit(0 if crosscheck() else 1)

    combos: list[tuple[CipherSpec, MacSpec | None]] = [(cipher_spec(n), None) for n in AEAD]
    streams = STREAM + (LEGACY_STREAM if args.all else ())
    macs = ALL_MACS if args.all else MACS
    combos += [(cipher_spec(c), mac_spec(m)) for c in streams for m in macs]

    print(f"seal+open of {args.size}-byte payloads; MB/s of payload (1 MB = 10^6 bytes)")
    print(f"{'cipher':32} {'mac':30} {'ours':>9} {'ceiling':>9} {'ratio':>6}")
    for cipher, mac in combos:
        calls, top_calls = best_rates(
            ours(cipher, mac, args.size), ceiling(cipher, mac, args.size), args.seconds, args.rounds
        )
        rate, top = calls * args.size / 1e6, top_calls * args.size / 1e6
        name = mac.name if mac else "(aead)"
        print(f"{cipher.name:32} {name:30} {rate:9.0f} {top:9.0f} {rate / top:6.2f}")


if __name__ == "__main__":
    main()
