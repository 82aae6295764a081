"""The benchmark harness: every client and server side by side in one run, on loopback.

    hatch run bench:all [--mib 256] [--repeat 3] [--handshakes 10] [--only up,down,...]

It starts a private OpenSSH sshd and the Python servers (``peers.py serve``) and measures
(see bench/README.md for what each row means):

- handshake (connect + kex + publickey auth + exec ``true`` + exit status), median ms;
- bulk through ``exec`` both ways (``cat > /dev/null`` up, ``head -c`` down) per cipher;
- clients (ours blocking and asyncio, OpenSSH ssh, AsyncSSH, Paramiko, libssh2 via
  ssh2-python and parallel-ssh) against sshd, and OpenSSH's ssh against our server and sshd;
- CPU seconds per GiB and peak RSS of the process under test (a client child, or the server
  with the commands it ran).

Prints one table with each row's ratio to ours, writes bench/results/latest.json and
latest.png. Must run as root (sshd). SFTP rows plug in through ``sftp_rows`` below.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "interop"))
sys.path.insert(0, str(HERE))

from openssh_tools import SSH, Sshd, make_host_keys  # noqa: E402
from report import print_table, write_chart  # noqa: E402

MIB = 1 << 20
GIB = 1 << 30
CIPHERS = (
    ("aes128-gcm@openssh.com", ""),
    ("chacha20-poly1305@openssh.com", ""),
    ("aes128-ctr", "hmac-sha2-256-etm@openssh.com"),
)
KEXES = ("curve25519-sha256", "mlkem768x25519-sha256", "sntrup761x25519-sha512@openssh.com")
PY_CLIENTS = ("ours-sync", "ours-aio", "asyncssh", "paramiko", "ssh2-python", "parallel-ssh")
CLIENTS = (*PY_CLIENTS[:2], "openssh", *PY_CLIENTS[2:])
CLIENT_TIMEOUT = 900
OUR_SERVERS = ("ours", "ours-sync")  # asyncio AsyncSSHServer, blocking SSHServer
#: Servers started from peers.py: ours, then AsyncSSH's and Paramiko's (bench env only).
PY_SERVERS = (*OUR_SERVERS, "asyncssh", "paramiko")
#: The concurrency row: this many ``ssh ... true`` at once against each server.
CONCURRENT = 200


@dataclass
class Row:
    """One measured line: ``values`` are ms per handshake or MB/s, one per repeat."""

    test: str  # "handshake" | "up" | "down" (| "sftp-get" ... from plug-ins)
    algorithm: str
    client: str
    server: str
    values: list[float] = field(default_factory=list)
    #: CPU of the process under test: s per GiB (bulk) or ms per handshake.
    cpu: list[float] = field(default_factory=list)
    rss: int | None = None
    #: With OpenSSH's ssh as the client, the server is measured too (sshd: CPU only).
    server_cpu: list[float] = field(default_factory=list)
    server_rss: int | None = None
    error: str | None = None
    #: The concurrency row: how many of its clients failed.
    failures: int | None = None

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None


@dataclass
class Sample:
    seconds: list[float]
    cpu: float
    rss: int


@dataclass
class Setup:
    directory: Path
    key: Path
    sshd: Sshd
    #: The Python servers by name ("ours": asyncio, "ours-sync": blocking, "asyncssh",
    #: "paramiko"): (port, pid).
    servers: dict[str, tuple[int, int]]
    upload: Path  # a file of --mib for OpenSSH's ssh to read as stdin
    size: int
    handshakes: int


# -- process accounting --------------------------------------------------------------------


def _proc_cpu(pid: int, children: bool = True) -> float:
    """CPU seconds of pid (and, with children, of the children it has reaped)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = [int(x) for x in fields[11:15]]  # utime stime cutime cstime
    used = ticks[0] + ticks[1] + (ticks[2] + ticks[3] if children else 0)
    return used / os.sysconf("SC_CLK_TCK")


def _reset_peak(pid: int) -> None:
    with contextlib.suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


def _peak_rss(pid: int) -> int | None:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


# -- running one measurement ---------------------------------------------------------------


