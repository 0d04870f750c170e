"""Every call on the server seen once, around its handler: the status the client gets, the
duration, and what the access log, the gRPC metrics and the trace make of them.

One grpclib `RecvRequest` listener wraps each call's handler (every service: CryptoService,
health, reflection). Unary calls take their message counts from grpclib's own per-stream
counters once they end (`Stream._messages_received`, `_messages_sent`, checked below at
import); streaming calls count each message as it passes, so a stream open for hours shows
in the series while it runs. StreamPrices writes its updates past grpclib (server/prices.py):
those are counted where they are sent (server/price_metrics.py).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable

import grpclib.server
from grpclib.const import Cardinality, Handler, Status
from grpclib.events import RecvRequest, listen
from grpclib.exceptions import GRPCError
from grpclib.server import Server

from ..db.internals import expect
from ..telemetry.metrics import Metrics
from ..telemetry.pending import PendingCounts
from ..telemetry.tracing import CallTracer
from . import access_log


def _has_message_counters() -> bool:
    stream = grpclib.server.Stream
    return (getattr(stream, "_messages_received", None) == 0
            and getattr(stream, "_messages_sent", None) == 0
            and "self._messages_received += 1" in inspect.getsource(stream.recv_message)
            and "self._messages_sent += 1" in inspect.getsource(stream.send_message))


expect(_has_message_counters(), "grpclib", "the server Stream no longer counts its messages "
       "(_messages_received, _messages_sent), which server/calls.py reads")

GRPC_TYPES = {Cardinality.UNARY_UNARY: "unary", Cardinality.UNARY_STREAM: "server_stream",
              Cardinality.STREAM_UNARY: "client_stream",
              Cardinality.STREAM_STREAM: "bidi_stream"}
# Go's codes.Code names, which go-grpc-middleware puts in `grpc_code`.
GO_CODE_NAMES = {
    Status.OK: "OK", Status.CANCELLED: "Canceled", Status.UNKNOWN: "Unknown",
    Status.INVALID_ARGUMENT: "InvalidArgument", Status.DEADLINE_EXCEEDED: "DeadlineExceeded",
    Status.NOT_FOUND: "NotFound", Status.ALREADY_EXISTS: "AlreadyExists",
    Status.PERMISSION_DENIED: "PermissionDenied",
    Status.RESOURCE_EXHAUSTED: "ResourceExhausted",
    Status.FAILED_PRECONDITION: "FailedPrecondition", Status.ABORTED: "Aborted",
    Status.OUT_OF_RANGE: "OutOfRange", Status.UNIMPLEMENTED: "Unimplemented",
    Status.INTERNAL: "Internal", Status.UNAVAILABLE: "Unavailable",
    Status.DATA_LOSS: "DataLoss", Status.UNAUTHENTICATED: "Unauthenticated",
}

MethodFunc = Callable[[Any], Awaitable[None]]


@dataclass(slots=True)
class MethodSeries:
    """One method's children of the gRPC series, resolved once: a call only increments."""

    unary: bool
    pending: PendingCounts
    started: Any
    received: Any
    sent: Any
    handling: Any
    handled: dict[Status, Any]

    @classmethod
    def of(cls, metrics: Metrics, path: str, cardinality: Cardinality) -> MethodSeries:
        service, _, method = path.lstrip("/").rpartition("/")
        labels = (GRPC_TYPES[cardinality], service, method)
        # Every code up front, as go-grpc-middleware's InitializeMetrics does: dashboards and
        # alerts see zeros, not missing series.
        return cls(cardinality is Cardinality.UNARY_UNARY, metrics.pending,
                   metrics.grpc_started.labels(*labels),
                   metrics.grpc_msg_received.labels(*labels),
                   metrics.grpc_msg_sent.labels(*labels),
                   metrics.grpc_handling_seconds.labels(*labels),
                   {status: metrics.grpc_handled.labels(*labels, name)
                    for status, name in GO_CODE_NAMES.items()})

    def count_messages(self, stream: Any) -> None:
        """For streaming calls: each message counted as it is received or sent."""
        receive, send = stream.recv_message, stream.send_message

        async def recv_message() -> Any:
            message = await receive()
            if message is not None:
                self.pending.inc(self.received)
            return message

        async def send_message(message: Any) -> None:
            await send(message)
            self.pending.inc(self.sent)

        stream.recv_message, stream.send_message = recv_message, send_message

    def ended(self, stream: Any, status: Status, seconds: float) -> None:
        if self.unary:
            if stream._messages_received:
                self.pending.inc(self.received)
            if stream._messages_sent:
                self.pending.inc(self.sent)
        self.pending.inc(self.handled[status])
        self.pending.observe(self.handling, seconds)


