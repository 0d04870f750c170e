"""The price feeds on a bad day: the relay's LISTEN connection killed by the server, a refresh
that raises, the simulator's writer lock connection killed. Each time the relay is restarted,
says so in the log and in the price stream's health check, and prices written by another
process reach this process's streams again; a leader that lost its lock knows it."""

import asyncio
import json
import logging
import os
from contextlib import asynccontextmanager
from decimal import Decimal

import asyncpg
import pytest
from grpclib.health.v1.health_grpc import HealthStub
from grpclib.health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse
from grpclib.testing import ChannelFor

from crypto_service.db.connect import dedicated_name
from crypto_service.domain.catalog import CatalogCache
from crypto_service.domain.prices import relay as relay_module
from crypto_service.domain.prices.relay import RELAY
from crypto_service.domain.prices.supervisor import Backoff, supervise
from crypto_service.domain.prices.writer_lock import WRITER_LOCK, writer_lock
from crypto_service.generated import crypto as pb
from crypto_service.server.app import PRICE_FEED_HEALTH, build_app
from tests.conftest import BACKENDS, make_coin
from tests.prices.test_feeds import market_row
from tests.server.test_process import run_cli

SERVING = HealthCheckResponse.SERVING
NOT_SERVING = HealthCheckResponse.NOT_SERVING
FAST = Backoff(initial=0.01, maximum=0.05)
POSTGRES_ONLY = pytest.mark.parametrize("settings", BACKENDS[1:], indirect=True)


class PriceFeedHealth:
    """grpc.health.v1 Watch on the price stream's name, through the server's Health service."""

    def __init__(self, stream) -> None:
        self.stream = stream

    async def reaches(self, status) -> None:
        while (await self.stream.recv_message()).status != status:
            pass


@pytest.fixture
def running(db):
    """Starts an app's price feeds (the relay only: the simulator would publish here
    directly), quick to restart; gives a client of the app and the feed's health."""

    @asynccontextmanager
    async def start(settings):
        app = build_app(settings)
        app.feeds.simulator = None
        app.feeds.backoff = FAST
        async with ChannelFor(app.services, codec=app.codec) as channel:
            async with HealthStub(channel).Watch.open() as watch:
                await watch.send_message(HealthCheckRequest(service=PRICE_FEED_HEALTH),
                                         end=True)
                health = PriceFeedHealth(watch)
                app.feeds.start()
                try:
                    await health.reaches(SERVING)
                    yield app, pb.CryptoServiceStub(channel), health
                finally:
                    await app.feeds.stop()
                    await watch.cancel()  # a Watch never ends by itself

    return start


async def import_price_in_another_process(settings, tmp_path, price: float) -> None:
    export = tmp_path / "markets.json"
    export.write_text(json.dumps([market_row("BTC", price)]))
    env = {**os.environ, "CRYPTO_DATABASE_URL": settings.database_url}
    done = await asyncio.to_thread(run_cli, "prices", "import", str(export), env=env)
    assert done.returncode == 0, done.stderr


async def until_price(stream, price: str) -> None:
    async for update in stream:
        if update.price_usd == price:
            return


async def backends(url: str, application_name: str) -> list[int]:
    connection = await asyncpg.connect(url)
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = $1", application_name)
        return [row["pid"] for row in rows]
    finally:
        await connection.close()


async def relay_backends(url: str) -> list[int]:
    return await backends(url, dedicated_name(RELAY))


async def terminate(url: str, pid: int) -> None:
    admin = await asyncpg.connect(url)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


