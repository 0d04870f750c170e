"""Every Prometheus series the service exports, on a registry of its own.

The gRPC series copy go-grpc-middleware's Prometheus interceptors (names, labels, Go's
CamelCase code names, Go's default histogram buckets), so Grafana dashboards made for Go
services read ours unchanged. The `crypto_*` series are the service's own.

With `crypto serve --workers N`, the parent points `PROMETHEUS_MULTIPROC_DIR` at a fresh
directory before it spawns the workers: prometheus-client then keeps every value in a per-process
file there, and a scrape of any worker sums the files of all of them (`MultiProcessCollector`).
"""

from __future__ import annotations

import os

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from .pending import PendingCounts

MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Go's prometheus.DefBuckets, which go-grpc-middleware's handling histogram uses.
GO_DEFAULT_BUCKETS = (.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10)
# Seconds from a quote's timestamp to its send: feeds tick every second or so; a stuck
# feed shows as minutes.
PRICE_LAG_BUCKETS = (.1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900)

GRPC_LABELS = ("grpc_type", "grpc_service", "grpc_method")
LEDGER_KINDS = ("deposit", "withdraw", "transfer")
LEDGER_OUTCOMES = ("posted", "replayed", "refused")


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROCESS_DIR_ENV) or None


class Metrics:
    """The series, registered on `registry`; `render` is what a scrape gets."""

    def __init__(self) -> None:
        # Go's client does not export `_created` series; neither do multiprocess values.
        prometheus_client.disable_created_metrics()
        self.registry = CollectorRegistry(auto_describe=True)
        # Counts made on the hot paths (every call, every price delivery) go through it.
        self.pending = PendingCounts()
        self.multiprocess = multiprocess_dir() is not None
        registry = self.registry
        self.grpc_started = Counter(
            "grpc_server_started_total", "Total number of RPCs started on the server.",
            GRPC_LABELS, registry=registry)
        self.grpc_handled = Counter(
            "grpc_server_handled_total",
            "Total number of RPCs completed on the server, regardless of success or failure.",
            (*GRPC_LABELS, "grpc_code"), registry=registry)
        self.grpc_msg_received = Counter(
            "grpc_server_msg_received_total",
            "Total number of RPC stream messages received on the server.",
            GRPC_LABELS, registry=registry)
        self.grpc_msg_sent = Counter(
            "grpc_server_msg_sent_total",
            "Total number of gRPC stream messages sent by the server.",
            GRPC_LABELS, registry=registry)
        self.grpc_handling_seconds = Histogram(
            "grpc_server_handling_seconds",
            "Histogram of response latency (seconds) of gRPC that had been application-level "
            "handled by the server.", GRPC_LABELS, buckets=GO_DEFAULT_BUCKETS, registry=registry)

        # livesum: with workers, the sum over the processes alive now.
        self.price_streams = Gauge(
            "crypto_price_streams", "StreamPrices calls open now.",
            multiprocess_mode="livesum", registry=registry)
        self.price_updates_sent = Counter(
            "crypto_price_updates_sent_total", "PriceUpdate messages sent to StreamPrices calls.",
            registry=registry)
        self.price_lag_seconds = Histogram(
            "crypto_price_lag_seconds",
            "Per delivery to a price stream: seconds from the timestamp of the oldest quote in "
            "it to its send.", buckets=PRICE_LAG_BUCKETS, registry=registry)
        self.ledger_transactions = Counter(
            "crypto_ledger_transactions_total",
            "Ledger writes by kind and outcome: posted (money moved), replayed (an "
            "idempotency key seen before; nothing moved), refused (the ledger said no).",
            ("kind", "outcome"), registry=registry)
        self.catalog_reload_seconds = Histogram(
            "crypto_catalog_reload_seconds",
            "Seconds to reload the coin catalog snapshot from the database.",
            buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5), registry=registry)
        self.db_pool_in_use = Gauge(
            "crypto_db_pool_in_use",
            "Database connections lent out now (SQLite: 1 while its connection is held).",
            multiprocess_mode="livesum", registry=registry)
        self.db_pool_max = Gauge(
            "crypto_db_pool_max", "Database connections the pool may open.",
            multiprocess_mode="livesum", registry=registry)
        self.connections_open = Gauge(
            "crypto_connections_open",
            "gRPC connections this server holds open, from the TCP accept (TLS handshakes "
            "included); summed over workers.", multiprocess_mode="livesum", registry=registry)
        self.connections_refused = Counter(
            "crypto_connections_refused_total",
            "Connections refused with GOAWAY too_many_connections: the process held "
            "CRYPTO_MAX_CONNECTIONS already.", registry=registry)

        for kind in LEDGER_KINDS:
            for outcome in LEDGER_OUTCOMES:
                self.ledger_transactions.labels(kind, outcome)
        self.exposed = self._exposed_registry()

    def _exposed_registry(self) -> CollectorRegistry:
        if not self.multiprocess:
            # The process's own CPU, memory, file descriptors and GC, as any Python exporter.
            prometheus_client.ProcessCollector(registry=self.registry)
            prometheus_client.PlatformCollector(registry=self.registry)
            prometheus_client.GCCollector(registry=self.registry)
            return self.registry
        # Per-process collectors would describe whichever worker took the scrape: left out.
        exposed = CollectorRegistry()
        MultiProcessCollector(exposed)
        return exposed

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The scrape's body and content type (OpenMetrics when the scraper asks for it)."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.exposed), content_type

    def ledger_outcome(self, kind: str, outcome: str) -> None:
        self.ledger_transactions.labels(kind, outcome).inc()
