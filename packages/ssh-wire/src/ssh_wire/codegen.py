"""Specialised encode/decode functions for a schema, generated when its class is created.

The generic schema methods walk the field plan and dispatch through ``Reader``
and ``Writer`` once per field, then build the frozen instance through the
dataclass ``__init__`` (one ``object.__setattr__`` per field). That costs
several times the work itself. Here each schema gets straight-line Python
source, compiled once with ``exec`` (as :mod:`dataclasses` does for
``__init__``), which:

* packs and unpacks each run of fixed-size fields, including the length prefix
  of the variable field after it, with one precompiled ``struct.Struct``;
* keeps everything in local variables, with no per-field method calls;
* builds instances with ``object.__new__`` and the slots' own descriptors,
  skipping the frozen ``__setattr__`` (only when the class has no custom
  ``__init__``/``__post_init__``/``__new__``);
* encodes with one ``b"".join`` (or appends straight into a ``Writer``), so a
  large payload is copied once.

The fast path never has to produce an error itself. Whenever an input or a
value is anything but the plain case (a check fails, a value has an unusual
type, text does not decode), it gives up and calls the generic path, which
then raises its exact error (message, field and offset) or, for unusual but
valid values, produces the result. So the fast path only has to be exact on
what it accepts: it accepts nothing the generic path rejects and produces the
same bytes and values. The tests check this differentially.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, NoReturn

from .limits import MAX_MPINT_BITS, MAX_NAME, MAX_NAME_LIST, MAX_NAMES, MAX_STRING
from .reader import Reader
from .writer import Writer, _nbytes, mpint_bytes

__all__ = ["FieldKind", "build_codecs"]

#: (field name, kind, size) where kind is one of the builtin wire types' names
#: ("byte", "boolean", "uint32", "uint64", "fixed", "string", "text", "name",
#: "mpint", "name-list", "rest") and size is only used by "fixed".
FieldKind = tuple[str, str, int]

# struct codes of the fixed-size kinds (a Fixed field becomes "<n>s").
_FIXED_CODES = {"byte": "B", "boolean": "B", "uint32": "I", "uint64": "Q"}
# Variable kinds: a uint32 length, then the body. Values are the length limit the
# Reader applies (None: the reader's max_string).
_LIMITS: dict[str, int | None] = {
    "string": None,
    "text": None,
    "name": None,
    "mpint": (MAX_MPINT_BITS + 7) // 8 + 1,
    "name-list": MAX_NAME_LIST,
}


class _Fallback(Exception):
    """Raised inside a fast encoder to hand over to the generic path."""


def _fallback() -> NoReturn:
    # A function, so a guard fits in an expression: ``x if ok else _fallback()``.
    raise _Fallback


class _Source:
    """Lines of generated Python with indentation, plus the globals they use."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.lines: list[str] = []
        self.namespace = namespace
        self.indent = 0

    def add(self, line: str) -> None:
        self.lines.append("    " * self.indent + line)

    def constant(self, prefix: str, value: object) -> str:
        """Bind ``value`` as a global of the generated code and return its name."""
        name = f"_{prefix}{len(self.namespace)}"
        self.namespace[name] = value
        return name


# -- decoding ---------------------------------------------------------------------------


