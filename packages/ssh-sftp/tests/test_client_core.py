"""The sans-I/O client core against scripted server bytes: negotiation, replies by id,
and every way a server can break the protocol ending in a clear error."""

from __future__ import annotations

import pytest

from ssh_sftp import messages as m
from ssh_sftp.attrs import SFTPAttributes
from ssh_sftp.client import ClientState, SFTPClientCore
from ssh_sftp.errors import (
    NoSuchFile,
    OperationUnsupported,
    SFTPConnectionClosed,
    SFTPProtocolError,
    SFTPUsageError,
)
from ssh_sftp.framing import PacketBuffer
from ssh_sftp.numbers import PacketType, StatusCode
from ssh_wire import DecodeError

OPENSSH_LIMITS = m.LimitsReply(262144, 261120, 261120, 1000)


def sent_packets(core: SFTPClientCore) -> list[bytes]:
    buf = PacketBuffer()
    buf.feed(core.data_to_send())
    out = []
    while (p := buf.next_packet()) is not None:
        out.append(p)
    return out


def ready_core(extensions: tuple[tuple[str, bytes], ...] = (), **options: int) -> SFTPClientCore:
    core = SFTPClientCore(**options)
    started = core.start()
    assert sent_packets(core) == [m.Init().encode()]
    core.receive_data(m.frame(m.Version(3, extensions).encode()))
    if "limits@openssh.com" in dict(extensions):
        (request,) = sent_packets(core)
        ext = m.Extended.decode(request)
        assert ext.request == "limits@openssh.com" and ext.data == b""
        assert not started.done
        core.receive_data(
            m.frame(m.ExtendedReply(ext.request_id, OPENSSH_LIMITS.encode()).encode())
        )
    assert started.done
    started.result()
    assert core.state is ClientState.READY
    return core


def test_without_limits_transfers_use_openssh_client_defaults() -> None:
    core = ready_core()
    assert core.limits.read_size == 32768
    assert core.limits.write_size == 32768
    assert core.limits.max_requests == 64
    assert core.server_limits is None


def test_limits_at_openssh_size_reads_and_writes() -> None:
    core = ready_core(m.OPENSSH_EXTENSIONS)
    assert core.server_limits == OPENSSH_LIMITS
    assert core.limits.read_size == 261120
    assert core.limits.write_size == 261120
    assert core.limits.open_handles == 1000
    assert core.peer_max_packet == 262144


def test_a_chosen_chunk_size_wins_over_the_servers_limits() -> None:
    core = ready_core(m.OPENSSH_EXTENSIONS, chunk_size=65536, max_requests=8)
    assert (core.limits.read_size, core.limits.write_size, core.limits.max_requests) == (
        65536,
        65536,
        8,
    )


def test_a_refused_limits_request_keeps_the_defaults() -> None:
    core = SFTPClientCore()
    started = core.start()
    core.data_to_send()
    core.receive_data(m.frame(m.Version(3, (("limits@openssh.com", b"1"),)).encode()))
    (request,) = sent_packets(core)
    rid = m.Extended.decode(request).request_id
    core.receive_data(m.frame(m.encode_status(rid, StatusCode.OP_UNSUPPORTED, "no")))
    assert started.done and started.result().read_size == 32768


def test_replies_complete_by_request_id_in_any_order() -> None:
    core = ready_core()
    a = core.stat(b"/a")
    b = core.stat(b"/b")
    requests = [m.Stat.decode(p) for p in sent_packets(core)]
    assert [r.path for r in requests] == [b"/a", b"/b"]
    core.receive_data(
        m.frame(m.AttrsReply(requests[1].request_id, SFTPAttributes(size=2)).encode())
    )
    assert b.done and not a.done
    core.receive_data(m.frame(m.encode_status(requests[0].request_id, 2, "No such file")))
    assert b.result().size == 2
    with pytest.raises(NoSuchFile) as info:
        a.result()
    assert info.value.filename == "/a"
    assert info.value.strerror == "No such file"
    assert core.waiting == 0


def test_a_reply_split_into_single_bytes_still_arrives() -> None:
    core = ready_core()
    reply = core.read(b"h", 0, 10)
    (request,) = sent_packets(core)
    rid = m.decode_read(request)[0]
    for byte in m.frame(m.encode_data(rid, b"0123456789")):
        core.receive_data(bytes([byte]))
    assert reply.result() == b"0123456789"


def test_read_at_eof_is_empty_and_readdir_at_eof_is_no_entries() -> None:
    core = ready_core()
    read = core.read(b"h", 0, 10)
    listing = core.readdir(b"d")
    ids = [m.request_id_of(p) for p in sent_packets(core)]
    for rid in ids:
        core.receive_data(m.frame(m.encode_status(rid or 0, StatusCode.EOF, "EOF")))
    assert read.result() == b""
    assert listing.result() == ()


def test_symlink_goes_out_target_first() -> None:
    core = ready_core()
    core.symlink(b"target", b"/link")
    (packet,) = sent_packets(core)
    assert m.Symlink.decode(packet).target == b"target"
    assert m.Symlink.decode(packet).link_path == b"/link"