def _ssh_argv(setup: Setup, port: int, cipher: str, mac: str, kex: str, command: str) -> list[str]:
    argv = [SSH, "-F", "/dev/null", "-p", str(port), "-i", str(setup.key), "-o", "BatchMode=yes"]
    argv += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
    if kex == "curve25519-sha256":  # Paramiko's server knows it by its libssh.org name only
        kex += ",curve25519-sha256@libssh.org"
    argv += ["-o", f"Ciphers={cipher}", "-o", f"KexAlgorithms={kex}"]
    if mac:
        argv += ["-o", f"MACs={mac}"]
    return [*argv, "root@127.0.0.1", command]


def _run_openssh(setup: Setup, port: int, kind: str, cipher: str, mac: str, kex: str) -> Sample:
    """OpenSSH's ssh as a client, timed from its start to its exit."""
    command = {
        "handshake": "true",
        "up": "cat > /dev/null",
        "down": f"head -c {setup.size} /dev/zero",
    }
    argv = _ssh_argv(setup, port, cipher, mac, kex, command[kind])
    count = setup.handshakes if kind == "handshake" else 1
    seconds, cpu, rss = [], 0.0, 0
    for _ in range(count):
        with contextlib.ExitStack() as stack:
            stdin = stack.enter_context(setup.upload.open("rb")) if kind == "up" else None
            stdout = subprocess.PIPE if kind == "down" else subprocess.DEVNULL
            start = time.perf_counter()
            process = subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE)
            got = 0
            if process.stdout is not None:
                while block := process.stdout.read1(MIB):
                    got += len(block)
            _, status, usage = os.wait4(process.pid, 0)
            seconds.append(time.perf_counter() - start)
            process.returncode = os.waitstatus_to_exitcode(status)
            assert process.stderr is not None
            if process.returncode != 0:
                raise RuntimeError(f"ssh: {process.stderr.read().decode(errors='replace')[-300:]}")
            if kind == "down" and got != setup.size:
                raise RuntimeError(f"ssh got {got} bytes of {setup.size}")
            process.stderr.close()
            if process.stdout is not None:
                process.stdout.close()
        cpu += usage.ru_utime + usage.ru_stime
        rss = max(rss, usage.ru_maxrss * 1024)
    return Sample(seconds, cpu, rss)


def _run_python(
    setup: Setup, impl: str, port: int, kind: str, cipher: str, mac: str, kex: str
) -> Sample:
    argv = [sys.executable, "-W", "ignore", str(HERE / "peers.py"), "client", impl]
    argv += ["--port", str(port), "--key", str(setup.key), "--kind", kind]
    argv += ["--size", str(setup.size), "--count", str(setup.handshakes)]
    argv += ["--cipher", cipher, "--mac", mac, "--kex", kex]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=CLIENT_TIMEOUT)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit {done.returncode}"]
        raise RuntimeError(lines[-1][-200:])
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return Sample(data["seconds"], data["cpu"], data["rss"])


def _server(setup: Setup, name: str) -> tuple[int, int]:
    if name == "sshd":
        assert setup.sshd.process is not None
        return setup.sshd.port, setup.sshd.process.pid
    return setup.servers[name]


def measure_concurrent(setup: Setup, row: Row, cipher: str, kex: str) -> None:
    """CONCURRENT ``ssh ... true`` started at once: the wall time until the last exits,
    how many failed, the server's CPU seconds in all (its children's included)."""
    port, server_pid = _server(setup, row.server)
    argv = _ssh_argv(setup, port, cipher, "", kex, "true")
    argv[1:1] = ["-o", "LogLevel=ERROR", "-o", "ConnectTimeout=120"]
    _reset_peak(server_pid)
    before = _proc_cpu(server_pid)
    start = time.perf_counter()
    processes = [
        subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        for _ in range(CONCURRENT)
    ]
    failed, why, cpu = 0, "", 0.0
    for process in processes:
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        cpu += usage.ru_utime + usage.ru_stime
        assert process.stderr is not None
        message = process.stderr.read().decode(errors="replace").strip()
        process.stderr.close()
        if process.returncode != 0:
            failed += 1
            why = why or message[-120:]
    row.values.append(time.perf_counter() - start)
    time.sleep(0.5)  # let the server reap the sessions' processes
    row.server_cpu.append(_proc_cpu(server_pid) - before)
    row.cpu.append(cpu)
    row.failures = failed
    if row.server != "sshd":
        row.server_rss = _peak_rss(server_pid)
    if failed:
        row.error = None if failed < CONCURRENT else f"all {failed} failed: {why}"
        if failed < CONCURRENT:
            print(f"concurrent -> {row.server}: {failed} failed, e.g. {why}", file=sys.stderr)