def _decode_body(
    src: _Source,
    fields: list[FieldKind],
    number: int | None,
    fail: str,
    copy: bool,
    make: list[str],
) -> None:
    """Statements that read the fields from ``buf[p:end]`` into ``o``, or run ``fail``.

    ``copy`` is true when ``buf`` is a memoryview, whose slices must become bytes.
    """
    run: list[tuple[str, str]] = []  # (struct code, target variable) of the pending run
    checks: list[str] = []  # statements to run after the pending run is unpacked

    def flush() -> None:
        if not run:
            return
        fmt = ">" + "".join(code for code, _ in run)
        size = struct.calcsize(fmt)
        unpack = src.constant("unpack", struct.Struct(fmt).unpack_from)
        src.add(f"if end - p < {size}:")
        src.add(f"    {fail}")
        src.add(f"({', '.join(t for _, t in run)},) = {unpack}(buf, p)")
        src.add(f"p += {size}")
        for line in checks:
            src.add(line)
        run.clear()
        checks.clear()

    def take(start: str, stop: str) -> str:
        return f"bytes(buf[{start}:{stop}])" if copy else f"buf[{start}:{stop}]"

    if number is not None:
        run.append(("B", "num"))
        checks += [f"if num != {number}:", f"    {fail}"]
    for i, (_, kind, size) in enumerate(fields):
        v = f"f{i}"
        if kind in _FIXED_CODES:
            run.append((_FIXED_CODES[kind], v))
            if kind == "boolean":
                # Same rule as Reader.boolean: only 0 and 1 unless lenient.
                checks += [f"if {v} > 1 and strict:", f"    {fail}", f"{v} = {v} != 0"]
            continue
        if kind == "fixed":
            run.append((f"{size}s", v))  # unpacks to bytes for any buffer
            continue
        if kind == "rest":
            flush()
            src.add(f"{v} = {take('p', 'end')}")
            src.add("p = end")
            continue
        # A variable field: its length prefix joins the run, then the body follows it.
        n = f"n{i}"
        run.append(("I", n))
        flush()
        limit = _LIMITS[kind]
        src.add(f"if {n} > {'max_string' if limit is None else limit} or {n} > end - p:")
        src.add(f"    {fail}")
        src.add(f"q = p + {n}")
        if kind == "string":
            src.add(f"{v} = {take('p', 'q')}")
        elif kind == "text":
            src.add(f'{v} = str(buf[p:q], "utf-8")')  # UnicodeDecodeError: generic path
        elif kind == "name":
            src.add(f'{v} = str(buf[p:q], "ascii")')
        elif kind == "mpint":
            _decode_mpint(src, v, n, fail)
        elif kind == "name-list":
            _decode_name_list(src, v, n, fail)
        else:  # pragma: no cover - kinds come from schema.py
            raise AssertionError(kind)
        src.add("p = q")
    flush()
    for line in make:
        src.add(line)


def _decode_mpint(src: _Source, v: str, n: str, fail: str) -> None:
    src.add(f"if {n}:")
    src.add("    m = buf[p:q]")
    # Reader.mpint's strict rule: zero is empty, and no needless leading 00 or ff.
    src.add(
        f"    if strict and ((m[0] == 0 and ({n} == 1 or m[1] < 0x80))"
        f" or (m[0] == 0xFF and {n} > 1 and m[1] >= 0x80)):"
    )
    src.add(f"        {fail}")
    src.add(f'    {v} = int.from_bytes(m, "big", signed=True)')
    src.add("else:")
    src.add(f"    {v} = 0")


def _decode_name_list(src: _Source, v: str, n: str, fail: str) -> None:
    # Reader.name_list's rules, checked on the whole list at once: at most MAX_NAMES
    # names, none empty or over MAX_NAME characters, no NUL, US-ASCII.
    src.add(f"if {n}:")
    src.add('    s = str(buf[p:q], "ascii")')
    src.add('    names = s.split(",")')
    src.add(f'    if len(names) > {MAX_NAMES} or "" in names or "\\x00" in s:')
    src.add(f"        {fail}")
    # A list no longer than MAX_NAME cannot hold a longer name: skip the scan.
    src.add(f"    if {n} > {MAX_NAME} and max(map(len, names)) > {MAX_NAME}:")
    src.add(f"        {fail}")
    src.add(f"    {v} = tuple(names)")
    src.add("else:")
    src.add(f"    {v} = ()")


# -- encoding ---------------------------------------------------------------------------


