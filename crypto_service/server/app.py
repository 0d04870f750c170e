"""Building and running the server: CryptoService, health, reflection, hooks, graceful drain."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass

from grpclib.health.check import ServiceStatus
from grpclib.health.service import OVERALL, Health
from grpclib.health.v1 import health_pb2
from grpclib.reflection.service import ServerReflection
from grpclib.server import Server

from ..auth import Authenticator
from ..db import connect, writes
from ..db.connect import redact
from ..domain import ledger
from ..domain.catalog import CatalogCache
from ..domain.prices.feeds import PriceFeeds
from ..domain.prices.hub import PriceHub
from ..generated.google_proto_descriptor_pool import default_google_proto_descriptor_pool
from ..settings import AuthMode, Settings
from ..telemetry.metrics import Metrics
from ..telemetry.tracing import CallTracer, check_environment, tracing_from_environment
from .calls import observe_calls
from .codec import RequestRequired, StrictCodec, install_message_size_limit
from .connection_cap import ensure_descriptors
from .gc_tuning import tune_for_serving
from .guard import CallGuard
from .http2 import Http2Limits, LimitedServer
from .ledger_outcomes import LedgerOutcomes
from .ops_http import MetricsPortUnavailable, OpsEndpoint
from .price_metrics import PriceStreamMetrics
from .prices import PriceStreams, framed_price_update
from .service import CryptoService
from .tls import ServerTLS
from .trailers_only import install_trailers_only_content_type

log = logging.getLogger("crypto_service.server")


class UnsafeSettings(RuntimeError):
    pass


@dataclass
class App:
    server: Server
    services: list
    codec: StrictCodec
    service: CryptoService
    guard: CallGuard
    serving: ServiceStatus
    feeds: PriceFeeds
    metrics: Metrics | None = None  # with a metrics port only
    tracer: CallTracer | None = None

    async def drain(self, grace_seconds: float) -> None:
        """Health NOT_SERVING, refuse new calls, end streams, let unary calls and ledger writes
        in flight finish within the grace period, then close (grpclib's close alone would
        cancel them). A call still running then ends with UNAVAILABLE, but its write (which
        no cancellation interrupts, db/writes.py) gets one more grace period before the
        database is closed under it (the database then rolls it back)."""
        self.serving.set(False)
        self.guard.draining = True
        await self.guard.abort_calls(streams_only=True)
        await self.feeds.stop()
        deadline = asyncio.get_running_loop().time() + grace_seconds
        if not await self.guard.wait_unary_calls(grace_seconds):
            log.warning("grace period of %.1fs over: ending the calls still running",
                        grace_seconds)
            await self.guard.abort_calls(streams_only=False)
            deadline = asyncio.get_running_loop().time() + grace_seconds
        remaining = max(deadline - asyncio.get_running_loop().time(), 0.0)
        if writes.in_flight() and not await writes.wait_in_flight(remaining):
            log.error("%d ledger writes still running after the grace period: closing the "
                      "database under them", writes.in_flight())
        self.server.close()
        await self.server.wait_closed()


PRICE_FEED_HEALTH = "crypto.CryptoService.StreamPrices"


class PriceFeedHealth:
    """The health check name of the price stream: grpclib names a check after the service in
    its object's `__mapping__`."""

    def __mapping__(self) -> dict[str, None]:
        return {f"/{PRICE_FEED_HEALTH}/": None}


def _reflection_pool():
    pool = default_google_proto_descriptor_pool
    try:
        pool.FindFileByName(health_pb2.DESCRIPTOR.name)
    except KeyError:
        pool.AddSerializedFile(health_pb2.DESCRIPTOR.serialized_pb)
    return pool


def build_app(settings: Settings, tracer: CallTracer | None = None) -> App:
    """The app; it counts for Prometheus when `settings.metrics_port` is set, and traces
    with `tracer`."""
    install_message_size_limit()
    install_trailers_only_content_type()
    ledger.configure(settings.ledger_batch_max)
    metrics = Metrics() if settings.metrics_port is not None else None
    authenticator = Authenticator.from_settings(settings)
    guard = CallGuard(authenticator, require_auth=settings.require_auth)
    catalog = CatalogCache(metrics.catalog_reload_seconds.observe if metrics else None)
    hub = PriceHub(encoder=framed_price_update, max_streams=settings.max_price_streams,
                   observer=PriceStreamMetrics(metrics) if metrics else None)
    service = CryptoService(catalog, guard,
                            PriceStreams(hub, catalog, settings.stream_stuck_seconds),
                            LedgerOutcomes(metrics, tracer))
    serving = ServiceStatus()
    serving.set(True)
    # Not serving until the relay has reached the database once, and again whenever it loses
    # it (another process's price writes do not reach this one's streams meanwhile).
    price_feed = ServiceStatus()
    health = Health({service: [serving], PriceFeedHealth(): [serving, price_feed],
                     OVERALL: [serving]})
    services = [RequestRequired(each) for each in
                ServerReflection.extend([service, health], pool=_reflection_pool())]
    codec = StrictCodec(settings.max_message_bytes)
    server = LimitedServer(services, codec=codec, limits=Http2Limits.from_settings(settings),
                           metrics=metrics)
    observe_calls(server, services, metrics=metrics, tracer=tracer)
    feeds = PriceFeeds(hub, catalog, settings, reachable=price_feed.set)
    return App(server, services, codec, service, guard, serving, feeds, metrics, tracer)


