"""Run the fuzz targets under atheris (coverage-guided, libFuzzer).

    hatch run fuzz:run                      # every target, 60 s each
    hatch run fuzz:run --time 600 krl       # one target for ten minutes
    hatch run fuzz:run --runs 2000 --seed 1 # what CI does: a short, repeatable run each

Each target runs in its own process, starting from its seeds (``targets.SEEDS``, built at
run time) and any saved crashes in ``fuzz/regressions/<target>/``. New interesting
inputs go to a scratch corpus (``--corpus DIR`` keeps it between runs). A crash stops that
target, is saved to ``fuzz/crashes/<target>/`` and the run fails: turn it into a regular
test by fixing the bug and moving the file to ``fuzz/regressions/<target>/``, which
``tests/fuzz`` replays on every test run.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGES = [
    "ssh_wire",
    "ssh_keys",
    "ssh_agent",
    "ssh_transport",
    "ssh_auth",
    "ssh_connection",
    "ssh_sftp",
]


def child(name: str, libfuzzer_args: list[str]) -> None:
    import atheris

    sys.path.insert(0, str(HERE))
    # Instrument our packages only (not the standard library or cryptography): they are
    # imported, and the target warmed up on its seeds, inside this block.
    with atheris.instrument_imports(include=[*PACKAGES, "stack", "targets"]):
        import targets

        fn = targets.TARGETS[name]
        for seed in targets.SEEDS.get(name, lambda: [b""])():
            fn(seed)
    atheris.Setup([sys.argv[0], *libfuzzer_args], fn)
    atheris.Fuzz()


def write_corpus(name: str, directory: Path) -> None:
    sys.path.insert(0, str(HERE))
    import targets

    inputs = list(targets.SEEDS.get(name, lambda: [b""])())
    saved = HERE / "regressions" / name
    if saved.is_dir():
        inputs += [p.read_bytes() for p in sorted(saved.iterdir()) if p.is_file()]
    directory.mkdir(parents=True, exist_ok=True)
    for data in inputs:
        (directory / hashlib.sha1(data).hexdigest()).write_bytes(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", help="targets to run (default: all)")
    parser.add_argument("--time", type=int, default=60, help="seconds per target")
    parser.add_argument("--runs", type=int, help="inputs per target (instead of --time)")
    parser.add_argument("--seed", type=int, default=0, help="libFuzzer seed (0: random)")
    parser.add_argument("--corpus", type=Path, help="keep the working corpus here")
    parser.add_argument("--list", action="store_true", help="list the targets")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.child:
        child(args.child, rest)
        return 0
    sys.path.insert(0, str(HERE))
    import targets

    if args.list:
        print("\n".join(targets.TARGETS))
        return 0
    names = args.targets or list(targets.TARGETS)
    unknown = [n for n in names if n not in targets.TARGETS]
    if unknown:
        parser.error(f"unknown targets: {', '.join(unknown)} (see --list)")
    failed = []
    with tempfile.TemporaryDirectory(prefix="fuzz-") as scratch:
        for name in names:
            corpus = (args.corpus or Path(scratch)) / name
            write_corpus(name, corpus)
            crashes = HERE / "crashes" / name
            crashes.mkdir(parents=True, exist_ok=True)
            budget = [f"-runs={args.runs}"] if args.runs else [f"-max_total_time={args.time}"]
            cmd = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--child",
                name,
                *budget,
                f"-seed={args.seed}",
                f"-artifact_prefix={crashes}/",
                "-max_len=8192",
                "-timeout=20",
                "-rss_limit_mb=2048",
                "-print_final_stats=1",
                str(corpus),
            ]
            start = time.monotonic()
            log = subprocess.run(cmd, capture_output=True, text=True, check=False)
            took = time.monotonic() - start
            stats = [ln for ln in log.stderr.splitlines() if ln.startswith("stat::")]
            execs = next((ln.split()[-1] for ln in stats if "number_of_executed_units" in ln), "?")
            cov = next((ln.split()[-1] for ln in stats if "new_units_added" in ln), "?")
            status = "ok" if log.returncode == 0 else f"FAILED (exit {log.returncode})"
            print(f"{name:20s} {status:18s} {execs:>8s} inputs {cov:>5s} new  {took:6.1f} s")
            if log.returncode != 0:
                failed.append(name)
                print(log.stderr[-4000:], file=sys.stderr)
            if not any(crashes.iterdir()):
                crashes.rmdir()
    if failed:
        print(f"crashes in: {', '.join(failed)} (inputs under fuzz/crashes/)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
