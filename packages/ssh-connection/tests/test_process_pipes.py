"""The blocking process seam (``_sync_net.Process``): what the client sends reaches the
command's stdin whole, even when signals interrupt the blocking pipe writes."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

from ssh_connection._sync_net import start_process


def test_write_stdin_survives_partial_writes(tmp_path: Path) -> None:
    # A signal arriving while a blocking pipe write waits for the reader makes write()
    # return early with part of the data taken; the rest must still go.
    out = tmp_path / "out"
    process = start_process(["/bin/sh", "-c", f"exec cat > {out}"], dict(os.environ))
    stop = threading.Event()
    interrupted = [0]

    def handler(signum: int, frame: object) -> None:
        interrupted[0] += 1

    def interrupter() -> None:
        while not stop.is_set():
            os.kill(os.getpid(), signal.SIGUSR1)  # handled in the main thread, the writer
            stop.wait(0.0005)

    previous = signal.signal(signal.SIGUSR1, handler)
    thread = threading.Thread(target=interrupter, daemon=True)
    thread.start()
    chunk = bytes(range(256)) * 1024  # 256 KiB per write: more than a pipe holds
    try:
        for _ in range(16):
            process.write_stdin(chunk)
    finally:
        stop.set()
        thread.join()
        signal.signal(signal.SIGUSR1, previous)
    process.close_stdin()
    assert process.wait() == 0
    process.close()
    assert interrupted[0] > 0
    assert out.stat().st_size == 16 * len(chunk)
    assert out.read_bytes() == chunk * 16
