"""A raw HTTP/2 client (the `h2` library over a TCP socket) that can misbehave on purpose."""

from __future__ import annotations

import asyncio
import struct
from typing import Callable, Iterable

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import (ConnectionTerminated, DataReceived, Event, ResponseReceived,
                       StreamEnded, StreamReset, TrailersReceived)
from h2.settings import SettingCodes

GRPC_HEADERS = [("content-type", "application/grpc"), ("te", "trailers")]


def request_headers(path: str, metadata: Iterable[tuple[str, str | bytes]] = ()) -> list:
    return [(":method", "POST"), (":scheme", "http"), (":path", path),
            (":authority", "test"), *GRPC_HEADERS, *metadata]


def framed(message: bytes) -> bytes:
    return struct.pack(">?I", False, len(message)) + message


class Closed(Exception):
    """The server closed the TCP connection."""


class RawClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.h2 = H2Connection(H2Configuration(client_side=True, header_encoding="utf-8",
                                               validate_outbound_headers=False,
                                               normalize_outbound_headers=False))
        self.events: list[Event] = []
        self.closed = False

    @classmethod
    async def connect(cls, port: int, *, preface: bool = True) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = cls(reader, writer)
        if preface:
            client.h2.initiate_connection()
            client.flush()
        return client

    def ignore_stream_limit(self) -> None:
        """Lets this client open streams past the server's advertised limit (h2 would stop
        it), to see what the server does about them."""
        self.h2.remote_settings[SettingCodes.MAX_CONCURRENT_STREAMS] = 2**31 - 1
        self.h2.remote_settings.acknowledge()

    def flush(self) -> None:
        data = self.h2.data_to_send()
        if data:
            self.writer.write(data)

    def start(self, path: str, metadata: Iterable = (), *, end: bool = False) -> int:
        stream_id = self.h2.get_next_available_stream_id()
        self.h2.send_headers(stream_id, request_headers(path, metadata), end_stream=end)
        self.flush()
        return stream_id

    def send(self, stream_id: int, message: bytes, *, end: bool = True) -> None:
        self.h2.send_data(stream_id, framed(message), end_stream=end)
        self.flush()

    def call(self, path: str, message: bytes, metadata: Iterable = ()) -> int:
        stream_id = self.start(path, metadata)
        self.send(stream_id, message)
        return stream_id

    async def until(self, found: Callable[[Event], bool], timeout: float = 10) -> Event:
        """The first event (seen already or arriving) that `found` accepts."""
        async def wait() -> Event:
            seen = 0
            while True:
                for event in self.events[seen:]:
                    if found(event):
                        return event
                seen = len(self.events)
                await self.read()

        return await asyncio.wait_for(wait(), timeout)

    async def read(self) -> None:
        data = await self.reader.read(65536)
        if not data:
            self.closed = True
            raise Closed
        events = self.h2.receive_data(data)
        for event in events:  # what was read makes room for more, as a real client's would
            if isinstance(event, DataReceived) and event.flow_controlled_length:
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        self.events += events
        self.flush()

    async def until_closed(self, timeout: float = 10) -> None:
        async def drain() -> None:
            try:
                while True:
                    await self.read()
            except (Closed, ConnectionResetError):
                self.closed = True

        await asyncio.wait_for(drain(), timeout)

    async def outcome(self, stream_id: int, timeout: float = 10) -> tuple[str, str]:
        """(grpc-status, grpc-message) of the stream, or ("RST", error code name)."""
        event = await self.until(lambda e: getattr(e, "stream_id", None) == stream_id and (
            isinstance(e, StreamReset) or (isinstance(e, (TrailersReceived, ResponseReceived))
                                           and any(n == "grpc-status" for n, _ in e.headers))),
                                 timeout)
        if isinstance(event, StreamReset):
            return "RST", event.error_code.name
        headers = dict(event.headers)
        return headers["grpc-status"], headers.get("grpc-message", "")

    def data_of(self, stream_id: int) -> bytes:
        return b"".join(e.data for e in self.events
                        if isinstance(e, DataReceived) and e.stream_id == stream_id)

    def goaway(self) -> ConnectionTerminated | None:
        return next((e for e in self.events if isinstance(e, ConnectionTerminated)), None)

    def ended(self, stream_id: int) -> bool:
        return any(isinstance(e, StreamEnded) and e.stream_id == stream_id for e in self.events)

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except OSError:
            pass