@POSTGRES_ONLY
async def test_a_killed_listen_connection_is_reopened_and_notifications_flow_again(
        db, running, tmp_path, caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="crypto_service.prices")
    # Only a NOTIFY can wake the relay now: its safety-net poll would take an hour.
    monkeypatch.setattr(relay_module, "LISTEN_FALLBACK_SECONDS", 3600)
    await make_coin("BTC", current_price_usd=Decimal("100"))
    # asyncpg alone refuses this scheme; the relay's connection is made from Tortoise's parse.
    asyncpg_url = db.model_copy(
        update={"database_url": db.database_url.replace("postgres://", "asyncpg://", 1)})
    async with running(asyncpg_url) as (app, stub, health):
        stream = stub.stream_prices(pb.StreamPricesRequest(symbols=["BTC"], interval_seconds=1))
        assert (await anext(stream)).price_usd == "100"
        [listening] = await relay_backends(db.database_url)
        # The database stays out of reach until the test has seen the health check say so.
        reachable = asyncio.Event()
        connect = app.feeds.relay.listen

        async def connect_when_reachable():
            await reachable.wait()
            return await connect()

        app.feeds.relay.listen = connect_when_reachable

        await terminate(db.database_url, listening)
        await health.reaches(NOT_SERVING)
        reachable.set()
        await health.reaches(SERVING)
        # A new LISTEN session (the killed one may linger in pg_stat_activity a moment).
        [reopened] = [pid for pid in await relay_backends(db.database_url) if pid != listening]

        await import_price_in_another_process(db, tmp_path, 123.25)
        await until_price(stream, "123.25")
        await stream.aclose()
    assert "price relay stopped (ListenConnectionLost" in caplog.text
    assert "price relay is live again" in caplog.text


@pytest.mark.parametrize("settings", BACKENDS, indirect=True)
async def test_a_relay_that_raises_is_logged_and_restarted(db, running, tmp_path, caplog,
                                                           monkeypatch):
    caplog.set_level(logging.INFO, logger="crypto_service.prices")
    await make_coin("BTC", current_price_usd=Decimal("100"))
    async with running(db) as (app, stub, health):
        stream = stub.stream_prices(pb.StreamPricesRequest(symbols=["BTC"], interval_seconds=1))
        assert (await anext(stream)).price_usd == "100"

        # The next refresh fails, as a query does when the database goes away, and the
        # database stays out of reach until the test has seen the health check say so.
        refresh = CatalogCache.refresh
        failed, reachable = [], asyncio.Event()

        async def failing_once(self):
            if not failed:
                failed.append(True)
                raise ConnectionResetError("injected: the database went away")
            await reachable.wait()
            return await refresh(self)

        monkeypatch.setattr(CatalogCache, "refresh", failing_once)
        await import_price_in_another_process(db, tmp_path, 321.5)
        await health.reaches(NOT_SERVING)
        reachable.set()
        await health.reaches(SERVING)
        await until_price(stream, "321.5")
        await stream.aclose()

    [stopped] = [r for r in caplog.records if "price relay stopped" in r.getMessage()]
    assert "ConnectionResetError: injected: the database went away" in stopped.getMessage()
    assert stopped.exc_info is not None  # the first failure in a row carries its traceback
    assert "price relay is live again" in caplog.text


async def test_the_supervisor_logs_each_failure_and_restarts_until_cancelled(caplog):
    caplog.set_level(logging.INFO, logger="crypto_service.prices")
    runs = []
    steady = asyncio.Event()

    async def flaky():
        runs.append(1)
        if len(runs) <= 3:
            raise ValueError(f"fault {len(runs)}")
        steady.set()
        await asyncio.Event().wait()  # runs until cancelled

    task = asyncio.create_task(supervise("flaky task", flaky, backoff=FAST))
    await steady.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    logged = [r for r in caplog.records if "flaky task stopped" in r.getMessage()]
    assert [r.getMessage().split(":")[0] for r in logged] == \
        ["flaky task stopped (ValueError"] * 3
    assert [r.exc_info is not None for r in logged] == [True, False, False]
    assert "failure 3 in a row" in logged[-1].getMessage()


@POSTGRES_ONLY
async def test_a_leader_whose_lock_connection_is_killed_knows_it_no_longer_leads(db):
    leader, standby = writer_lock(db), writer_lock(db)
    try:
        assert await leader.acquire()
        assert not await standby.acquire()
        lost = asyncio.Event()
        leader._connection.add_termination_listener(lambda _connection: lost.set())
        [holder] = await backends(db.database_url, dedicated_name(WRITER_LOCK))
        await terminate(db.database_url, holder)
        await lost.wait()
        assert await standby.acquire()  # the lock went with its connection
        assert not await leader.acquire()  # and the old leader does not think it still holds it
    finally:
        await leader.release()
        await standby.release()
