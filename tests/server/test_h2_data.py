"""DATA frames written directly into h2 must leave the connection as h2's own send_data does;
the price stream's sink writes whole offers only, batched per connection."""

import asyncio
from types import SimpleNamespace

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import DataReceived

from crypto_service.server import h2_data
from crypto_service.server.prices import BatchedWrites, FramedSink


def test_the_direct_path_is_in_use_with_the_installed_h2():
    assert h2_data.send_data is h2_data.direct_send_data


def pair() -> tuple[H2Connection, H2Connection]:
    client = H2Connection(H2Configuration(client_side=True))
    server = H2Connection(H2Configuration(client_side=False))
    client.initiate_connection()
    server.initiate_connection()
    server.receive_data(client.data_to_send())
    client.receive_data(server.data_to_send())
    for stream_id in (1, 3):
        client.send_headers(stream_id, [(":method", "POST"), (":path", "/p"),
                                        (":scheme", "http"), (":authority", "a")],
                            end_stream=True)
    server.receive_data(client.data_to_send())
    for stream_id in (1, 3):
        server.send_headers(stream_id, [(":status", "200")])
    client.receive_data(server.data_to_send())
    return client, server


def test_frames_windows_and_what_the_peer_reads_match_h2s_own():
    sent = [(1, b"\0\0\0\0\5hello"), (3, b"x" * 16_384), (1, b""), (3, b"\0" * 300)]
    outcomes = []
    for send in (h2_data.h2_send_data, h2_data.direct_send_data):
        client, server = pair()
        for stream_id, data in sent:
            send(server, stream_id, data)
        wire = server.data_to_send()
        received = [(e.stream_id, e.data) for e in client.receive_data(wire)
                    if isinstance(e, DataReceived)]
        outcomes.append((wire, received, server.outbound_flow_control_window,
                         [server.local_flow_control_window(s) for s in (1, 3)]))
    assert outcomes[0] == outcomes[1]
    assert outcomes[1][1] == sent


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return False


class FakeConnection:
    """The parts of a grpclib connection that FramedSink uses."""

    def __init__(self) -> None:
        self.write_ready = asyncio.Event()
        self.write_ready.set()

    def data_send_process(self) -> None:
        pass


def grpclib_stream(server: H2Connection, stream_id: int, transport: FakeTransport,
                   connection: FakeConnection) -> SimpleNamespace:
    """The parts of a grpclib server stream that FramedSink uses, over a real h2 connection."""
    h2_stream = SimpleNamespace(id=stream_id, _h2_connection=server, _transport=transport,
                                connection=connection, window_updated=asyncio.Event())
    return SimpleNamespace(_stream=h2_stream)


def messages(count: int, size: int) -> list[bytes]:
    return [b"\0" + size.to_bytes(4, "big") + bytes([n % 256]) * size for n in range(count)]


async def test_a_sink_sends_whole_offers_in_frames_the_peer_allows_one_write_per_connection():
    client, server = pair()
    client.increment_flow_control_window(1_000_000)
    client.increment_flow_control_window(1_000_000, stream_id=1)
    client.increment_flow_control_window(1_000_000, stream_id=3)
    server.receive_data(client.data_to_send())
    transport, connection, writes = FakeTransport(), FakeConnection(), BatchedWrites()
    first, second = (FramedSink(grpclib_stream(server, s, transport, connection), writes)
                     for s in (1, 3))
    big = messages(100, 200)  # 20,500 bytes: more than one 16 KiB frame
    assert first.offer(big) and second.offer(messages(1, 10))
    assert transport.writes == []  # once the delivering callback is over
    await asyncio.sleep(0)
    assert len(transport.writes) == 1
    received = {}
    for event in client.receive_data(transport.writes[0]):
        if isinstance(event, DataReceived):
            received[event.stream_id] = received.get(event.stream_id, b"") + event.data
    assert received == {1: b"".join(big), 3: messages(1, 10)[0]}


async def test_a_sink_takes_nothing_the_window_cannot_take_whole_and_waits_for_an_update():
    client, server = pair()  # 65,535 bytes of window
    stream = grpclib_stream(server, 1, FakeTransport(), FakeConnection())
    sink = FramedSink(stream, BatchedWrites())
    assert sink.offer(messages(6, 10_000))  # 60,030 bytes
    assert not sink.offer(messages(1, 10_000))  # would not fit whole: nothing of it is sent
    assert server.local_flow_control_window(1) == 65_535 - 60_030
    waiting = asyncio.create_task(sink.writable())
    await asyncio.sleep(0)
    assert not waiting.done()
    stream._stream.window_updated.set()  # what grpclib does on the client's WINDOW_UPDATE
    await asyncio.wait_for(waiting, 1)


async def test_a_sink_takes_nothing_while_the_socket_is_backed_up():
    client, server = pair()
    connection = FakeConnection()
    sink = FramedSink(grpclib_stream(server, 1, FakeTransport(), connection), BatchedWrites())
    connection.write_ready.clear()  # grpclib's pause_writing: the transport's buffer is full
    assert not sink.offer(messages(1, 10))
    assert server.local_flow_control_window(1) == 65_535
    waiting = asyncio.create_task(sink.writable())
    await asyncio.sleep(0)
    assert not waiting.done()
    connection.write_ready.set()  # resume_writing
    await asyncio.wait_for(waiting, 1)
    assert sink.offer(messages(1, 10))