def status_of(error: BaseException | None, stream: Any,
              unary: bool) -> tuple[Status, str | None]:
    """The status grpclib sends for a handler that ended so (or none, when it was cancelled:
    then what the client saw)."""
    if error is None:
        if unary and not stream._messages_sent:  # grpclib answers such a call with UNKNOWN
            return Status.UNKNOWN, "no response message"
        return Status.OK, None
    if isinstance(error, GRPCError):
        return error.status, error.message
    if isinstance(error, asyncio.CancelledError):
        expired = stream.deadline is not None and stream.deadline.time_remaining() <= 0
        return (Status.DEADLINE_EXCEEDED, None) if expired else (Status.CANCELLED, None)
    return Status.UNKNOWN, "Internal Server Error"


class CallObserver:
    def __init__(self, handlers: dict[str, Handler], metrics: Metrics | None,
                 tracer: CallTracer | None) -> None:
        self.tracer = tracer
        self.unary = {path: h.cardinality is Cardinality.UNARY_UNARY
                      for path, h in handlers.items()}
        self.series = ({path: MethodSeries.of(metrics, path, h.cardinality)
                        for path, h in handlers.items()} if metrics is not None else {})

    async def on_recv_request(self, event: RecvRequest) -> None:
        event.method_func = self.observed(event.method_name, event.method_func)

    def observed(self, path: str, method_func: MethodFunc) -> MethodFunc:
        series = self.series.get(path)
        unary = self.unary.get(path, True)
        tracer = self.tracer

        async def observed(stream: Any) -> None:
            started = time.perf_counter()
            if series is not None:
                series.pending.inc(series.started)
                if not series.unary:
                    series.count_messages(stream)
            span = None
            if tracer is not None:
                span = tracer.start_call(path, stream.metadata, _address(stream))
            # The outcome, not the exception: a kept exception would tie its frames up in a
            # reference cycle on every failed call.
            failed: tuple[Status, str | None] | None = None
            try:
                if span is None:
                    await method_func(stream)
                else:
                    with tracer.active(span):
                        await method_func(stream)
            except BaseException as exc:
                failed = status_of(exc, stream, unary)
                raise
            finally:
                seconds = time.perf_counter() - started
                status, message = failed or status_of(None, stream, unary)
                if series is not None:
                    series.ended(stream, status, seconds)
                trace_id = None
                if span is not None:
                    trace_id = tracer.trace_id(span)
                    tracer.end_call(span, status, message)
                access_log.log_call(path, status, seconds, stream, trace_id)

        return observed


def _address(stream: Any) -> tuple[str, int] | None:
    address = stream.peer.addr() if stream.peer is not None else None
    return (address[0], address[1]) if address else None


def handlers_of(services: Iterable[Any]) -> dict[str, Handler]:
    return {path: handler for service in services
            for path, handler in service.__mapping__().items()}


def observe_calls(server: Server, services: Iterable[Any], *, metrics: Metrics | None,
                  tracer: CallTracer | None) -> None:
    """Every call on `server` logged, and counted and traced when those are on."""
    observer = CallObserver(handlers_of(services), metrics, tracer)
    listen(server, RecvRequest, observer.on_recv_request)
