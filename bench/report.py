"""The harness's table (markdown, so bench/README.md can show it as printed) and chart."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

MIB = 1 << 20
BULK_AND_HANDSHAKE = ("handshake", "up", "down", "sftp-get", "sftp-put")
#: The server columns, OpenSSH's ssh as the client; ratios are to the first, ours.
SERVERS = ("ours", "ours-sync", "asyncssh", "paramiko", "sshd")


class RowLike(Protocol):
    test: str
    algorithm: str
    client: str
    server: str
    values: list[float]
    cpu: list[float]
    rss: int | None
    server_cpu: list[float]
    server_rss: int | None
    error: str | None


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _mib(value: int | None) -> str:
    return "-" if not value else f"{value / MIB:.0f}"


def _line(name: str, row: RowLike, base: RowLike | None, cpu: list[float], rss: int | None) -> str:
    if row.error:
        note = " ".join(row.error.split())[:70].replace("|", "/")
        return f"| {name} | n/a | | | | | {note} |"
    median = _median(row.values)
    spread = f"{min(row.values):.1f}-{max(row.values):.1f}"
    ratio = "-"
    base_median = _median(base.values) if base and not base.error else None
    if median and base_median:
        ratio = f"{median / base_median:.2f}"
    cpu_text = _num(_median(cpu), 2)
    return f"| {name} | {_num(median)} | {spread} | {ratio} | {cpu_text} | {_mib(rss)} | |"


def _groups(rows: Sequence[RowLike]) -> dict[tuple[str, str], list[RowLike]]:
    groups: dict[tuple[str, str], list[RowLike]] = {}
    for row in rows:
        groups.setdefault((row.test, row.algorithm), []).append(row)
    return groups


HEADER = "| {} | {} | min-max | x ours | {} | peak RSS MiB | note |\n|---|---|---|---|---|---|---|"


def table(rows: Sequence[RowLike], meta: dict[str, Any]) -> str:
    out = [
        f"{meta['date']}; {meta['machine']}; Python {meta['python']}; bulk {meta['mib']} MiB "
        f"x {meta['repeat']}, {meta['handshakes']} handshakes per row"
        + (f"; load average {meta['load']} during the run." if "load" in meta else "."),
        "Handshake rows: ms (lower is better); bulk rows: MB/s (higher is better); "
        "'x ours' is the row's median over ours (blocking client; our server).",
        "",
    ]
    for (test, algorithm), group in _groups(rows).items():
        if test == "concurrent":
            continue  # concurrency_summary
        unit = "ms" if test == "handshake" else "MB/s"
        cpu_unit = "CPU ms each" if test == "handshake" else "CPU s/GiB"
        clients = [r for r in group if r.server == "sshd"]
        base = next((r for r in clients if r.client == "ours-sync"), None)
        out += [f"**{test} {algorithm}**: clients against sshd", ""]
        out.append(HEADER.format("client", unit, cpu_unit))
        for row in clients:
            out.append(_line(row.client, row, base, row.cpu, row.rss))
        servers = [r for r in group if r.client == "openssh"]
        if servers and any(r.server == "ours" for r in servers):
            ours = next(r for r in servers if r.server == "ours")
            order = {name: i for i, name in enumerate(SERVERS)}
            out += ["", f"**{test} {algorithm}**: servers, OpenSSH's ssh as the client", ""]
            out.append(HEADER.format("server", unit, cpu_unit))
            for row in sorted(servers, key=lambda r: order.get(r.server, 3)):
                out.append(_line(row.server, row, ours, row.server_cpu, row.server_rss))
        out.append("")
    return "\n".join(out)


def _cell(row: RowLike | None, base: RowLike | None) -> str:
    if row is None:
        return ""
    if row.error or not row.values:
        return "n/a"
    median = statistics.median(row.values)
    if base is None or base.error or not base.values or base is row:
        return f"{median:.0f}"
    return f"{median:.0f} ({median / statistics.median(base.values):.2f})"


def summary(rows: Sequence[RowLike]) -> str:
    """One line per test: each client's median against sshd (ratio to ours-sync), then
    our server and sshd with OpenSSH's ssh (ratio to ours)."""
    clients = list(dict.fromkeys(r.client for r in rows if r.server == "sshd"))
    head = ["test", "unit", *clients, f"server: {SERVERS[0]}", *SERVERS[1:]]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (test, algorithm), group in _groups(rows).items():
        if test not in BULK_AND_HANDSHAKE:
            continue
        by_client = {r.client: r for r in group if r.server == "sshd"}
        servers = {r.server: r for r in group if r.client == "openssh"}
        ours = servers.get("ours")
        cells = [_cell(by_client.get(c), by_client.get("ours-sync")) for c in clients]
        unit = "ms" if test == "handshake" else "MB/s"
        name = f"{test} {algorithm.replace('@openssh.com', '')}"
        tail = [_cell(ours, None)]
        tail += [_cell(servers.get(s), ours) if ours else "" for s in SERVERS[1:]]
        out.append(f"| {name} | {unit} | " + " | ".join(cells + tail) + " |")
    return "\n".join(out)


