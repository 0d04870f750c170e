"""HTTP/2 limits per connection that protect the process without hurting real clients.

grpclib serves each connection with h2's defaults and no policy of its own: 100 concurrent
streams (gRPC clients multiplex far more; h2 kills the whole connection at the 101st), no
answer to rapid reset (CVE-2023-44487), no handshake or idle timeout, no keepalive
enforcement, and a protocol error closes the socket without sending the GOAWAY h2 prepared.
`LimitedServer` serves connections with `LimitedProtocol` instead:

- a stream over `max_concurrent_streams` is refused with RST_STREAM(REFUSED_STREAM) and the
  connection lives on (`LimitedH2Connection`);
- request metadata over `max_header_list_bytes` gets RESOURCE_EXHAUSTED on its own stream;
  only past `HEADER_LIST_HARD_LIMIT` (an HPACK bomb) is the connection closed, with a GOAWAY;
- more than `max_resets` client resets within `reset_window_seconds`: GOAWAY
  ENHANCE_YOUR_CALM and close;
- no client preface within `handshake_timeout_seconds` of the TCP accept, the TLS handshake
  included (asyncio's own TLS handshake timeout is a minute): closed; no stream open for
  `idle_timeout_seconds`: GOAWAY NO_ERROR and closed;
- client pings are answered (h2 does) and counted as gRPC's keepalive policy says (grpc-go's
  rule): a ping sooner than `min_ping_interval_seconds` after the previous one (two hours
  when no stream is open, unless `permit_pings_without_calls`) is a strike unless the server
  sent data since; the third strike is GOAWAY ENHANCE_YOUR_CALM "too_many_pings";
- every connection error is sent as a GOAWAY carrying its reason before the socket closes;
- a connection accepted while the process holds `max_connections` gets a GOAWAY
  ENHANCE_YOUR_CALM "too_many_connections" and is closed (`RefusedProtocol`; counted by
  `connection_cap.ConnectionCount`).

This reaches into grpclib's protocol (its `connection_made` is rebuilt here with our h2
connection) and h2's header handling, so both are checked at import against what is written
here (`_check_libraries`), and their versions are capped in pyproject.toml.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass
from ssl import SSLContext
from typing import Any, Callable, cast

from grpclib.const import Status
from grpclib.metadata import encode_grpc_message
from grpclib.protocol import Connection, EventsProcessor, H2Protocol, _set_nodelay
from grpclib.server import Handler, Server
from h2.config import H2Configuration
from h2.connection import ConnectionInputs, H2Connection, _decode_headers
from h2.errors import ErrorCodes
from h2.events import (Event, PingReceived, RemoteSettingsChanged, RequestReceived,
                       StreamReset)
from h2.exceptions import ProtocolError, TooManyStreamsError
from h2.settings import SettingCodes
from h2.stream import StreamClosedBy
from hyperframe.frame import Frame, GoAwayFrame, HeadersFrame, RstStreamFrame

from ..db.internals import expect
from ..telemetry.metrics import Metrics
from .connection_cap import ConnectionCount

log = logging.getLogger("crypto_service.http2")

# Past this decoded size HPACK stops decoding (its state is then lost, so the connection
# ends with a GOAWAY). Below it, metadata over the configured limit is refused per stream.
# It also bounds what one header block can make the process hold.
HEADER_LIST_HARD_LIMIT = 2 * 1024 * 1024
# h2 buffers at most 64 CONTINUATION frames of a header block, so at 16 KiB frames a client's
# 1 MiB of metadata could not even reach the limit check; 64 KiB frames let 4 MiB through.
MAX_INBOUND_FRAME_SIZE = 64 * 1024
# gRPC's keepalive enforcement (grpc-go `maxPingStrikes`, `defaultPingTimeout`).
MAX_PING_STRIKES = 2
PING_INTERVAL_WITHOUT_CALLS = 2 * 60 * 60.0
# After a GOAWAY, what the client still sends is read and dropped for up to this long before
# the socket closes: closing with unread data makes the kernel send a reset, and the client's
# kernel then drops the GOAWAY before the client reads it.
LINGER_SECONDS = 2.0
# RFC 9113 section 4.3.1: each header field counts its name, its value and 32 bytes.
HEADER_FIELD_OVERHEAD = 32
# To a connection over the cap: a GOAWAY in place of the server preface (SETTINGS). gRPC
# clients then count the connection as failed: the call fails at once with UNAVAILABLE (which
# they retry) and they reconnect with their connect backoff, or to another address. After a
# SETTINGS the connection would count as made: grpc C-core then reconnects at once, again
# and again, and the call waits for a connection until its deadline.
REFUSAL = GoAwayFrame(0, last_stream_id=0, error_code=ErrorCodes.ENHANCE_YOUR_CALM,
                      additional_data=b"too_many_connections").serialize()


@dataclass(frozen=True)
class Http2Limits:
    """The limits, from the settings (which hold their defaults and ranges)."""

    max_connections: int
    max_concurrent_streams: int
    max_header_list_bytes: int
    max_resets: int
    reset_window_seconds: float
    handshake_timeout_seconds: float
    idle_timeout_seconds: float
    min_ping_interval_seconds: float
    permit_pings_without_calls: bool

    @classmethod
    def from_settings(cls, settings: Any) -> Http2Limits:
        return cls(max_connections=settings.max_connections,
                   max_concurrent_streams=settings.http2_max_concurrent_streams,
                   max_header_list_bytes=settings.http2_max_header_list_bytes,
                   max_resets=settings.http2_max_resets,
                   reset_window_seconds=settings.http2_reset_window_seconds,
                   handshake_timeout_seconds=settings.http2_handshake_timeout_seconds,
                   idle_timeout_seconds=settings.http2_idle_timeout_seconds,
                   min_ping_interval_seconds=settings.keepalive_min_ping_interval_seconds,
                   permit_pings_without_calls=settings.keepalive_permit_without_calls)


class LimitedH2Connection(H2Connection):
    """h2's server connection advertising our limits, refusing a stream over the stream limit
    with REFUSED_STREAM where h2 would end the connection, and refusing a request whose
    header fields are not ASCII on its stream where h2 would raise out of `receive_data`."""

    def __init__(self, config: H2Configuration, *, max_concurrent_streams: int) -> None:
        super().__init__(config)
        # Effective at once and sent in the first SETTINGS: clients open streams before they
        # acknowledge it, and h2 applies changes only on acknowledgement.
        self.local_settings[SettingCodes.MAX_CONCURRENT_STREAMS] = max_concurrent_streams
        self.local_settings[SettingCodes.MAX_HEADER_LIST_SIZE] = HEADER_LIST_HARD_LIMIT
        self.local_settings[SettingCodes.MAX_FRAME_SIZE] = MAX_INBOUND_FRAME_SIZE
        self.local_settings.acknowledge()
        self.decoder.max_header_list_size = HEADER_LIST_HARD_LIMIT
        self.max_inbound_frame_size = MAX_INBOUND_FRAME_SIZE

    def _receive_headers_frame(self, frame: HeadersFrame) -> tuple[list[Frame], list[Event]]:
        stream_id = frame.stream_id
        try:
            return super()._receive_headers_frame(frame)
        except TooManyStreamsError:
            # h2 checks the limit first, before it changes any state.
            return self._refuse(frame), []
        except UnicodeDecodeError:
            # HPACK decoded the block (its state is sound) and the stream is open: only this
            # request is malformed (RFC 9113 section 8.1.1).
            self.reset_stream(stream_id, ErrorCodes.PROTOCOL_ERROR)
            return [], []

    def _refuse(self, frame: HeadersFrame) -> list[Frame]:
        if frame.stream_id % 2 == 0 or frame.stream_id <= self.highest_inbound_stream_id:
            raise ProtocolError("invalid stream id for a new stream")
        # The block is decoded all the same: HPACK's table is shared by every stream.
        _decode_headers(self.decoder, frame.data)
        self.state_machine.process_input(ConnectionInputs.RECV_HEADERS)
        self.highest_inbound_stream_id = frame.stream_id
        # Later frames of this stream are then answered as h2 answers those of a reset one.
        self._closed_streams[frame.stream_id] = StreamClosedBy.SEND_RST_STREAM
        refusal = RstStreamFrame(frame.stream_id)
        refusal.error_code = ErrorCodes.REFUSED_STREAM
        return [refusal]


class _TrackingProcessor(EventsProcessor):
    """grpclib's event processor, telling the protocol when its last stream is released, and
    releasing a stream whose handler was cancelled before it started: grpclib releases in the
    handler's `finally`, which such a task never runs (a reset read together with its
    request), so the stream and what it holds stayed until the connection was collected."""

    def __init__(self, handler: Any, connection: Connection,
                 on_idle: Callable[[], None]) -> None:
        super().__init__(handler, connection)
        self._on_idle = on_idle

    def register(self, stream: Any) -> Callable[[], None]:
        release = super().register(stream)
        released = False

        def release_once() -> None:
            nonlocal released
            if not released:
                released = True
                release()
                if not self.streams:
                    self._on_idle()

        return release_once

    def process_request_received(self, event: RequestReceived) -> None:
        stream = self.connection.create_stream(stream_id=event.stream_id)
        release = self.register(stream)
        self.handler.accept(stream, event.headers, release)
        self.handler._tasks[stream].add_done_callback(lambda _: release())


class LimitedProtocol(H2Protocol):
    def __init__(self, handler: Any, config: Any, h2_config: H2Configuration,
                 limits: Http2Limits, on_made: Callable[[Any], None],
                 on_lost: Callable[[Any], None], on_end: Callable[[], None]) -> None:
        super().__init__(handler, config, h2_config)
        self.limits = limits
        self._on_made = on_made
        self._on_lost = on_lost
        self._on_end = on_end  # once the connection holds no descriptor; may be called again
        # Made at the TCP accept (over TLS too: connection_made waits for the TLS handshake),
        # so the preface's deadline counts from there.
        self._loop = asyncio.get_running_loop()
        self._handshake_timer: asyncio.TimerHandle | None = self._loop.call_later(
            limits.handshake_timeout_seconds, self._handshake_expired)
        self._transport: Any = None
        self._closed = False
        self._resets = 0
        self._reset_window_ends = 0.0
        self._ping_strikes = 0
        self._last_ping_at: float | None = None
        self._data_sent_at_last_ping: float | None = None
        self._idle_since: float | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self._lingering: socket.socket | None = None

    def connection_made(self, transport: Any) -> None:
        # grpclib's own connection_made with our h2 connection and timers.
        sock = transport.get_extra_info("socket")
        if sock is not None:
            _set_nodelay(sock)
        self._h2 = LimitedH2Connection(
            self.h2_config, max_concurrent_streams=self.limits.max_concurrent_streams)
        self._h2.initiate_connection()
        self._transport = transport
        initial = self._h2.local_settings.initial_window_size
        conn_delta = self.config.http2_connection_window_size - initial
        if conn_delta:
            self._h2.increment_flow_control_window(conn_delta)
        if self.config.http2_stream_window_size != initial:
            self._h2.update_settings({
                SettingCodes.INITIAL_WINDOW_SIZE: self.config.http2_stream_window_size})
        self.connection = Connection(self._h2, cast(asyncio.Transport, transport),
                                     config=self.config)
        self.connection.flush()
        self.connection.initialize()
        self.processor = _TrackingProcessor(self.handler, self.connection, self._became_idle)

        self._on_made(self.handler)
        if self._handshake_timer is None:  # the deadline passed while TLS was shaking hands
            self._handshake_expired()
            return
        self._idle_since = self._loop.time()
        self._idle_timer = self._loop.call_later(self.limits.idle_timeout_seconds,
                                                 self._check_idle)

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        try:
            events = self.connection.feed(data)
        except ProtocolError as exc:
            # h2 has queued a GOAWAY without the reason; send one with it.
            self._h2.data_to_send()
            self._close_with(GoAwayFrame(
                0, last_stream_id=self._h2.highest_inbound_stream_id,
                error_code=exc.error_code, additional_data=str(exc).encode()[:256]
            ).serialize(), f"protocol error: {exc}")
            return
        self.connection.flush()
        for event in events:
            if self._closed:
                return
            if self._admit(event):
                self.processor.process(event)
        self.connection.flush()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._stop_timers()
        super().connection_lost(exc)
        self._on_lost(self.handler)
        self._on_end()
        # The transport has sent everything it had, the GOAWAY last.
        _start_linger(self._lingering)
        self._lingering = None

    # What grpclib is not told about, and the policies.

    def _admit(self, event: Event) -> bool:
        """Whether grpclib should see the event; applies the limits on the way."""
        if isinstance(event, RequestReceived):
            return self._admit_request(event)
        if isinstance(event, StreamReset):
            if event.remote_reset:
                self._count_reset()
        elif isinstance(event, PingReceived):
            self._check_ping()
        elif isinstance(event, RemoteSettingsChanged) and self._handshake_timer is not None:
            self._handshake_timer.cancel()  # the preface and first SETTINGS arrived
            self._handshake_timer = None
        return not self._closed

    def _admit_request(self, event: RequestReceived) -> bool:
        stream_id = cast(int, event.stream_id)
        headers = cast(list, event.headers)
        names = {name for name, _ in headers}
        if ":method" not in names or ":path" not in names:
            self._h2.reset_stream(stream_id, ErrorCodes.PROTOCOL_ERROR)
            return False
        size = sum(len(name) + len(value) + HEADER_FIELD_OVERHEAD for name, value in headers)
        if size > self.limits.max_header_list_bytes:
            self._answer(event, Status.RESOURCE_EXHAUSTED,
                         f"request metadata of {size} bytes exceeds the limit of "
                         f"{self.limits.max_header_list_bytes} bytes")
            return False
        self._idle_since = None
        return True

    def _answer(self, event: RequestReceived, status: Status, message: str) -> None:
        """A trailers-only gRPC response on the event's stream, without a handler."""
        stream_id = cast(int, event.stream_id)
        self._h2.send_headers(stream_id, [
            (":status", "200"), ("content-type", "application/grpc"),
            ("grpc-status", str(status.value)), ("grpc-message", encode_grpc_message(message)),
        ], end_stream=True)
        stream = self._h2.streams.get(stream_id)
        if stream is not None and not stream.closed:  # the client may still be sending
            self._h2.reset_stream(stream_id, ErrorCodes.NO_ERROR)

    def _count_reset(self) -> None:
        now = self._loop.time()
        if now >= self._reset_window_ends:
            self._reset_window_ends = now + self.limits.reset_window_seconds
            self._resets = 0
        self._resets += 1
        if self._resets > self.limits.max_resets:
            self._goaway(ErrorCodes.ENHANCE_YOUR_CALM, "too_many_resets")

    def _check_ping(self) -> None:
        now = self._loop.time()
        previous, self._last_ping_at = self._last_ping_at, now
        sent = self.connection.last_data_sent
        if sent != self._data_sent_at_last_ping:  # the server sent data since: strikes reset
            self._data_sent_at_last_ping = sent
            self._ping_strikes = 0
            return
        if previous is None:
            return
        calls = bool(self.processor.streams) or self.limits.permit_pings_without_calls
        allowed = self.limits.min_ping_interval_seconds if calls else PING_INTERVAL_WITHOUT_CALLS
        if now - previous < allowed:
            self._ping_strikes += 1
            if self._ping_strikes > MAX_PING_STRIKES:
                self._goaway(ErrorCodes.ENHANCE_YOUR_CALM, "too_many_pings")

    def _became_idle(self) -> None:
        if not self._closed:
            self._idle_since = self._loop.time()

    def _check_idle(self) -> None:
        now = self._loop.time()
        since = self._idle_since
        if since is not None and now - since >= self.limits.idle_timeout_seconds:
            self._idle_timer = None
            self._goaway(ErrorCodes.NO_ERROR, "idle")
            return
        self._idle_timer = self._loop.call_at(
            (now if since is None else since) + self.limits.idle_timeout_seconds,
            self._check_idle)

    def _handshake_expired(self) -> None:
        self._handshake_timer = None
        if self._transport is None:
            # Over TLS, a handshake that fails or times out (asyncio's `ssl_handshake_timeout`
            # is this deadline) ends the connection without `connection_made` or
            # `connection_lost`: this is the last the protocol hears of it.
            self._on_end()
            return
        self._close_with(b"", "no HTTP/2 preface")

    def _goaway(self, error_code: ErrorCodes, reason: str) -> None:
        log.info("closing HTTP/2 connection from %s: %s",
                 self._transport.get_extra_info("peername"), reason)
        try:
            self._h2.close_connection(error_code, additional_data=reason.encode())
        except ProtocolError:  # h2 has closed it already
            pass
        self._close_with(self._h2.data_to_send(), reason)

    def _close_with(self, last_bytes: bytes, reason: str) -> None:
        """Sends `last_bytes` (a GOAWAY), then closes the socket and every stream on it."""
        self._closed = True
        self._stop_timers()
        if last_bytes and not self._transport.is_closing():
            self._transport.write(last_bytes)
            self._lingering = _second_descriptor(self._transport)
        self.processor.close(reason)

    def _stop_timers(self) -> None:
        for timer in (self._handshake_timer, self._idle_timer):
            if timer is not None:
                timer.cancel()
        self._handshake_timer = self._idle_timer = None


