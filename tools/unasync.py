"""Generate the blocking front ends from their asyncio sources.

The asyncio front ends are the only hand-written copies; their blocking twins are made
from them here, so no behaviour can exist in one and not the other:

- ``async def`` / ``async with`` / ``async for`` lose ``async``, ``await`` goes;
- names are swapped by :data:`NAMES` (``AsyncTransport`` -> ``SyncTransport``,
  ``aio_backend`` -> ``sync_backend``, ``__aenter__`` -> ``__enter__``, ...);
- lines between ``# unasync: async-only`` and ``# unasync: end`` are dropped, and lines
  between ``# unasync: sync-only`` and ``# unasync: end`` are uncommented;
- the result goes through ``ruff check --fix`` (imports) and ``ruff format``.

Usage: ``python tools/unasync.py`` writes the files, ``--check`` fails when one is stale.
"""

from __future__ import annotations

import argparse
import difflib
import io
import re
import subprocess
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: (asyncio source, generated blocking file), relative to the repository root.
FILES = [
    (
        "packages/ssh-transport/src/ssh_transport/aio.py",
        "packages/ssh-transport/src/ssh_transport/sync.py",
    ),
    (
        "packages/ssh-auth/src/ssh_auth/aio.py",
        "packages/ssh-auth/src/ssh_auth/sync.py",
    ),
    (
        "packages/ssh-agent/src/ssh_agent/aio.py",
        "packages/ssh-agent/src/ssh_agent/sync_client.py",
    ),
    (
        "packages/ssh-connection/src/ssh_connection/_aio_channels.py",
        "packages/ssh-connection/src/ssh_connection/_sync_channels.py",
    ),
    (
        "packages/ssh-connection/src/ssh_connection/_aio_forwards.py",
        "packages/ssh-connection/src/ssh_connection/_sync_forwards.py",
    ),
    (
        "packages/ssh-connection/src/ssh_connection/_aio_streamlocal.py",
        "packages/ssh-connection/src/ssh_connection/_sync_streamlocal.py",
    ),
    (
        "packages/ssh-connection/src/ssh_connection/_aio_streams.py",
        "packages/ssh-connection/src/ssh_connection/_sync_streams.py",
    ),
    (
        "packages/ssh-connection/src/ssh_connection/aio.py",
        "packages/ssh-connection/src/ssh_connection/sync.py",
    ),
    (
        "packages/ssh-connection/src/ssh_connection/aio_multi.py",
        "packages/ssh-connection/src/ssh_connection/sync_multi.py",
    ),
    (
        "packages/ssh-connection/src/ssh_connection/aio_server.py",
        "packages/ssh-connection/src/ssh_connection/sync_server.py",
    ),
    (
        "packages/ssh-connection/src/ssh_connection/aio_process.py",
        "packages/ssh-connection/src/ssh_connection/sync_process.py",
    ),
    (
        "packages/ssh-connection/src/ssh_connection/_aio_server_agent.py",
        "packages/ssh-connection/src/ssh_connection/_sync_server_agent.py",
    ),
    (
        "packages/ssh-connection/src/ssh_connection/_aio_server_streamlocal.py",
        "packages/ssh-connection/src/ssh_connection/_sync_server_streamlocal.py",
    ),
    (
        "packages/ssh-connection/src/ssh_connection/_aio_server_x11.py",
        "packages/ssh-connection/src/ssh_connection/_sync_server_x11.py",
    ),
    (
        "packages/ssh-connection/src/ssh_connection/_aio_x11.py",
        "packages/ssh-connection/src/ssh_connection/_sync_x11.py",
    ),
    (
        "packages/ssh-sftp/src/ssh_sftp/aio.py",
        "packages/ssh-sftp/src/ssh_sftp/sync.py",
    ),
    (
        "packages/ssh-sftp/src/ssh_sftp/aio_file.py",
        "packages/ssh-sftp/src/ssh_sftp/sync_file.py",
    ),
    (
        "packages/ssh-sftp/src/ssh_sftp/aio_transfer.py",
        "packages/ssh-sftp/src/ssh_sftp/sync_transfer.py",
    ),
    (
        "packages/ssh-sftp/src/ssh_sftp/aio_subsystem.py",
        "packages/ssh-sftp/src/ssh_sftp/sync_subsystem.py",
    ),
]