def cpu_summary(rows: Sequence[RowLike]) -> str:
    """CPU s/GiB (bulk) or ms per handshake of the process under test, medians: clients
    against sshd, then the servers with OpenSSH's ssh (their commands' CPU included)."""
    clients = list(dict.fromkeys(r.client for r in rows if r.server == "sshd"))
    head = ["test", "unit", *clients, f"server: {SERVERS[0]}", *SERVERS[1:]]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (test, algorithm), group in _groups(rows).items():
        if test not in ("handshake", "up", "down") or all(r.error for r in group):
            continue
        by_client = {r.client: r for r in group if r.server == "sshd"}
        servers = {r.server: r for r in group if r.client == "openssh"}

        def cell(values: list[float] | None) -> str:
            return "" if values is None else _num(_median(values), 2)

        cells = [cell(by_client[c].cpu if c in by_client else None) for c in clients]
        for server in SERVERS:
            cells.append(cell(servers[server].server_cpu if server in servers else None))
        unit = "ms each" if test == "handshake" else "s/GiB"
        name = f"{test} {algorithm.replace('@openssh.com', '')}"
        out.append(f"| {name} | {unit} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def concurrency_summary(rows: Sequence[RowLike]) -> str:
    """The concurrency rows: wall time until the last of the clients exited (ratio to our
    server), how many failed, the server's CPU seconds in all and its peak RSS."""
    chosen = sorted(
        (r for r in rows if r.test == "concurrent"),
        key=lambda r: SERVERS.index(r.server) if r.server in SERVERS else len(SERVERS),
    )
    if not chosen:
        return ""
    ours = next((r for r in chosen if r.server == "ours"), None)
    out = [
        f"**{chosen[0].algorithm}**, OpenSSH's ssh as the clients, all started at once",
        "",
        "| server | wall s | x ours | failed | server CPU s | peak RSS MiB | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in chosen:
        failures = getattr(row, "failures", None)
        failed = "-" if failures is None else str(failures)
        if row.error or not row.values:
            note = " ".join((row.error or "").split())[:70].replace("|", "/")
            out.append(f"| {row.server} | n/a | | {failed} | | | {note} |")
            continue
        wall = _median(row.values)
        base = _median(ours.values) if ours and ours.values and not ours.error else None
        ratio = f"{wall / base:.2f}" if wall and base else "-"
        cpu = _num(_median(row.server_cpu), 1)
        out.append(
            f"| {row.server} | {_num(wall)} | {ratio} | {failed} | {cpu} "
            f"| {_mib(row.server_rss)} | |"
        )
    return "\n".join(out)


def print_table(rows: Sequence[RowLike], meta: dict[str, Any]) -> None:
    print(summary(rows))
    print()
    if (cpu := cpu_summary(rows)).count("\n") > 1:  # more than its header
        print(cpu)
        print()
    if text := concurrency_summary(rows):
        print(text)
        print()
    print(table(rows, meta))


def write_chart(rows: Sequence[RowLike], meta: dict[str, Any], path: Path) -> None:
    """Three panels: handshake ms, client bulk MB/s, server bulk MB/s (medians)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def handshakes(r: RowLike) -> bool:
        return r.test == "handshake" and r.server == "sshd"

    def clients(r: RowLike) -> bool:
        return r.test in ("up", "down") and r.server == "sshd"

    def servers(r: RowLike) -> bool:
        return r.test in ("up", "down") and r.client == "openssh"

    panels = [
        ("handshake (ms, lower is better), against sshd", handshakes, "client"),
        ("bulk MB/s, clients against sshd", clients, "client"),
        ("bulk MB/s, servers with OpenSSH's ssh as the client", servers, "server"),
    ]
    fig, axes = plt.subplots(len(panels), 1, figsize=(13, 4.2 * len(panels)))
    for ax, (title, keep, series) in zip(axes, panels, strict=True):
        chosen = [r for r in rows if keep(r) and not r.error and r.values]
        groups = list(dict.fromkeys(f"{r.test}\n{r.algorithm.split('@')[0]}" for r in chosen))
        names = list(dict.fromkeys(getattr(r, series) for r in chosen))
        width = 0.8 / max(len(names), 1)
        for i, name in enumerate(names):
            xs, ys = [], []
            for r in chosen:
                if getattr(r, series) == name:
                    xs.append(groups.index(f"{r.test}\n{r.algorithm.split('@')[0]}") + i * width)
                    ys.append(statistics.median(r.values))
            ax.bar(xs, ys, width, label=name)
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(groups))], groups, fontsize=7)
        ax.set_title(title)
        if names:  # a run with --only may leave a panel empty
            ax.legend(fontsize=7, ncol=len(names))
    fig.suptitle(f"{meta['date']}, {meta['machine'].split(',')[1].strip()}, noisy loopback")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