def measure(setup: Setup, row: Row, repeat: int, cipher: str, mac: str, kex: str) -> None:
    """Fill ``row`` with ``repeat`` runs. The client child is measured; with OpenSSH's ssh
    as the client the server is measured too (CPU including the commands it ran)."""
    if row.test == "concurrent":
        measure_concurrent(setup, row, cipher, kex)
        return
    port, server_pid = _server(setup, row.server)
    for _ in range(1 if row.test == "handshake" else repeat):
        if row.client == "openssh":
            _reset_peak(server_pid)
            before = _proc_cpu(server_pid)
            sample = _run_openssh(setup, port, row.test, cipher, mac, kex)
            time.sleep(0.2)  # let the server reap the session's processes
            server_cpu = _proc_cpu(server_pid) - before
            if row.server != "sshd":  # sshd forks per connection: no one process to read
                peak = _peak_rss(server_pid)
                row.server_rss = max(row.server_rss or 0, peak or 0)
        else:
            sample = _run_python(setup, row.client, port, row.test, cipher, mac, kex)
            server_cpu = None
        if row.test == "handshake":  # CPU in ms per handshake
            count = len(sample.seconds)
            row.values.extend(s * 1000 for s in sample.seconds)
            row.cpu.append(sample.cpu / count * 1000)
            if server_cpu is not None:
                row.server_cpu.append(server_cpu / count * 1000)
            row.rss = max(row.rss or 0, sample.rss)
            continue
        gib = setup.size / GIB
        row.values.append(setup.size / sum(sample.seconds) / 1e6)
        row.cpu.append(sample.cpu / gib)
        if server_cpu is not None:
            row.server_cpu.append(server_cpu / gib)
        row.rss = max(row.rss or 0, sample.rss)


# -- the plan ------------------------------------------------------------------------------


def plan(
    only: set[str], clients: tuple[str, ...], servers: tuple[str, ...] = PY_SERVERS
) -> Iterator[tuple[Row, str, str, str]]:
    """(row, cipher, mac, kex) in the order they run: client rows against sshd, then
    OpenSSH's ssh against the Python servers (its row against sshd is the sshd row)."""
    default_cipher, default_mac = CIPHERS[0]
    if "handshake" in only:
        for kex in KEXES:
            for client in clients:
                yield Row("handshake", kex, client, "sshd"), default_cipher, default_mac, kex
            if "openssh" in clients:
                for server in servers:
                    yield Row("handshake", kex, "openssh", server), default_cipher, default_mac, kex
    for kind in ("up", "down"):
        if kind not in only:
            continue
        for cipher, mac in CIPHERS:
            name = f"{cipher}+{mac}" if mac else cipher
            for client in clients:
                if client != "parallel-ssh":  # its bulk engine is the ssh2-python row
                    yield Row(kind, name, client, "sshd"), cipher, mac, KEXES[0]
            if "openssh" in clients:
                for server in servers:
                    yield Row(kind, name, "openssh", server), cipher, mac, KEXES[0]
    if "concurrent" in only:
        for server in ("sshd", *servers):
            row = Row("concurrent", f"{CONCURRENT} x exec true", "openssh", server)
            yield row, default_cipher, default_mac, KEXES[0]


def sftp_rows(setup: Setup, repeat: int) -> list[Row]:
    """The SFTP slot: ``bench/bench_sftp_rows.py`` with ``rows(setup, repeat) -> list[Row]``
    (the SFTP clients against sshd); without it, one pending row."""
    try:
        import bench_sftp_rows  # type: ignore[import-not-found]
    except ImportError:
        return [Row("sftp", "-", "ours-sync", "sshd", error="pending: ssh-sftp not built yet")]
    rows: list[Row] = bench_sftp_rows.rows(setup, repeat)
    return rows