def _second_descriptor(transport: Any) -> socket.socket | None:
    """The connection's socket on a descriptor of its own, which keeps the TCP connection open
    when the transport closes its descriptor."""
    sock = transport.get_extra_info("socket")
    if sock is None:
        return None
    copy = socket.socket(fileno=os.dup(sock.fileno()))
    copy.setblocking(False)
    return copy


def _start_linger(sock: socket.socket | None) -> None:
    if sock is not None:
        asyncio.ensure_future(_linger(sock))


async def _linger(sock: socket.socket) -> None:
    """Ends our side (FIN after the GOAWAY), then reads and drops what the client still sends
    until it closes or LINGER_SECONDS pass, and closes."""
    loop = asyncio.get_running_loop()
    try:
        sock.shutdown(socket.SHUT_WR)
        async with asyncio.timeout(LINGER_SECONDS):
            while await loop.sock_recv(sock, 65536):
                pass
    except (OSError, TimeoutError):
        pass
    finally:
        sock.close()


class LimitedServer(Server):
    """grpclib's Server, serving every connection with `LimitedProtocol`, and letting go of a
    closed connection's handler as soon as its calls are over. grpclib keeps it, with its
    finished tasks, until ten more connections have come: a task cancelled by a reset holds
    its frames (the request, the stream, h2's state) through its exception, about 10 KB a
    reset stream, and a rapid-reset client opens a connection after every GOAWAY.

    A handler is kept only once its connection is made: over TLS, a connection whose
    handshake fails or times out is never made (nor lost) for its protocol, and grpclib, which
    keeps the handler from the TCP accept, kept it for the server's life.

    `start` bounds the TLS handshake by the handshake timeout; grpclib's passes no
    `ssl_handshake_timeout`, so asyncio's default of a minute applied.

    `connections` counts the connections open from their accept; one accepted while
    `max_connections` are open is refused (`RefusedProtocol`)."""

    def __init__(self, handlers: Any, *, limits: Http2Limits, metrics: Metrics | None = None,
                 **kwargs: Any) -> None:
        super().__init__(handlers, **kwargs)
        self.limits = limits
        self.connections = ConnectionCount(limits.max_connections, metrics)
        self._releasing: set[asyncio.Task] = set()

    def _protocol_factory(self) -> H2Protocol | RefusedProtocol:  # type: ignore[override]
        release = self.connections.admit()
        if release is None:
            return RefusedProtocol()
        plain = super()._protocol_factory()
        self._handlers.discard(plain.handler)
        return LimitedProtocol(plain.handler, plain.config, plain.h2_config, self.limits,
                               on_made=self._keep, on_lost=self._release, on_end=release)

    async def start(  # type: ignore[override]  # TCP only: what the service listens on
            self, host: str | None = None, port: int = 0, *, ssl: SSLContext | None = None,
            reuse_address: bool | None = None, reuse_port: bool | None = None) -> None:
        """grpclib's `start` on TCP, with `ssl_handshake_timeout`."""
        if self._server is not None:
            raise RuntimeError("Server is already started")
        self._server = await self._loop.create_server(
            self._protocol_factory, host, port, ssl=ssl, reuse_address=reuse_address,
            reuse_port=reuse_port,
            ssl_handshake_timeout=self.limits.handshake_timeout_seconds if ssl else None)
        self._server_closed_fut = self._loop.create_future()

    def _keep(self, handler: Any) -> None:
        self._handlers.add(handler)

    def _release(self, handler: Any) -> None:
        async def release() -> None:
            await handler.wait_closed()
            handler.__gc_collect__()  # drops its finished tasks
            self._handlers.discard(handler)

        task = asyncio.ensure_future(release())
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)


