"""Connection-layer throughput in memory: one channel, client to server, real transports.

    hatch run test:python bench/bench_connection.py [--mb 64] [--cipher NAME] [--repeat 3]
        [--profile]

For each maximum packet size, the client sends --mb MiB on one session channel; the server
reports each ChannelData consumed at once (so WINDOW_ADJUST flows back); both cores are
pumped in one process with no sockets. The "transport only" row sends the same bytes as
bare 32 KiB upper-layer messages on the transport, the ceiling the channel layer sits under.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

from ssh_connection import ChannelData, ChannelOpenRequested, ConnectionCore, Role
from ssh_keys import generate_private_key
from ssh_transport import HostKey, HostKeyReceived, MessageReceived, Transport, TransportConfig

MIB = 1024 * 1024


def transports(cipher: str | None) -> tuple[Transport, Transport]:
    ciphers = (cipher,) if cipher else None
    kw = {"ciphers": ciphers} if ciphers else {}
    client = Transport(Role.CLIENT, TransportConfig(**kw))  # type: ignore[arg-type]
    server = Transport(
        Role.SERVER,
        TransportConfig(
            host_keys=(HostKey(generate_private_key("ed25519")),),
            services=("ssh-connection",),
            **kw,  # type: ignore[arg-type]
        ),
    )
    client.request_service("ssh-connection")
    for _ in range(50):
        for t in (client, server):
            for event in iter(t.next_event, None):
                if isinstance(event, HostKeyReceived):
                    event.answer(True)
        a, b = client.data_to_send(), server.data_to_send()
        if a:
            server.receive_data(a)
        if b:
            client.receive_data(b)
    assert client.is_established and server.is_established
    return client, server


def bench_channel(total: int, max_packet: int, window: int, cipher: str | None) -> float:
    ct, st = transports(cipher)
    limits = {"max_packet": max_packet, "window": window, "max_buffer": 4 * window}
    client = ConnectionCore(ct, Role.CLIENT, **limits)  # type: ignore[arg-type]
    server = ConnectionCore(st, Role.SERVER, **limits)  # type: ignore[arg-type]
    channel = client.open_session()
    received = 0

    def pump() -> None:
        nonlocal received
        while True:
            for event in iter(server.next_event, None):
                if isinstance(event, ChannelData):
                    received += len(event.data)
                    server.consumed(event.channel_id, len(event.data))
                elif isinstance(event, ChannelOpenRequested):
                    event.accept()
            for _ in iter(client.next_event, None):
                pass
            a, b = client.data_to_send(), server.data_to_send()
            if not a and not b:
                return
            if a:
                server.receive_data(a)
            if b:
                client.receive_data(b)

    pump()
    block = bytes(256 * 1024)
    start = time.perf_counter()
    sent = 0
    while received < total:
        while sent < total:
            taken = client.send(channel, block[: min(len(block), total - sent)])
            sent += taken
            if taken < len(block):
                break
        pump()
    return total / (time.perf_counter() - start) / MIB


def bench_transport(total: int, cipher: str | None) -> float:
    ct, st = transports(cipher)
    payload = bytes([94]) + bytes(32 * 1024)
    start = time.perf_counter()
    received = 0
    while received < total:
        for _ in range(64):
            ct.send_message(payload)
        st.receive_data(ct.data_to_send())
        for event in iter(st.next_event, None):
            if isinstance(event, MessageReceived):
                received += len(event.payload) - 1
    return total / (time.perf_counter() - start) / MIB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=64)
    parser.add_argument("--cipher", default=None, help="e.g. aes128-gcm@openssh.com")
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    total = args.mb * MIB
    print(f"{args.mb} MiB in memory, cipher {args.cipher or 'default'}")
    best = max(bench_transport(total, args.cipher) for _ in range(args.repeat))
    print(f"  transport only, 32 KiB messages: {best:8.1f} MiB/s")
    for max_packet in (16 * 1024, 32 * 1024, 64 * 1024, 128 * 1024):
        rate = max(
            bench_channel(total, max_packet, 2 * MIB, args.cipher) for _ in range(args.repeat)
        )
        print(f"  channel, max packet {max_packet // 1024:3d} KiB:   {rate:8.1f} MiB/s")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(bench_channel, total, 32 * 1024, 2 * MIB, args.cipher)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
