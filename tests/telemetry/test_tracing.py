"""Traces: a call carrying a W3C `traceparent` becomes a server span of that trace, with the
RPC semantic-convention attributes and the right status; ledger writes are its children; the
access log names the trace. And `crypto serve` exports them over OTLP when the standard
variables say so."""

from __future__ import annotations

import asyncio
import logging
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from grpclib.client import Channel
from grpclib.exceptions import GRPCError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from crypto_service.generated import crypto as pb
from crypto_service.server.app import build_app
from crypto_service.telemetry.tracing import CallTracer, tracing_from_environment
from tests.conftest import make_coin
from tests.server.test_process import free_port, run_cli
from tests.telemetry.test_served_metrics import (
    SQLITE_ONLY,
    get_coins,
    start_serving,
    stop,
)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"


@pytest.fixture
def spans():
    return InMemorySpanExporter()


@pytest.fixture
async def served(db, spans):
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    app = build_app(db, CallTracer(provider))
    await app.server.start("127.0.0.1", 0)
    channel = Channel("127.0.0.1", app.server._server.sockets[0].getsockname()[1])
    try:
        yield app, pb.CryptoServiceStub(channel)
    finally:
        channel.close()
        app.server.close()
        await app.server.wait_closed()
        provider.shutdown()


async def test_a_call_with_a_traceparent_is_a_server_span_of_that_trace(served, spans, caplog):
    _, stub = served
    await make_coin("BTC", rank=1)
    caplog.set_level(logging.INFO, logger="crypto_service.access")
    await stub.get_coin(pb.GetCoinRequest(symbol="BTC"), metadata={"traceparent": TRACEPARENT})

    (span,) = spans.get_finished_spans()
    assert span.name == "crypto.CryptoService/GetCoin" and span.kind is SpanKind.SERVER
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert format(span.parent.span_id, "016x") == PARENT_SPAN_ID and span.parent.is_remote
    assert span.attributes["rpc.system"] == "grpc"
    assert span.attributes["rpc.service"] == "crypto.CryptoService"
    assert span.attributes["rpc.method"] == "GetCoin"
    assert span.attributes["rpc.grpc.status_code"] == 0
    assert span.attributes["network.peer.address"] == "127.0.0.1"
    assert span.status.status_code is StatusCode.UNSET
    (record,) = [r for r in caplog.records if r.name == "crypto_service.access"]
    assert record.trace_id == TRACE_ID and record.getMessage().endswith(f"trace_id={TRACE_ID}")


async def test_statuses_follow_the_semantic_conventions_for_servers(served, spans):
    app, stub = served
    with pytest.raises(GRPCError):
        await stub.get_coin(pb.GetCoinRequest(symbol="NOPE"))  # the caller's problem
    app.guard.draining = True  # the server's: refused while it shuts down
    with pytest.raises(GRPCError):
        await stub.get_coin(pb.GetCoinRequest(symbol="BTC"))
    not_found, unavailable = spans.get_finished_spans()
    assert not_found.attributes["rpc.grpc.status_code"] == 5
    assert not_found.status.status_code is StatusCode.UNSET
    assert not_found.parent is None  # no traceparent: a trace of its own
    assert unavailable.attributes["rpc.grpc.status_code"] == 14
    assert unavailable.status.status_code is StatusCode.ERROR
    assert unavailable.status.description == "server is shutting down"


async def test_ledger_writes_are_child_spans_of_their_call(served, spans):
    _, stub = served
    await make_coin("BTC", rank=1, current_price_usd=Decimal("50000"))
    await stub.deposit(pb.DepositRequest(user_id=1, symbol="BTC", amount="1"),
                       metadata={"traceparent": TRACEPARENT})
    with pytest.raises(GRPCError):
        await stub.withdraw(pb.WithdrawRequest(user_id=1, symbol="BTC", amount="2",
                                               destination_address="bc1-away"),
                            metadata={"traceparent": TRACEPARENT})
    finished = spans.get_finished_spans()
    by_name = {s.name: s for s in finished}
    deposit, ledger = by_name["crypto.CryptoService/Deposit"], by_name["ledger deposit"]
    assert ledger.parent.span_id == deposit.context.span_id
    assert ledger.context.trace_id == deposit.context.trace_id == int(TRACE_ID, 16)
    assert ledger.attributes["ledger.outcome"] == "posted"
    assert by_name["ledger withdraw"].attributes["ledger.outcome"] == "refused"
    assert by_name["crypto.CryptoService/Withdraw"].attributes["rpc.grpc.status_code"] == 9


def test_no_otel_variables_no_tracing():
    assert tracing_from_environment({}) is None
    assert tracing_from_environment({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318",
                                     "OTEL_SDK_DISABLED": "true"}) is None


class Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP trace receiver: what `crypto serve` exports, decoded."""

    received: ClassVar[list[ExportTraceServiceRequest]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.received.append(request)
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@SQLITE_ONLY
def test_crypto_serve_exports_its_spans_over_otlp(env):
    assert run_cli("seed", env=env).returncode == 0
    Collector.received.clear()
    collector = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    env = {**env, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.server_port}",
           "OTEL_SERVICE_NAME": "crypto-under-test"}
    port = free_port()
    server = start_serving(env, "--port", str(port))
    try:
        asyncio.run(get_coins(port, ["BTC"], metadata={"traceparent": TRACEPARENT}))
    finally:
        stop(server)  # the spans still buffered are exported on the way out
        collector.shutdown()
    spans = [(resource.resource, span) for request in Collector.received
             for resource in request.resource_spans
             for scope in resource.scope_spans for span in scope.spans]
    (resource, span), = [(r, s) for r, s in spans if s.name == "crypto.CryptoService/GetCoin"]
    assert span.trace_id.hex() == TRACE_ID and span.parent_span_id.hex() == PARENT_SPAN_ID
    names = {a.key: a.value.string_value for a in resource.attributes}
    assert names["service.name"] == "crypto-under-test"
