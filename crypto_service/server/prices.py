"""StreamPrices, served on the grpclib stream itself: the hub's pre-encoded bytes go out as
they are, where the generated server-stream helper would encode every message again."""

from __future__ import annotations

from typing import Any

from ..domain.catalog import CatalogCache
from ..domain.errors import InvalidArgument
from ..domain.prices.hub import PriceHub
from ..domain.prices.stream import plan_stream, run_stream


class PriceStreams:
    PATH = "/crypto.CryptoService/StreamPrices"

    def __init__(self, hub: PriceHub, catalog: CatalogCache, stuck_seconds: float) -> None:
        self.hub = hub
        self.catalog = catalog
        self.stuck_seconds = stuck_seconds

    async def serve(self, stream: Any) -> None:
        request = await stream.recv_message()
        if request is None:
            raise InvalidArgument("a StreamPricesRequest is required")
        plan = plan_stream(await self.catalog.current(), request.symbols,
                           request.interval_seconds)
        await run_stream(self.hub, plan, lambda payload: send_whole(stream, payload),
                         stuck_seconds=self.stuck_seconds)


async def send_whole(stream: Any, payload: bytes) -> None:
    """Sends a message only once HTTP/2 flow control lets all of it through. grpclib would
    write as much as the window allows and wait for the rest; a stream then ended for a stuck
    reader would leave a cut message before its status, which clients cannot read past.
    (Uses grpclib's stream internals, stable since 0.4.)"""
    h2_stream = stream._stream
    needed = len(payload) + 5  # the gRPC message prefix
    while h2_stream._h2_connection.local_flow_control_window(h2_stream.id) < needed:
        h2_stream.window_updated.clear()
        await h2_stream.window_updated.wait()
    await stream.send_message(payload)