def check_settings(settings: Settings) -> None:
    if settings.require_auth is AuthMode.REQUIRED and not settings.jwt_secret:
        raise UnsafeSettings("CRYPTO_REQUIRE_AUTH=true needs CRYPTO_JWT_SECRET to verify tokens")
    check_environment()  # the OTEL_* variables


def log_security(settings: Settings, tls: ServerTLS | None) -> None:
    """What protects the wallets and the tokens, said once at start."""
    if settings.require_auth is AuthMode.OFF:
        log.warning("wallet RPCs are open to anyone without a token "
                    "(CRYPTO_REQUIRE_AUTH=false; set it to auto or true to protect them)")
    elif settings.require_auth is AuthMode.AUTO:
        log.info("wallet RPCs without a token are accepted from loopback peers only "
                 "(CRYPTO_REQUIRE_AUTH=auto)%s", "" if settings.jwt_secret else
                 "; no CRYPTO_JWT_SECRET, so calls from other hosts cannot use them")
    if tls is None and settings.jwt_secret and listen_host(settings.host) not in LOOPBACK_HOSTS:
        log.warning("bearer tokens travel in plaintext: serve with --tls-cert and --tls-key")


async def migrate_or_refuse(settings: Settings) -> None:
    """Migrates (when auto_migrate is on) or refuses to start on an un-migrated database
    (`DatabaseNotReady`, without creating anything)."""
    if not settings.auto_migrate:
        async with connect.database(settings, require_migrated=True):
            return
    pending = await connect.pending_migrations(settings)
    if pending:
        log.info("applying migrations: %s", ", ".join(pending))
        await connect.apply_migrations(settings)


async def serve(settings: Settings, *, reuse_port: bool = False) -> None:
    """Runs until SIGINT or SIGTERM, then drains and returns. With `reuse_port`, several
    processes listen on the same port and the kernel spreads connections among them."""
    check_settings(settings)
    ensure_descriptors(settings.max_connections, settings.db_pool_size)
    tls = ServerTLS.from_settings(settings)  # bad files stop the start here, before migrating
    await migrate_or_refuse(settings)
    tracer = tracing_from_environment()
    await connect.open_database(settings)
    ops = None
    try:
        app = build_app(settings, tracer)
        # Handlers first: a signal that comes once the port is open must drain, not kill.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, reload_tls, tls)
        await app.server.start(listen_host(settings.host), settings.port, reuse_address=True,
                               reuse_port=reuse_port or None, ssl=tls.context if tls else None)
        if app.metrics is not None:
            ops = OpsEndpoint(app.metrics, app.guard, settings.db_pool_size)
            await start_ops(ops, settings, reuse_port)
        app.feeds.start()
        tune_for_serving()
        log.info("serving crypto.CryptoService on %s:%d database=%s auth=%s tls=%s "
                 "simulate=%s", settings.host, settings.port, redact(settings.database_url),
                 settings.require_auth.value, tls_mode(tls), settings.simulate)
        if tls is not None:
            log.info("TLS: %s", tls.files.describe())
        log_security(settings, tls)
        await stop.wait()
        log.info("shutting down: draining calls for up to %.1fs", settings.grace_period_seconds)
        await app.drain(settings.grace_period_seconds)
    finally:
        # The operations port answers /readyz with 503 until the drain is over.
        if ops is not None:
            await ops.close()
        if tracer is not None:
            tracer.shutdown()
        await connect.close_database()
    log.info("stopped")


def reload_tls(tls: ServerTLS | None) -> None:
    """SIGHUP: re-read the TLS files (and nothing else; without TLS there is nothing to)."""
    if tls is None:
        log.info("SIGHUP: no TLS files to reload (plaintext server)")
    else:
        tls.reload()


def tls_mode(tls: ServerTLS | None) -> str:
    if tls is None:
        return "off"
    return "mutual" if tls.files.client_ca else "on"


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


async def start_ops(ops: OpsEndpoint, settings: Settings, reuse_port: bool) -> None:
    host = settings.metrics_host or settings.host
    try:
        await ops.start(listen_host(host), settings.metrics_port, reuse_port=reuse_port)
    except OSError as exc:
        raise MetricsPortUnavailable(f"cannot listen on {host}:{settings.metrics_port} for "
                                     f"metrics: {exc.strerror or exc}") from None
    log.info("metrics and health on http://%s:%d (/metrics /healthz /readyz)",
             host, settings.metrics_port)


def listen_host(host: str) -> str | None:
    """None for the wildcard addresses: asyncio then listens on IPv4 and IPv6 alike, where
    `::` alone would be IPv6-only."""
    bare = host.strip("[]")
    return None if bare in ("", "::", "0.0.0.0") else bare