def test_an_extension_the_server_lacks_fails_without_a_request() -> None:
    core = ready_core()
    reply = core.statvfs(b"/")
    assert reply.done and core.data_to_send() == b""
    with pytest.raises(OperationUnsupported, match="statvfs"):
        reply.result()


def test_a_request_over_the_servers_packet_limit_is_refused_locally() -> None:
    core = ready_core(m.OPENSSH_EXTENSIONS)
    with pytest.raises(SFTPUsageError):
        core.stat(b"x" * 300_000)
    with pytest.raises(SFTPUsageError):
        core.write(b"h", 0, b"x" * 262144)


def test_requests_before_the_version_are_a_usage_error() -> None:
    core = SFTPClientCore()
    core.start()
    with pytest.raises(SFTPUsageError, match="not ready"):
        core.stat(b"/")
    with pytest.raises(SFTPUsageError):
        core.start()


def test_a_pending_reply_cannot_be_read_early() -> None:
    core = ready_core()
    with pytest.raises(SFTPUsageError):
        core.stat(b"/").result()


# -- a server that breaks the protocol ---------------------------------------------------------


def broken(core: SFTPClientCore, data: bytes) -> SFTPProtocolError:
    pending = core.stat(b"/pending")
    core.data_to_send()
    core.receive_data(data)
    assert core.state is ClientState.CLOSED
    with pytest.raises(SFTPProtocolError) as info:
        pending.result()
    # Nothing more is accepted, and new requests fail at once with the same error.
    core.receive_data(m.frame(m.encode_status(0, 0)))
    later = core.stat(b"/later")
    assert later.done
    with pytest.raises(SFTPProtocolError):
        later.result()
    return info.value


def test_a_reply_to_no_pending_request_ends_the_session() -> None:
    error = broken(ready_core(), m.frame(m.encode_status(999, 0)))
    assert "999" in str(error)


def test_a_reply_of_the_wrong_type_ends_the_session() -> None:
    core = ready_core()
    error = broken(core, m.frame(m.Handle(0, b"h").encode()))
    assert "ATTRS" in str(error)


def test_an_undecodable_reply_ends_the_session_with_the_decode_error_as_cause() -> None:
    core = ready_core()
    error = broken(core, m.frame(bytes([PacketType.ATTRS]) + b"\x00\x00\x00\x00\xff\xff"))
    assert isinstance(error.__cause__, DecodeError)


def test_an_oversized_packet_ends_the_session_before_it_is_buffered() -> None:
    core = ready_core()
    broken(core, (m.MAX_PACKET_LENGTH + 1).to_bytes(4, "big"))


def test_a_packet_too_short_for_a_request_id_ends_the_session() -> None:
    broken(ready_core(), m.frame(bytes([PacketType.STATUS])))


def test_an_empty_handle_ends_the_session() -> None:
    core = ready_core()
    reply = core.open(b"/f", 1)
    core.data_to_send()
    core.receive_data(m.frame(m.Handle(reply.request_id, b"").encode()))
    with pytest.raises(SFTPProtocolError, match="handle"):
        reply.result()
    assert core.state is ClientState.CLOSED


def test_status_ok_where_data_was_due_ends_the_session() -> None:
    core = ready_core()
    reply = core.read(b"h", 0, 1)
    core.data_to_send()
    core.receive_data(m.frame(m.encode_status(reply.request_id, StatusCode.OK)))
    with pytest.raises(SFTPProtocolError, match="DATA"):
        reply.result()


@pytest.mark.parametrize(
    "first",
    [
        m.Version(2).encode(),
        m.encode_status(0, 0),
        bytes([PacketType.VERSION]),
    ],
    ids=["version-2", "status-first", "truncated-version"],
)
def test_a_bad_version_reply_fails_the_start(first: bytes) -> None:
    core = SFTPClientCore()
    started = core.start()
    core.receive_data(m.frame(first))
    with pytest.raises(SFTPProtocolError):
        started.result()


def test_data_before_init_is_a_protocol_error() -> None:
    core = SFTPClientCore()
    core.receive_data(m.frame(m.Version().encode()))
    assert isinstance(core.error, SFTPProtocolError)


def test_eof_fails_every_pending_reply_as_connection_closed() -> None:
    core = ready_core()
    a, b = core.stat(b"/a"), core.read(b"h", 0, 1)
    core.receive_data(b"")
    for reply in (a, b):
        with pytest.raises(SFTPConnectionClosed):
            reply.result()


def test_eof_before_version_fails_the_start() -> None:
    core = SFTPClientCore()
    started = core.start()
    core.receive_data(b"")
    with pytest.raises(SFTPConnectionClosed):
        started.result()


@pytest.mark.parametrize(
    "options",
    [{"max_packet": 100}, {"max_requests": 0}, {"chunk_size": -1}, {"chunk_size": 1 << 20}],
)
def test_bad_limits_are_refused(options: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="must be"):
        SFTPClientCore(**options)