@contextlib.contextmanager
def started(
    directory: Path, size: int, handshakes: int, names: tuple[str, ...] = PY_SERVERS
) -> Iterator[Setup]:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(directory / "id")], check=True
    )
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(directory / "host")], check=True
    )
    (directory / "ak").write_text((directory / "id.pub").read_text())
    upload = directory / "upload"
    with upload.open("wb") as f:
        block = os.urandom(MIB)
        for _ in range(size // MIB):
            f.write(block)
        f.write(block[: size % MIB])
    options = {
        "PermitRootLogin": "yes",
        "AuthorizedKeysFile": str(directory / "ak"),
        "LogLevel": "ERROR",
        "Ciphers": ",".join(c for c, _ in CIPHERS),
        "MACs": "hmac-sha2-256-etm@openssh.com,hmac-sha2-256",
        "MaxStartups": "1000",  # the concurrency row: no refusals by design
        "Subsystem": "sftp /usr/lib/openssh/sftp-server",  # the SFTP rows
    }
    sshd = Sshd(directory / "sshd", make_host_keys(directory / "keys"), options).start()
    servers: dict[str, subprocess.Popen[str]] = {}
    try:
        ports = {}
        for name in names:
            argv = [sys.executable, "-W", "ignore", str(HERE / "peers.py"), "serve", name]
            argv += ["--authorized-keys", str(directory / "ak")]
            argv += ["--host-key", str(directory / "host")]
            server = servers[name] = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
            assert server.stdout is not None
            ports[name] = (int(server.stdout.readline()), server.pid)
        yield Setup(directory, directory / "id", sshd, ports, upload, size, handshakes)
    finally:
        for server in servers.values():
            server.terminate()
            server.wait()
        sshd.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=256, help="bulk size per run (MiB)")
    parser.add_argument("--repeat", type=int, default=3, help="bulk runs per row")
    parser.add_argument("--handshakes", type=int, default=10, help="handshakes per row")
    parser.add_argument("--only", default="handshake,up,down,concurrent,sftp", help="tests")
    parser.add_argument("--clients", default=",".join(CLIENTS), help="clients to run")
    parser.add_argument("--servers", default=",".join(PY_SERVERS), help="servers beside sshd")
    parser.add_argument("--out", default=str(HERE / "results"), help="JSON and PNG go here")
    parser.add_argument("--name", default="latest", help="file name stem under --out")
    parser.add_argument("--render", metavar="JSON", help="print and chart a saved run, no run")
    args = parser.parse_args(argv)
    if args.render:
        saved = json.loads(Path(args.render).read_text())
        loaded = [Row(**row) for row in saved["rows"]]
        print_table(loaded, saved["meta"])
        write_chart(loaded, saved["meta"], Path(args.render).with_suffix(".png"))
        return
    only = set(args.only.split(","))
    clients = tuple(c for c in args.clients.split(",") if c)
    servers = tuple(s for s in args.servers.split(",") if s)
    rows: list[Row] = []
    loads: list[float] = []  # the 1-minute load average after each row
    started_at = datetime.datetime.now(datetime.timezone.utc)
    meta: dict[str, Any] = {
        "date": started_at.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "python": platform.python_version(),
        "mib": args.mib,
        "repeat": args.repeat,
        "handshakes": args.handshakes,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        """After every row: a run stopped half way keeps what it measured."""
        if loads:
            meta["load"] = f"{min(loads):.0f}-{max(loads):.0f}"
        data = {"meta": meta, "rows": [asdict(r) for r in rows]}
        (out / f"{args.name}.json").write_text(json.dumps(data, indent=1) + "\n")

    with (
        tempfile.TemporaryDirectory() as tmp,
        started(Path(tmp), args.mib * MIB, args.handshakes, servers) as setup,
    ):
        for row, cipher, mac, kex in plan(only, clients, servers):
            try:
                measure(setup, row, args.repeat, cipher, mac, kex)
            except Exception as exc:  # a peer without this algorithm: a row that says so
                row.error = " ".join((str(exc) or type(exc).__name__).split())[:200]
            print(_progress(row), file=sys.stderr, flush=True)
            rows.append(row)
            loads.append(os.getloadavg()[0])
            save()
        if "sftp" in only:
            for row in sftp_rows(setup, args.repeat):
                print(_progress(row), file=sys.stderr, flush=True)
                rows.append(row)
            loads.append(os.getloadavg()[0])
            save()
    print_table(rows, meta)
    write_chart(rows, meta, out / f"{args.name}.png")


def _progress(row: Row) -> str:
    what = f"{row.test:9} {row.algorithm:45} {row.client:12} -> {row.server:5}"
    if row.error:
        return f"{what} n/a ({row.error})"
    return f"{what} {row.median:9.1f}"


if __name__ == "__main__":
    main()
