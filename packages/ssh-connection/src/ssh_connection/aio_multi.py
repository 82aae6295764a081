"""Many hosts at once: run one command on a list of hosts, at most ``limit`` at a time,
with one result per host (its output and exit status, or the error that stopped it), as
Fabric's groups and parallel-ssh do. The source of :mod:`ssh_connection.sync_multi`
(threads there, tasks here: thousands of hosts fit in one asyncio process).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import ssh_transport.aio_backend as backend

from .aio import connect
from .errors import RunResult

__all__ = ["HostResult", "run_on_hosts"]

log = logging.getLogger("ssh_connection.multi")

#: A host: a destination for ``connect()`` (an ssh_config alias, ``host`` or
#: ``user@host``), or (destination, port).
Host = str | tuple[str, int]


@dataclass(frozen=True)
class HostResult:
    """What happened on one host: ``result`` when the command ran (whatever its exit
    status), else ``error`` (unreachable, refused host key, failed login, timeout...)."""

    host: Host
    result: RunResult | None = None
    error: Exception | None = None

    @property
    def exit_status(self) -> int | None:
        return None if self.result is None else self.result.exit_status

    @property
    def ok(self) -> bool:
        """The command ran and exited with status 0."""
        return self.error is None and self.exit_status == 0


async def run_on_hosts(
    hosts: Iterable[Host],
    command: str | bytes,
    *,
    limit: int = 64,
    input: bytes | str | None = None,
    command_timeout: float | None = None,
    on_result: Callable[[HostResult], None] | None = None,
    **connect_args: Any,
) -> list[HostResult]:
    """Connect to each host, run ``command`` (``input`` on its stdin), disconnect; at most
    ``limit`` hosts are in progress at once. Returns one :class:`HostResult` per host, in
    the order given; one host's failure never stops the others. ``connect_args`` go to
    :func:`~ssh_connection.aio.connect` for every host (``ssh_config=True``,
    ``host_key_check``, ``signers``, ``timeout``...). ``on_result`` is called as each host
    finishes (from the worker that ran it)."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    todo: Sequence[Host] = list(hosts)
    results: list[HostResult | None] = [None] * len(todo)
    lock = backend.Lock()
    next_index = [0]

    async def take() -> int | None:
        async with lock:
            index = next_index[0]
            if index >= len(todo):
                return None
            next_index[0] = index + 1
            return index

    async def worker() -> None:
        while (index := await take()) is not None:
            outcome = await _run_one(todo[index], command, input, command_timeout, connect_args)
            results[index] = outcome
            if on_result is not None:
                try:
                    on_result(outcome)
                except Exception:  # the caller's bug must not stop the other hosts
                    log.exception("on_result failed for %s", outcome.host)

    workers = [backend.spawn(worker) for _ in range(min(limit, len(todo)))]
    try:
        for task in workers:
            await backend.join(task)
    except BaseException:
        for task in workers:
            await backend.join(task, cancel=True)
        raise
    return [
        r if r is not None else HostResult(h, error=RuntimeError("not run"))
        for r, h in zip(results, todo, strict=True)
    ]


async def _run_one(
    host: Host,
    command: str | bytes,
    input: bytes | str | None,
    command_timeout: float | None,
    connect_args: dict[str, Any],
) -> HostResult:
    destination, port = (host, None) if isinstance(host, str) else host
    try:
        connection = await connect(destination, port, **connect_args)
        try:
            result = await connection.run(command, input=input, timeout=command_timeout)
        finally:
            await connection.close()
    except Exception as exc:
        log.debug("%s: %s", destination, exc)
        return HostResult(host, error=exc)
    return HostResult(host, result=result)
