"""StreamPrices, served on the grpclib stream itself: the hub's pre-framed bytes go straight
into the stream's HTTP/2 connection (as DATA frames, see h2_data.py), where the generated
server-stream helper would encode every message again and grpclib would write to the socket
once per message.

(Uses grpclib's stream internals, stable since 0.4: `_stream`, its `_h2_connection`,
`_transport`, `window_updated` and its connection's `write_ready`.)
"""

from __future__ import annotations

import asyncio
from typing import Any, Sequence

import grpclib.protocol
import grpclib.server

from .. import convert
from ..domain.catalog import CatalogCache
from ..domain.errors import InvalidArgument
from ..domain.prices.hub import PriceHub, Quote
from ..domain.prices.stream import plan_stream, run_stream
from .h2_data import send_data
from ..db.internals import expect, sets_attributes

expect(sets_attributes(grpclib.server.Stream, "_stream")
       and sets_attributes(grpclib.protocol.Stream, "connection", "_h2_connection", "_transport",
                           "window_updated")
       and sets_attributes(grpclib.protocol.Connection, "write_ready")
       and callable(getattr(grpclib.protocol.Connection, "data_send_process", None)),
       "grpclib", "the stream internals the price stream writes through changed (a server "
       "stream's `_stream`; its `connection`, `_h2_connection`, `_transport`, "
       "`window_updated`; the connection's `write_ready`, `data_send_process`)")


def framed_price_update(quote: Quote) -> bytes:
    """A PriceUpdate as one gRPC length-prefixed message: what the hub keeps and every
    subscriber of the symbol is sent."""
    message = convert.encode_price_update(quote)
    return b"\0" + len(message).to_bytes(4, "big") + message


class PriceStreams:
    PATH = "/crypto.CryptoService/StreamPrices"

    def __init__(self, hub: PriceHub, catalog: CatalogCache, stuck_seconds: float) -> None:
        self.hub = hub
        self.catalog = catalog
        self.stuck_seconds = stuck_seconds
        self.writes = BatchedWrites()

    async def serve(self, stream: Any) -> None:
        request = await stream.recv_message()
        if request is None:
            raise InvalidArgument("a StreamPricesRequest is required")
        plan = plan_stream(await self.catalog.current(), request.symbols,
                           request.interval_seconds)
        await stream.send_initial_metadata()
        await run_stream(self.hub, plan, FramedSink(stream, self.writes),
                         stuck_seconds=self.stuck_seconds)


class FramedSink:
    """Writes whole pre-framed messages into one stream's HTTP/2 connection.

    An offer is taken only if HTTP/2 flow control lets all of it through and the socket is not
    backed up: a stream later ended for a stuck reader must not leave a cut message before
    its status, which clients cannot read past. What is taken goes to the socket in one write
    per connection, after every stream due at the same moment has had its turn."""

    def __init__(self, stream: Any, writes: BatchedWrites) -> None:
        self._stream = stream._stream
        self._h2 = self._stream._h2_connection
        self._connection = self._stream.connection
        self._writes = writes

    def offer(self, payloads: Sequence[bytes]) -> bool:
        data = payloads[0] if len(payloads) == 1 else b"".join(payloads)
        stream_id = self._stream.id
        if (not self._connection.write_ready.is_set()
                or self._h2.local_flow_control_window(stream_id) < len(data)):
            return False
        frame_size = self._h2.max_outbound_frame_size
        if len(data) <= frame_size:
            send_data(self._h2, stream_id, data)
        else:
            view = memoryview(data)
            for start in range(0, len(data), frame_size):
                send_data(self._h2, stream_id, bytes(view[start:start + frame_size]))
        self._writes.add(self._stream)
        return True

    async def writable(self) -> None:
        if not self._connection.write_ready.is_set():
            await self._connection.write_ready.wait()
        else:
            self._stream.window_updated.clear()
            await self._stream.window_updated.wait()


class BatchedWrites:
    """What the sinks have framed, sent in one socket write per connection per turn of the
    event loop: for the streams of one connection delivered in one callback, one write."""

    def __init__(self) -> None:
        self._due: dict[Any, Any] = {}  # a grpclib connection -> one of its streams

    def add(self, stream: Any) -> None:
        if not self._due:
            asyncio.get_running_loop().call_soon(self._write)
        self._due[stream.connection] = stream

    def _write(self) -> None:
        due, self._due = self._due, {}
        for stream in due.values():
            data = stream._h2_connection.data_to_send()
            if data and not stream._transport.is_closing():
                stream._transport.write(data)
                stream.connection.data_send_process()  # what grpclib's keepalive goes by