#: Identifier swaps, applied to whole NAME tokens only.
NAMES = {
    "aio_backend": "sync_backend",
    "_aio_backend": "_sync_backend",
    "AsyncTransport": "SyncTransport",
    "AsyncStream": "Stream",
    "AsyncByteStream": "Stream",
    "AsyncHostKeyCallback": "HostKeyCallback",
    "AsyncAgentClient": "AgentClient",
    "AsyncAgentKey": "AgentKey",
    "AsyncAgentStream": "AgentStream",
    "_aio_net": "_sync_net",
    "_aio_channels": "_sync_channels",
    "_aio_streams": "_sync_streams",
    "_aio_streamlocal": "_sync_streamlocal",
    "_aio_forwards": "_sync_forwards",
    "AsyncLocalPathForward": "LocalPathForward",
    "AsyncRemotePathForward": "RemotePathForward",
    "AsyncChannelStream": "ChannelStream",
    "aio_server": "sync_server",
    "aio_process": "sync_process",
    "_aio_server_agent": "_sync_server_agent",
    "AsyncAgentForwarder": "AgentForwarder",
    "_aio_server_streamlocal": "_sync_server_streamlocal",
    "AsyncStreamlocalForwards": "StreamlocalForwards",
    "_aio_server_x11": "_sync_server_x11",
    "AsyncX11Listener": "X11Listener",
    "_aio_x11": "_sync_x11",
    "AsyncX11Forwarder": "X11Forwarder",
    "aio_multi": "sync_multi",
    "aio_subsystem": "sync_subsystem",
    "AsyncSSHConnection": "SSHConnection",
    "AsyncDynamicForward": "DynamicForward",
    "AsyncSSHChannel": "SSHChannel",
    "AsyncChannelMux": "ChannelMux",
    "AsyncChannelReader": "ChannelReader",
    "AsyncChannelWriter": "ChannelWriter",
    "AsyncLocalForward": "LocalForward",
    "AsyncRemoteForward": "RemoteForward",
    "AsyncHostKeyCheck": "HostKeyCheck",
    "AsyncSSHServer": "SSHServer",
    "AsyncServerSession": "ServerSession",
    "AsyncSessionHandler": "SessionHandler",
    "AsyncProcessHandler": "ProcessHandler",
    "AsyncSFTPClient": "SFTPClient",
    "AsyncSFTPFile": "SFTPFile",
    "AsyncSFTPStream": "SFTPStream",
    "AsyncPipeStream": "PipeStream",
    "AsyncProcessStream": "ProcessStream",
    "aio_file": "sync_file",
    "aio_transfer": "sync_transfer",
    "AsyncIterator": "Iterator",
    "__aiter__": "__iter__",
    "__anext__": "__next__",
    "__aenter__": "__enter__",
    "__aexit__": "__exit__",
    "StopAsyncIteration": "StopIteration",
    "aio": "sync",
}

_MARKER = re.compile(r"^\s*# unasync: (async-only|sync-only|end)\s*$")
_HEADER = (
    '"""GENERATED by tools/unasync.py: do not edit. Edit the asyncio source,\n'
    "{source},\n"
    'then run ``python tools/unasync.py``."""\n\n'
)
_WORDS = re.compile(r"\b(" + "|".join(map(re.escape, NAMES)) + r")\b")
_AWAIT = re.compile(r"\b(?:await|async(?= (?:def|with|for)\b)) ")


def _prose(text: str) -> str:
    """The same swaps inside strings and comments (``__all__``, docstrings)."""
    return _WORDS.sub(lambda match: NAMES[match.group(1)], _AWAIT.sub("", text))


def _blocks(text: str) -> str:
    """Apply the async-only / sync-only blocks."""
    out: list[str] = []
    mode: str | None = None
    for line in text.splitlines(keepends=True):
        marker = _MARKER.match(line)
        if marker:
            mode = None if marker.group(1) == "end" else marker.group(1)
            continue
        if mode == "async-only":
            continue
        if mode == "sync-only":
            line = re.sub(r"^(\s*)# ?", r"\1", line, count=1)
        out.append(line)
    if mode is not None:
        raise SystemExit("unasync: a block is not closed with '# unasync: end'")
    return "".join(out)


def _tokens(text: str) -> str:
    """Drop async/await and swap names, token by token; strings and comments get the
    same swaps as prose."""
    offsets = [0]
    for line in text.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(line))

    def at(position: tuple[int, int]) -> int:
        return offsets[position[0] - 1] + position[1]

    edits: list[tuple[int, int, str]] = []  # (start, end, replacement) in the text
    tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    for index, token in enumerate(tokens):
        start, end = at(token.start), at(token.end)
        if token.type in (tokenize.STRING, tokenize.COMMENT):
            new = _prose(token.string)
            if new != token.string:
                edits.append((start, end, new))
        elif token.type == tokenize.NAME and token.string in ("async", "await"):
            following = tokens[index + 1]
            if token.string == "async" and following.string not in ("def", "with", "for"):
                continue
            # Remove the keyword and the spaces up to the next token.
            edits.append((start, at(following.start), ""))
        elif token.type == tokenize.NAME and token.string in NAMES:
            edits.append((start, end, NAMES[token.string]))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _ruff(text: str, target: str) -> str:
    def run(*args: str, source: str) -> str:
        done = subprocess.run(  # noqa: S603 - fixed arguments
            [sys.executable, "-m", "ruff", *args, "--stdin-filename", target, "-"],
            input=source,
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=False,
        )
        if done.returncode not in (0, 1) or not done.stdout:
            raise SystemExit(f"unasync: ruff {args[0]} failed on {target}:\n{done.stderr}")
        return done.stdout

    fixed = run("check", "--fix-only", "--select", "I,F401", "--exit-zero", source=text)
    return run("format", source=fixed)


def generate(source: str, target: str) -> str:
    text = (ROOT / source).read_text()
    body = _tokens(_blocks(text))
    # The source's docstring describes the asyncio file; the header replaces it.
    body = re.sub(r'^"""(?:.|\n)*?"""\n', "", body, count=1)
    return _ruff(_HEADER.format(source=source) + body.lstrip("\n"), target)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a generated file is stale")
    args = parser.parse_args()
    stale = 0
    for source, target in FILES:
        if not (ROOT / source).exists():
            continue
        wanted = generate(source, target)
        path = ROOT / target
        current = path.read_text() if path.exists() else ""
        if current == wanted:
            continue
        if args.check:
            stale += 1
            diff = difflib.unified_diff(
                current.splitlines(keepends=True),
                wanted.splitlines(keepends=True),
                target,
                f"{target} (generated)",
            )
            sys.stdout.writelines(diff)
        else:
            path.write_text(wanted)
            print(f"wrote {target}")
    if stale:
        print(f"unasync: {stale} generated file(s) stale: run python tools/unasync.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
