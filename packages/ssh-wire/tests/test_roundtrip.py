"""Hypothesis round trips: every wire type, and representative schemas."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wire_samples import SCHEMAS, TABLE, instances, mpints, name_lists

from ssh_wire import Message, Reader, Struct, Writer, decode_message

SETTINGS = settings(max_examples=150, deadline=None)

# (Writer method, Reader method, values)
TYPES: list[tuple[str, str, st.SearchStrategy[Any]]] = [
    ("byte", "byte", st.integers(0, 0xFF)),
    ("boolean", "boolean", st.booleans()),
    ("uint32", "uint32", st.integers(0, 0xFFFF_FFFF)),
    ("uint64", "uint64", st.integers(0, 0xFFFF_FFFF_FFFF_FFFF)),
    ("string", "string", st.binary(max_size=2048)),
    ("text", "text", st.text(max_size=256)),
    ("mpint", "mpint", mpints),
    ("name_list", "name_list", name_lists),
]


@pytest.mark.parametrize(("write", "read", "values"), TYPES, ids=[t[0] for t in TYPES])
@SETTINGS
@given(data=st.data())
def test_each_type_round_trips(
    write: str, read: str, values: st.SearchStrategy[Any], data: st.DataObject
) -> None:
    value = data.draw(values)
    encoded = getattr(Writer(), write)(value).getvalue()
    r = Reader(encoded)
    assert getattr(r, read)() == value
    assert r.at_end()


@SETTINGS
@given(st.text(st.characters(max_codepoint=0x7F), max_size=256))
def test_ascii_round_trips(value: str) -> None:
    assert Reader(Writer().string(value.encode("ascii")).getvalue()).ascii() == value


@SETTINGS
@given(st.binary(max_size=64), st.binary(max_size=64))
def test_raw_and_rest_round_trip(head: bytes, tail: bytes) -> None:
    r = Reader(Writer().raw(head).raw(tail).getvalue())
    assert r.raw(len(head)) == head
    assert r.rest() == tail


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(TYPES[:-1]), st.data()), max_size=8), st.data())
def test_sequences_of_types_round_trip(
    picks: list[tuple[tuple[str, str, st.SearchStrategy[Any]], st.DataObject]],
    data: st.DataObject,
) -> None:
    w = Writer()
    expected = []
    for (write, read, values), _ in picks:
        value = data.draw(values)
        getattr(w, write)(value)
        expected.append((read, value))
    r = Reader(w.getvalue())
    assert [getattr(r, read)() for read, _ in expected] == [v for _, v in expected]
    r.expect_end()


def _name(cls: type[Struct]) -> str:
    return cls.__name__


@pytest.mark.parametrize("cls", SCHEMAS, ids=_name)
@SETTINGS
@given(data=st.data())
def test_schema_round_trips(cls: type[Struct], data: st.DataObject) -> None:
    value = data.draw(instances(cls))
    encoded = value.encode()
    assert cls.decode(encoded) == value
    assert cls.decode(encoded, strict=False) == value
    if isinstance(value, Message):
        assert decode_message(encoded, TABLE) == value


# A schema ending in Rest would take the following structure too.
WITHOUT_REST = [c for c in SCHEMAS if all(w.name != "rest" for _, w in c._plan)]


@pytest.mark.parametrize("cls", WITHOUT_REST, ids=_name)
@SETTINGS
@given(data=st.data())
def test_read_from_stops_where_the_schema_ends(cls: type[Struct], data: st.DataObject) -> None:
    first, second = data.draw(instances(cls)), data.draw(instances(cls))
    r = Reader(first.encode() + second.encode())
    assert cls.read_from(r) == first
    assert cls.read_from(r) == second
    assert r.at_end()
