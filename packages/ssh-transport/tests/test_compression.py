"""Compression: registry, SSH's per-packet flush semantics, bounded inflation."""

from __future__ import annotations

import os
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssh_transport.compression import (
    DEFAULT_COMPRESSION,
    DEFAULT_MAX_DECOMPRESSED,
    LEGACY_COMPRESSION,
    SUPPORTED_COMPRESSION,
    compression_spec,
    default_compression,
    supported_compression,
)
from ssh_transport.errors import CompressionError
from ssh_wire import DisconnectReason

ZLIBS = ["zlib@openssh.com", "zlib"]


def test_registry_matches_openssh() -> None:
    assert DEFAULT_COMPRESSION == ("none", "zlib@openssh.com")
    assert LEGACY_COMPRESSION == ("zlib",)
    assert SUPPORTED_COMPRESSION == ("none", "zlib@openssh.com", "zlib")
    assert default_compression() == DEFAULT_COMPRESSION
    assert supported_compression() == SUPPORTED_COMPRESSION
    assert compression_spec("zlib@openssh.com").delayed
    assert not compression_spec("zlib").delayed
    assert not compression_spec("none").delayed
    with pytest.raises(ValueError, match="unknown compression"):
        compression_spec("lz4")


def test_none_passes_payloads_through() -> None:
    spec = compression_spec("none")
    assert spec.compressor().compress(b"abc") == b"abc"
    assert spec.decompressor(10).decompress(memoryview(b"abc")) == b"abc"


@pytest.mark.parametrize("name", ZLIBS)
@settings(max_examples=20, deadline=None)
@given(payloads=st.lists(st.binary(max_size=3000), min_size=1, max_size=8))
def test_each_packet_inflates_on_arrival(name: str, payloads: list[bytes]) -> None:
    """One stream per direction; every packet is complete for the peer on its own."""
    spec = compression_spec(name)
    compressor, decompressor = spec.compressor(), spec.decompressor(DEFAULT_MAX_DECOMPRESSED)
    for payload in payloads:
        assert decompressor.decompress(compressor.compress(payload)) == payload


def test_output_uses_partial_flush_and_a_shared_dictionary() -> None:
    """Our stream is what zlib itself inflates, and repeated data shrinks across packets."""
    compressor = compression_spec("zlib@openssh.com").compressor()
    reference = zlib.decompressobj()
    message = b"SSH_MSG_CHANNEL_DATA " + os.urandom(200)
    first = compressor.compress(message)
    second = compressor.compress(message)
    assert reference.decompress(first) == message
    assert reference.decompress(second) == message
    assert len(second) < len(first) // 4


def test_inflates_a_peer_that_uses_sync_flush() -> None:
    peer = zlib.compressobj()
    decompressor = compression_spec("zlib@openssh.com").decompressor(DEFAULT_MAX_DECOMPRESSED)
    for i in range(5):
        data = b"packet %d " % i * 50
        assert decompressor.decompress(peer.compress(data) + peer.flush(zlib.Z_SYNC_FLUSH)) == data


def test_a_decompression_bomb_is_refused() -> None:
    bomb_source = zlib.compressobj()
    bomb = bomb_source.compress(bytes(50_000_000)) + bomb_source.flush(zlib.Z_SYNC_FLUSH)
    assert len(bomb) < 100_000
    decompressor = compression_spec("zlib@openssh.com").decompressor(DEFAULT_MAX_DECOMPRESSED)
    with pytest.raises(CompressionError, match="inflates past 262144") as info:
        decompressor.decompress(bomb)
    assert info.value.reason == DisconnectReason.COMPRESSION_ERROR


@pytest.mark.parametrize(("size", "ok"), [(1000, True), (1001, False)])
def test_limit_is_exact(size: int, ok: bool) -> None:
    spec = compression_spec("zlib@openssh.com")
    data = spec.compressor().compress(b"a" * size)
    decompressor = spec.decompressor(1000)
    if ok:
        assert decompressor.decompress(data) == b"a" * size
    else:
        with pytest.raises(CompressionError):
            decompressor.decompress(data)


def test_corrupt_data_is_a_compression_error() -> None:
    decompressor = compression_spec("zlib").decompressor(DEFAULT_MAX_DECOMPRESSED)
    with pytest.raises(CompressionError, match="corrupt"):
        decompressor.decompress(b"\x78\x9c\xff\xff\xff\xff")


def test_a_finished_stream_is_a_compression_error() -> None:
    """SSH never ends its zlib stream; Z_FINISH from a peer is a protocol violation."""
    decompressor = compression_spec("zlib").decompressor(DEFAULT_MAX_DECOMPRESSED)
    with pytest.raises(CompressionError, match="ended"):
        decompressor.decompress(zlib.compress(b"the end"))


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=200))
def test_random_input_gives_bytes_or_compression_error(data: bytes) -> None:
    decompressor = compression_spec("zlib@openssh.com").decompressor(4096)
    try:
        out = decompressor.decompress(data)
    except CompressionError:
        return
    assert isinstance(out, bytes)
    assert len(out) <= 4096