class RefusedProtocol(asyncio.Protocol):
    """A connection over the cap: no h2 connection nor handler, only `REFUSAL` and the close,
    lingering as `LimitedProtocol`'s does so that the client reads the GOAWAY. Over TLS this
    comes after the handshake (asyncio tells the protocol nothing before), which the handshake
    timeout bounds."""

    _lingering: socket.socket | None = None

    def connection_made(self, transport: Any) -> None:
        transport.write(REFUSAL)
        self._lingering = _second_descriptor(transport)
        transport.close()

    def data_received(self, data: bytes) -> None:
        pass  # the client's preface and requests, read to be dropped

    def connection_lost(self, exc: BaseException | None) -> None:
        _start_linger(self._lingering)
        self._lingering = None


def _check_libraries() -> None:
    """Fails the import unless grpclib and h2 are built as this module expects."""
    rebuilt = {"_set_nodelay", "H2Connection", "initiate_connection",
               "increment_flow_control_window", "update_settings", "Connection", "flush",
               "initialize", "EventsProcessor"}
    names = set(H2Protocol.connection_made.__code__.co_names)
    expect(rebuilt <= names
           and {"feed", "process"} <= set(H2Protocol.data_received.__code__.co_names)
           and all(hasattr(cls, name) for cls, name in [
               (Server, "_protocol_factory"), (Handler, "__gc_collect__"),
               (Handler, "wait_closed")])
           and "_handlers" in Server.__init__.__code__.co_names
           and "_handlers" in Server._protocol_factory.__code__.co_names
           and {"_loop", "_server", "_server_closed_fut"} <= set(Server.start.__code__.co_names)
           and "_tasks" in Handler.__init__.__code__.co_names
           and "register" in EventsProcessor.process_request_received.__code__.co_names,
           "grpclib", "H2Protocol, Server or Handler, which server/http2.py rebuilds")
    expect(_refusal_keeps_the_connection(), "h2",
           "header handling: a refused stream must keep the connection (server/http2.py)")


