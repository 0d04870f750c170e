"""Building and running the server: CryptoService, health, reflection, hooks, graceful drain."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass

from grpclib.health.check import ServiceStatus
from grpclib.health.service import Health
from grpclib.health.v1 import health_pb2
from grpclib.reflection.service import ServerReflection
from grpclib.server import Server

from ..auth import Authenticator
from ..db import connect
from ..domain.catalog import CatalogCache
from ..domain.prices.feeds import PriceFeeds
from ..domain.prices.hub import PriceHub
from ..generated.google_proto_descriptor_pool import default_google_proto_descriptor_pool
from ..settings import Settings
from .access_log import install_access_log
from .codec import RequestRequired, StrictCodec, install_message_size_limit
from .gc_tuning import tune_for_serving
from .guard import CallGuard
from .http2 import Http2Limits, LimitedServer
from .prices import PriceStreams, framed_price_update
from .service import CryptoService

log = logging.getLogger("crypto_service.server")


class DatabaseNotReady(RuntimeError):
    pass


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

    async def drain(self, grace_seconds: float) -> None:
        """Health NOT_SERVING, refuse new calls, end streams, let unary calls in flight finish
        within the grace period, then close (grpclib's close alone would cancel them)."""
        self.serving.set(False)
        self.guard.draining = True
        await self.guard.abort_calls(streams_only=True)
        await self.feeds.stop()
        if not await self.guard.wait_unary_calls(grace_seconds):
            log.warning("grace period of %.1fs over: ending the calls still running",
                        grace_seconds)
            await self.guard.abort_calls(streams_only=False)
        self.server.close()
        await self.server.wait_closed()


def _reflection_pool():
    pool = default_google_proto_descriptor_pool
    try:
        pool.FindFileByName(health_pb2.DESCRIPTOR.name)
    except KeyError:
        pool.AddSerializedFile(health_pb2.DESCRIPTOR.serialized_pb)
    return pool


def build_app(settings: Settings) -> App:
    install_message_size_limit()
    authenticator = Authenticator.from_settings(settings)
    guard = CallGuard(authenticator, require_auth=settings.require_auth)
    catalog = CatalogCache()
    hub = PriceHub(encoder=framed_price_update, max_streams=settings.max_price_streams)
    service = CryptoService(catalog, guard,
                            PriceStreams(hub, catalog, settings.stream_stuck_seconds))
    serving = ServiceStatus()
    serving.set(True)
    health = Health({service: [serving]})
    services = [RequestRequired(each) for each in
                ServerReflection.extend([service, health], pool=_reflection_pool())]
    codec = StrictCodec(settings.max_message_bytes)
    server = LimitedServer(services, codec=codec, limits=Http2Limits.from_settings(settings))
    install_access_log(server)
    feeds = PriceFeeds(hub, catalog, database_url=settings.database_url,
                       poll_seconds=settings.price_poll_seconds,
                       simulate_interval=settings.simulate_interval_seconds
                       if settings.simulate else None)
    return App(server, services, codec, service, guard, serving, feeds)


def check_settings(settings: Settings) -> None:
    if settings.require_auth and not settings.jwt_secret:
        raise UnsafeSettings("CRYPTO_REQUIRE_AUTH=true needs CRYPTO_JWT_SECRET to verify tokens")


async def migrate_or_refuse(settings: Settings) -> None:
    """Migrates (when auto_migrate is on) or refuses to start on an un-migrated database."""
    pending = await connect.pending_migrations(settings)
    if pending and not settings.auto_migrate:
        raise DatabaseNotReady(f"database has {len(pending)} unapplied migrations "
                               f"({', '.join(pending)}): run `crypto migrate`")
    if pending:
        log.info("applying migrations: %s", ", ".join(pending))
        await connect.apply_migrations(settings)


async def serve(settings: Settings, *, reuse_port: bool = False) -> None:
    """Runs until SIGINT or SIGTERM, then drains and returns. With `reuse_port`, several
    processes listen on the same port and the kernel spreads connections among them."""
    check_settings(settings)
    await migrate_or_refuse(settings)
    await connect.open_database(settings)
    try:
        app = build_app(settings)
        # Handlers first: a signal that comes once the port is open must drain, not kill.
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await app.server.start(listen_host(settings.host), settings.port, reuse_address=True,
                               reuse_port=reuse_port or None)
        app.feeds.start()
        tune_for_serving()
        log.info("serving crypto.CryptoService on %s:%d database=%s auth=%s simulate=%s",
                 settings.host, settings.port, redact(settings.database_url),
                 "required" if settings.require_auth else "optional", settings.simulate)
        if not settings.require_auth:
            log.warning("wallet RPCs are open to anyone without a token "
                        "(set CRYPTO_REQUIRE_AUTH=true and CRYPTO_JWT_SECRET to protect them)")
        await stop.wait()
        log.info("shutting down: draining calls for up to %.1fs", settings.grace_period_seconds)
        await app.drain(settings.grace_period_seconds)
    finally:
        await connect.close_database()
    log.info("stopped")


def listen_host(host: str) -> str | None:
    """None for the wildcard addresses: asyncio then listens on IPv4 and IPv6 alike, where
    `::` alone would be IPv6-only."""
    bare = host.strip("[]")
    return None if bare in ("", "::", "0.0.0.0") else bare


def redact(database_url: str) -> str:
    """The URL without its password, for logs."""
    scheme, sep, rest = database_url.partition("://")
    credentials, at, location = rest.rpartition("@")
    if not at or ":" not in credentials:
        return database_url
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{location}"
