"""OpenTelemetry traces, an optional extra (`pip install 'crypto-service[otel]'`).

Tracing is on when the standard variables ask for it: `OTEL_EXPORTER_OTLP_ENDPOINT` (or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), or `OTEL_TRACES_EXPORTER` (`otlp`, `console`, `none`);
`OTEL_SDK_DISABLED=true` turns it off. The OTLP exporter speaks `http/protobuf` (the
specification's default) unless `OTEL_EXPORTER_OTLP_PROTOCOL` says `grpc`, and reads its own
variables (endpoint, headers, timeout). `OTEL_SERVICE_NAME` defaults to `crypto-service`.

Each RPC is a server span named after its method (`crypto.CryptoService/GetCoin`) with the RPC
semantic-convention attributes; the caller's W3C `traceparent` metadata is its parent (through
the propagators of `OTEL_PROPAGATORS`, W3C trace context and baggage by default). Ledger
writes are child spans of their RPC's span.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from typing import Any, Mapping

from grpclib.const import Status

try:
    from opentelemetry import propagate, trace
    from opentelemetry.trace import SpanKind, StatusCode
except ImportError:  # the extra is not installed: tracing_from_environment says so if asked
    trace = None  # type: ignore[assignment]

INSTRUMENTATION = "crypto_service"
DEFAULT_SERVICE_NAME = "crypto-service"
# The semantic conventions' rule for gRPC server spans: only these codes are the server's error.
SERVER_ERRORS = frozenset({Status.UNKNOWN, Status.DEADLINE_EXCEEDED, Status.UNIMPLEMENTED,
                           Status.INTERNAL, Status.UNAVAILABLE, Status.DATA_LOSS})


class TracingUnavailable(RuntimeError):
    pass


class CallTracer:
    """Starts and ends the spans of calls and of ledger writes on one tracer provider."""

    def __init__(self, provider: Any) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer(INSTRUMENTATION)

    def start_call(self, path: str, metadata: Mapping[str, str] | None,
                   peer: tuple[str, int] | None) -> Any:
        service, _, method = path.lstrip("/").rpartition("/")
        attributes: dict[str, Any] = {"rpc.system": "grpc", "rpc.service": service,
                                      "rpc.method": method}
        if peer:
            attributes["network.peer.address"] = peer[0]
            attributes["network.peer.port"] = peer[1]
        parent = propagate.extract(metadata or {})
        return self.tracer.start_span(path.lstrip("/"), context=parent, kind=SpanKind.SERVER,
                                      attributes=attributes)

    @staticmethod
    def active(span: Any) -> AbstractContextManager[Any]:
        """Makes `span` the current one, so spans started inside the call are its children."""
        return trace.use_span(span, end_on_exit=False, record_exception=False,
                              set_status_on_exception=False)

    @staticmethod
    def end_call(span: Any, status: Status, message: str | None) -> None:
        span.set_attribute("rpc.grpc.status_code", status.value)
        if status in SERVER_ERRORS:
            span.set_status(StatusCode.ERROR, message or status.name)
        span.end()

    @staticmethod
    def trace_id(span: Any) -> str:
        return format(span.get_span_context().trace_id, "032x")

    def child(self, name: str, attributes: dict[str, Any]) -> AbstractContextManager[Any]:
        return self.tracer.start_as_current_span(name, kind=SpanKind.INTERNAL,
                                                 attributes=attributes, record_exception=False,
                                                 set_status_on_exception=False)

    def shutdown(self) -> None:
        """Exports what is still buffered."""
        self.provider.shutdown()


def _enabled(environ: Mapping[str, str]) -> bool:
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(environ.get(name) for name in ("OTEL_EXPORTER_OTLP_ENDPOINT",
                                              "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                                              "OTEL_TRACES_EXPORTER"))


def _exporter(environ: Mapping[str, str]) -> Any:
    choice = environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower()
    if choice == "none":
        return None
    if choice == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if choice != "otlp":
        raise TracingUnavailable(f"OTEL_TRACES_EXPORTER={choice!r}: this service exports "
                                 "with otlp, console or none")
    protocol = (environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf").strip()
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter,
            )
        except ImportError:
            raise TracingUnavailable(
                "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs "
                "pip install opentelemetry-exporter-otlp-proto-grpc") from None
        return OTLPSpanExporter()
    if protocol != "http/protobuf":
        raise TracingUnavailable(f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: "
                                 "http/protobuf or grpc")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def check_environment(environ: Mapping[str, str] | None = None) -> None:
    """Raises TracingUnavailable when the OTEL_* variables ask for traces that this
    installation cannot make (checked before any worker starts)."""
    environ = os.environ if environ is None else environ
    if _enabled(environ) and trace is None:
        raise TracingUnavailable("OTEL_* variables ask for traces, but OpenTelemetry is not "
                                 "installed: pip install 'crypto-service[otel]'")


def tracing_from_environment(environ: Mapping[str, str] | None = None) -> CallTracer | None:
    """A tracer exporting as the OTEL_* variables say; None when they do not ask for traces."""
    environ = os.environ if environ is None else environ
    check_environment(environ)
    if not _enabled(environ):
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        raise TracingUnavailable("OTEL_* variables ask for traces, but the OpenTelemetry SDK "
                                 "is not installed: pip install 'crypto-service[otel]'") from None
    named = (environ.get("OTEL_SERVICE_NAME")
             or "service.name=" in environ.get("OTEL_RESOURCE_ATTRIBUTES", ""))
    resource = Resource.create({} if named else {"service.name": DEFAULT_SERVICE_NAME})
    provider = TracerProvider(resource=resource)
    exporter = _exporter(environ)
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    # Global as well, for any OpenTelemetry instrumentation a deployment adds (asyncpg, httpx).
    trace.set_tracer_provider(provider)
    return CallTracer(provider)