def _encode_parts(src: _Source, fields: list[FieldKind], number: int | None) -> list[str]:
    """Statements that check and convert the field values; returns the byte parts.

    Each part is an expression giving a bytes-like object; they are emitted in order.
    A value the fast path does not handle exactly calls ``_fallback()``.
    """
    parts: list[str] = []
    run: list[tuple[str, str]] = []  # (struct code, value expression)

    def flush() -> None:
        if run:
            pack = src.constant("pack", struct.Struct(">" + "".join(c for c, _ in run)).pack)
            parts.append(f"{pack}({', '.join(e for _, e in run)})")
            run.clear()

    if number is not None:
        run.append(("B", str(number)))
    for i, (name, kind, size) in enumerate(fields):
        v = f"v{i}"
        src.add(f"{v} = self.{name}")
        if kind in ("byte", "uint32", "uint64"):
            # struct takes exactly the integers Writer takes (it packs with the same codes;
            # bytearray.append and "B" both take __index__ values 0-255).
            run.append((_FIXED_CODES[kind], v))
        elif kind == "boolean":
            run.append(("B", f"(1 if {v} else 0)"))
        elif kind == "fixed":
            src.add(f"if type({v}) is not bytes or len({v}) != {size}:")
            src.add("    _fallback()")
            run.append((f"{size}s", v))
        elif kind == "rest":
            flush()
            parts.append(v)  # any contiguous buffer, as bytearray += takes
        else:
            b = f"b{i}"
            if kind == "string":
                # len() counts items, not bytes, for memoryviews of wider formats.
                src.add(f"{b} = len({v}) if type({v}) is bytes else _nbytes({v})")
                run.append(("I", b))
                flush()
                parts.append(v)
                continue
            if kind == "text":
                src.add(f'{b} = {v}.encode("utf-8") if type({v}) is str else _fallback()')
            elif kind == "name":
                src.add(f'{b} = {v}.encode("ascii") if type({v}) is str else _fallback()')
            elif kind == "mpint":
                src.add(f"{b} = _mpint_bytes({v})")
            elif kind == "name-list":
                _encode_name_list(src, v, b)
            else:  # pragma: no cover - kinds come from schema.py
                raise AssertionError(kind)
            run.append(("I", f"len({b})"))
            flush()
            parts.append(b)
    flush()
    return parts


def _encode_name_list(src: _Source, v: str, b: str) -> None:
    # Only lists and tuples: any other iterable could be consumed before a fallback.
    src.add(f"if type({v}) is not tuple and type({v}) is not list:")
    src.add("    _fallback()")
    src.add(f's = ",".join({v})')  # TypeError for a non-str name
    # Writer's per-name rules on the joined text: a comma count of len-1 means no name
    # holds a comma, so "" in the list is the only way to get an empty name.
    src.add(
        f'if {v} and (not s.isascii() or "\\x00" in s or "" in {v}'
        f' or s.count(",") != len({v}) - 1):'
    )
    src.add("    _fallback()")
    src.add(f'{b} = s.encode("ascii")')


# -- assembling -------------------------------------------------------------------------