def _refusal_keeps_the_connection() -> bool:
    """With a limit of one stream: the second is refused, the connection and its HPACK state
    stay sound (the third, whose headers refer to the refused one's, is served)."""
    try:
        client = H2Connection(H2Configuration(client_side=True))
        server = LimitedH2Connection(H2Configuration(client_side=False, header_encoding="ascii"),
                                     max_concurrent_streams=1)
        client.initiate_connection()
        server.initiate_connection()
        server.receive_data(client.data_to_send())
        client.receive_data(server.data_to_send())
        client.remote_settings[SettingCodes.MAX_CONCURRENT_STREAMS] = 10
        client.remote_settings.acknowledge()
        request = [(":method", "POST"), (":path", "/p"), (":scheme", "http"),
                   (":authority", "a")]
        received = []
        for stream_id in (1, 3):
            client.send_headers(stream_id, request + [("x-key", f"value-{stream_id}")])
            received += server.receive_data(client.data_to_send())
        refused = [e for e in client.receive_data(server.data_to_send())
                   if isinstance(e, StreamReset)]
        client.end_stream(1)
        server.receive_data(client.data_to_send())
        server.send_headers(1, [(":status", "200")], end_stream=True)
        client.receive_data(server.data_to_send())
        client.send_headers(5, request + [("x-key", "value-3")], end_stream=True)
        received += server.receive_data(client.data_to_send())
        requests = [e for e in received if isinstance(e, RequestReceived)]
        return ([r.stream_id for r in requests] == [1, 5]
                and ("x-key", "value-3") in requests[1].headers
                and [(e.stream_id, e.error_code) for e in refused]
                == [(3, ErrorCodes.REFUSED_STREAM)])
    except Exception:
        log.exception("h2 self-check")
        return False


_check_libraries()
