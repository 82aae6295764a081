"""Time sntrup761 keygen / encaps / decaps: ours (pure Python) against pqcrypto (compiled).

Run: cd /work/main && hatch run test:python bench/bench_sntrup761.py [rounds]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from ssh_transport import sntrup761


def per_call(fn: Callable[[], object], rounds: int) -> float:
    fn()  # warm up
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(rounds):
            fn()
        best = min(best, (time.perf_counter() - start) / rounds)
    return best


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    pk, sk = sntrup761.generate_keypair()
    ct, _ = sntrup761.encapsulate(pk)
    ours = {
        "keygen": per_call(sntrup761.generate_keypair, rounds),
        "encaps": per_call(lambda: sntrup761.encapsulate(pk), rounds),
        "decaps": per_call(lambda: sntrup761.decapsulate(ct, sk), rounds),
    }
    theirs: dict[str, float] = {}
    try:
        from pqcrypto.kem import sntrup_761 as oracle  # type: ignore[import-not-found]
    except ImportError:
        print("pqcrypto not installed: showing ours only")
    else:
        opk, osk = oracle.keygen()
        oct_, _ = oracle.encaps(opk)
        theirs = {
            "keygen": per_call(oracle.keygen, rounds),
            "encaps": per_call(lambda: oracle.encaps(opk), rounds),
            "decaps": per_call(lambda: oracle.decaps(osk, oct_), rounds),
        }
    print(f"{'op':8} {'ours ms':>9} {'pqcrypto ms':>12} {'ratio':>7}")
    for op, t in ours.items():
        other = theirs.get(op)
        if other:
            print(f"{op:8} {t * 1e3:9.2f} {other * 1e3:12.3f} {t / other:7.1f}")
        else:
            print(f"{op:8} {t * 1e3:9.2f}")
    handshake = ours["keygen"] + ours["encaps"] + ours["decaps"]
    print(f"handshake (client keygen + decaps, server encaps): {handshake * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