def build_codecs(
    cls: type,
    fields: list[FieldKind],
    number: int | None,
    *,
    plain_init: bool,
    generic: dict[str, Callable[..., Any]],
) -> dict[str, Callable[..., Any]]:
    """Fast ``encode``, ``encode_into``, ``read_from`` and ``decode`` for ``cls``.

    ``generic`` holds the slow paths: ``encode`` and ``encode_into`` (plain
    functions of the instance), ``read_from(cls, reader)`` and
    ``decode(cls, data, strict)``. The returned read_from and decode take ``cls``
    first and are meant to be wrapped in ``classmethod``. Every function checks it
    is called for exactly ``cls`` and otherwise defers to the generic path, so a
    subclass that inherits them still behaves as before.
    """
    namespace: dict[str, Any] = {
        "_CLS": cls,
        "_Reader": Reader,
        "_Writer": Writer,
        "_memoryview": memoryview,
        "_fallback": _fallback,
        "_nbytes": _nbytes,
        "_mpint_bytes": mpint_bytes,
        "_MAX_STRING": MAX_STRING,
        "_generic_encode": generic["encode"],
        "_generic_encode_into": generic["encode_into"],
        "_generic_read_from": generic["read_from"],
        "_generic_decode": generic["decode"],
    }
    src = _Source(namespace)
    # The statements that build the instance ``o`` from the values f0, f1, ...
    if plain_init:
        # The slots' descriptors store values without the frozen __setattr__ check.
        namespace["_new"] = object.__new__
        make = ["o = _new(_CLS)"]
        for i, (name, _, _) in enumerate(fields):
            setter = src.constant("set", getattr(cls, name).__set__)
            make.append(f"{setter}(o, f{i})")
    else:
        make = [f"o = _CLS({', '.join(f'f{i}' for i in range(len(fields)))})"]

    def decoder(head: list[str], fallback: str, view: bool, finish: list[str]) -> None:
        """One decoding function: ``head`` sets up buf/p/end/strict/max_string, the fields
        are read, ``finish`` returns; anything unusual goes to ``fallback`` (the generic
        path, which raises the exact error)."""
        src.indent = 0
        for line in head:
            src.add(line)
        src.indent = 1
        src.add("try:")
        src.indent = 2
        _decode_body(src, fields, number, fallback, view, make)
        for line in finish:
            src.add(line)
        src.indent = 1
        src.add("except UnicodeDecodeError:")
        src.add("    pass")
        src.add(fallback)

    # decode(cls, data, *, strict=True): bytes are sliced directly; other buffers go
    # through a memoryview like Reader does.
    decoder(
        [
            "def decode(cls, data, *, strict=True):",
            "    if cls is not _CLS:",
            "        return _generic_decode(cls, data, strict)",
            "    if type(data) is not bytes:",
            "        return _decode_view(data, strict)",
            "    buf = data; p = 0; end = len(data); max_string = _MAX_STRING",
        ],
        "return _generic_decode(cls, data, strict)",
        False,
        ["if p == end:", "    return o"],
    )
    decoder(
        [
            "def _decode_view(data, strict):",
            '    buf = _memoryview(data).cast("B"); p = 0; end = len(buf)',
            "    max_string = _MAX_STRING",
        ],
        "return _generic_decode(_CLS, data, strict)",
        True,
        ["if p == end:", "    return o"],
    )
    # read_from(cls, r): the Reader's own buffer (a memoryview), position and limits.
    decoder(
        [
            "def read_from(cls, r):",
            "    if cls is not _CLS or type(r) is not _Reader:",
            "        return _generic_read_from(cls, r)",
            "    buf = r._buf; p = r._pos; end = r._end",
            "    strict = r.strict; max_string = r.max_string",
        ],
        "return _generic_read_from(cls, r)",
        True,
        ["r._pos = p", "return o"],
    )

    # encode(self): all checks first, then one join (a lone struct pack needs none).
    src.indent = 0
    src.add("def encode(self):")
    src.indent = 1
    src.add("if type(self) is not _CLS:")
    src.add("    return _generic_encode(self)")
    src.add("try:")
    src.indent = 2
    start = len(src.lines)
    parts = _encode_parts(src, fields, number)
    prepare = [line[8:] for line in src.lines[start:]]  # reused by encode_into
    if not parts:
        src.add('return b""')
    elif len(parts) == 1 and parts[0].startswith("_pack"):
        src.add(f"return {parts[0]}")
    else:
        src.add(f'return b"".join(({", ".join(parts)},))')
    src.indent = 1
    src.add("except Exception:")
    src.add("    pass")
    src.add("return _generic_encode(self)")

    # encode_into(self, w): append the same parts to the Writer's buffer; if one append
    # fails (a non-contiguous buffer), undo ours so the generic path starts afresh.
    src.indent = 0
    src.add("def encode_into(self, w):")
    src.indent = 1
    src.add("if type(self) is not _CLS or type(w) is not _Writer:")
    src.add("    return _generic_encode_into(self, w)")
    src.add("buf = w._buf; start = len(buf)")
    src.add("try:")
    src.indent = 2
    for line in prepare:
        src.add(line)
    for part in parts:
        src.add(f"buf += {part}")
    src.add("return")
    src.indent = 1
    src.add("except Exception:")
    src.add("    del buf[start:]")
    src.add("return _generic_encode_into(self, w)")

    source = "\n".join(src.lines) + "\n"
    code = compile(source, f"<ssh_wire codecs for {cls.__qualname__}>", "exec")
    exec(code, namespace)  # noqa: S102 - source built above from the schema, not from input
    made = {name: namespace[name] for name in ("encode", "encode_into", "read_from", "decode")}
    for fn in made.values():
        fn.__qualname__ = f"{cls.__qualname__}.{fn.__name__}"
        fn.__module__ = cls.__module__
        fn.__ssh_wire_codec__ = True  # schema.py tells these from user overrides by it
        fn.__ssh_wire_source__ = source  # for debugging: print(Cls.decode.__ssh_wire_source__)
    return made
