"""File attributes: the wire form, os.stat conversions and the ls -l long name."""

from __future__ import annotations

import contextlib
import datetime
import os
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssh_sftp.attrs import MAX_EXTENDED_ATTRS, SFTPAttributes, longname
from ssh_sftp.numbers import AttrFlag
from ssh_wire import DecodeError

u32 = st.integers(0, 0xFFFF_FFFF)
opt32 = st.none() | u32
UTC = datetime.timezone.utc
# 2026-12-02 00:00:00 UTC
NOW = 1_796_169_600


@st.composite
def attributes(draw: st.DrawFn) -> SFTPAttributes:
    ids = draw(st.none() | st.tuples(u32, u32))
    times = draw(st.none() | st.tuples(u32, u32))
    ext = draw(st.lists(st.tuples(st.text(max_size=10), st.binary(max_size=10)), max_size=3))
    return SFTPAttributes(
        size=draw(st.none() | st.integers(0, 2**64 - 1)),
        uid=None if ids is None else ids[0],
        gid=None if ids is None else ids[1],
        permissions=draw(opt32),
        atime=None if times is None else times[0],
        mtime=None if times is None else times[1],
        extended=tuple(ext),
    )


@settings(max_examples=300, deadline=None)
@given(attributes())
def test_attributes_round_trip(attrs: SFTPAttributes) -> None:
    assert SFTPAttributes.decode(attrs.encode()) == attrs


def test_empty_attributes_are_a_zero_flags_word() -> None:
    assert SFTPAttributes().encode() == b"\x00\x00\x00\x00"
    assert SFTPAttributes().flags == AttrFlag(0)


def test_flags_follow_the_fields_present() -> None:
    full = SFTPAttributes(1, 2, 3, 4, 5, 6, (("x", b""),))
    assert full.flags == (
        AttrFlag.SIZE
        | AttrFlag.UIDGID
        | AttrFlag.PERMISSIONS
        | AttrFlag.ACMODTIME
        | AttrFlag.EXTENDED
    )
    assert full.encode()[:4] == b"\x80\x00\x00\x0f"


@pytest.mark.parametrize(
    "attrs", [SFTPAttributes(uid=1), SFTPAttributes(gid=1), SFTPAttributes(atime=1)]
)
def test_half_a_pair_cannot_be_encoded(attrs: SFTPAttributes) -> None:
    with pytest.raises(ValueError, match="together"):
        attrs.encode()


def test_unknown_flag_bits_are_refused() -> None:
    with pytest.raises(DecodeError, match="unknown attribute flags"):
        SFTPAttributes.decode(b"\x00\x00\x00\x10")


def test_an_extended_count_over_the_limit_is_refused_at_once() -> None:
    data = b"\x80\x00\x00\x00" + (MAX_EXTENDED_ATTRS + 1).to_bytes(4, "big")
    with pytest.raises(DecodeError, match="extended"):
        SFTPAttributes.decode(data)


def test_truncated_and_mutated_attributes_give_a_value_or_a_decode_error() -> None:
    encoded = SFTPAttributes(1, 2, 3, 0o100644, 5, 6, (("a", b"b"),)).encode()
    for cut in range(len(encoded)):
        with pytest.raises(DecodeError):
            SFTPAttributes.decode(encoded[:cut])
    for i in range(len(encoded)):
        for flip in (1, 0x80, 0xFF):
            mutated = bytearray(encoded)
            mutated[i] ^= flip
            with contextlib.suppress(DecodeError):
                SFTPAttributes.decode(bytes(mutated))


def test_from_stat_takes_all_four_groups(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "f")
    with open(path, "wb") as f:
        f.write(b"12345")
    os.utime(path, (1_000_000_000, 1_100_000_000))
    st_ = os.stat(path)
    attrs = SFTPAttributes.from_stat(st_)
    assert attrs.size == 5
    assert (attrs.uid, attrs.gid) == (st_.st_uid, st_.st_gid)
    assert attrs.permissions == st_.st_mode
    assert (attrs.atime, attrs.mtime) == (1_000_000_000, 1_100_000_000)
    back = attrs.to_stat()
    assert (back.st_size, back.st_mode, back.st_mtime) == (5, st_.st_mode, 1_100_000_000)
    assert attrs.is_file() and not attrs.is_dir() and not attrs.is_symlink()


def test_file_type_tests_need_permissions() -> None:
    assert not SFTPAttributes().is_dir()
    assert SFTPAttributes(permissions=stat.S_IFDIR | 0o755).is_dir()
    assert SFTPAttributes(permissions=stat.S_IFLNK | 0o777).is_symlink()
    assert SFTPAttributes(permissions=stat.S_IFDIR | 0o755).without_type().permissions == 0o755


# -- ls -l -----------------------------------------------------------------------------------


def test_longname_recent_file_shows_the_time_of_day() -> None:
    attrs = SFTPAttributes(173, 0, 0, 0o100644, NOW - 3600, NOW - 3600)
    line = longname("README.md", attrs, now=NOW, user="root", group="root", nlink=1, tz=UTC)
    assert line == "-rw-r--r--    1 root     root          173 Dec  1 23:00 README.md"


def test_longname_old_file_shows_the_year() -> None:
    attrs = SFTPAttributes(4096, 1000, 1000, stat.S_IFDIR | 0o755, 0, 1_000_000_000)
    line = longname("src", attrs, now=NOW, nlink=12, tz=UTC)
    assert line == "drwxr-xr-x   12 1000     1000         4096 Sep  9  2001 src"


def test_longname_future_file_shows_the_year_and_unknown_links_a_question_mark() -> None:
    attrs = SFTPAttributes(1, 0, 0, stat.S_IFLNK | 0o777, 0, NOW + 86400)
    line = longname("l", attrs, now=NOW, user="a-very-long-user", group="g", tz=UTC)
    assert line == "lrwxrwxrwx    ? a-very-long-user g               1 Dec  3  2026 l"


def test_longname_of_mtime_0_or_none_is_the_epoch_as_openssh_prints_it() -> None:
    for mtime in (0, None):
        attrs = SFTPAttributes(permissions=stat.S_IFREG | 0o4755, atime=0, mtime=mtime)
        line = longname("x", attrs, now=NOW, tz=UTC)
        assert line == "-rwsr-xr-x    ? 0        0               0 Jan  1  1970 x"


def test_longname_of_a_time_localtime_cannot_convert_leaves_the_date_empty() -> None:
    attrs = SFTPAttributes(permissions=stat.S_IFREG | 0o644, atime=0, mtime=2**62)
    assert longname("x", attrs, now=NOW, tz=UTC) == "-rw-r--r--    ? 0        0               0  x"
