"""Where prices come from: import, simulator, sync, the relay and the single writer."""

import asyncio
import json
import os
import random
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from crypto_service.db.models import Coin
from crypto_service.domain.errors import InvalidArgument
from crypto_service.domain.prices import coingecko_feed
from crypto_service.domain.prices.clock import ManualClock
from crypto_service.domain.prices.feeds import simulate_step
from crypto_service.domain.prices.writer_lock import writer_lock
from crypto_service.generated import crypto as pb
from tests.conftest import make_coin
from tests.server.test_process import run_cli


def market_row(symbol: str, price, change=1.5, rank=1) -> dict:
    return {"id": f"{symbol.lower()}-coin", "symbol": symbol.lower(), "name": f"{symbol} Coin",
            "current_price": price, "market_cap": 1000, "total_volume": 10,
            "price_change_percentage_24h": change, "market_cap_rank": rank}


@pytest.fixture
def clock(app) -> ManualClock:
    clock = ManualClock()
    app.service.prices.hub.clock = clock
    return clock


async def next_update(stream) -> pb.PriceUpdate:
    return await asyncio.wait_for(anext(stream), 5)


async def test_an_import_reaches_open_streams_through_the_relay(stub, app, clock, tmp_path):
    await make_coin("BTC", current_price_usd=Decimal("100"))
    await make_coin("ETH")
    stream = stub.stream_prices(pb.StreamPricesRequest(symbols=["BTC"], interval_seconds=1))
    assert (await next_update(stream)).price_usd == "100"

    export = tmp_path / "markets.json"
    export.write_text(json.dumps([market_row("BTC", 123.25), market_row("NEW", 1)]))
    result = await coingecko_feed.import_file(export)
    assert [q.symbol for q in result.updated] == ["BTC"] and result.unknown == ["NEW"]
    assert not await Coin.exists(symbol="NEW")  # imports update prices, never create coins

    await app.feeds.relay.refresh()
    clock.advance(1)
    update = await next_update(stream)
    assert (update.symbol, update.price_usd, update.change_24h_percent) == \
        ("BTC", "123.25", "1.5")
    await stream.aclose()


async def test_a_bad_row_changes_nothing(db, tmp_path):
    await make_coin("BTC", current_price_usd=Decimal("100"))
    await make_coin("ETH", current_price_usd=Decimal("10"))
    export = tmp_path / "markets.json"
    export.write_text(json.dumps([market_row("ETH", 11), market_row("BTC", "lots")]))
    with pytest.raises(InvalidArgument, match="row 2 .*current_price"):
        await coingecko_feed.import_file(export)
    assert [c.current_price_usd for c in await Coin.all().order_by("id")] == [100, 10]


async def test_a_simulator_step_moves_every_figure_consistently_and_streams_see_it(
        stub, app, clock):
    await make_coin("BTC", current_price_usd=Decimal("50000"), market_cap_usd=Decimal("1e12"),
                    price_change_24h_percent=Decimal("2"), rank=1)
    await make_coin("ETH", current_price_usd=Decimal("3000"), market_cap_usd=Decimal("1e12"),
                    rank=2)
    stream = stub.stream_prices(pb.StreamPricesRequest(symbols=["BTC"], interval_seconds=1))
    await next_update(stream)
    before = await Coin.get(symbol="BTC")

    await simulate_step(app.service.prices.hub, app.service.catalog, 1.0, random.Random(7))
    after = await Coin.get(symbol="BTC")
    ratio = after.current_price_usd / before.current_price_usd
    assert ratio != 1 and abs(ratio - 1) < Decimal("0.01")
    # Quoted to 10 significant digits, the cent and 6 places: consistent to that rounding.
    assert abs(after.market_cap_usd / before.market_cap_usd - ratio) < Decimal("1e-9")
    assert abs((100 + after.price_change_24h_percent) / 102 - ratio) < Decimal("1e-8")
    assert len(after.current_price_usd.normalize().as_tuple().digits) <= 10
    assert after.is_price_up_24h == (after.price_change_24h_percent > 0)
    assert sorted([c.rank for c in await Coin.all()]) == [1, 2]
    assert after.updated_at > before.updated_at

    clock.advance(1)
    assert (await next_update(stream)).price_usd == \
        format(after.current_price_usd.normalize(), "f")
    await stream.aclose()


async def test_one_writer_per_database(db):
    first, second = writer_lock(db), writer_lock(db)
    try:
        assert await first.acquire()
        assert await first.acquire()  # holding it is idempotent
        assert not await second.acquire()
        await first.release()
        assert await second.acquire()
    finally:
        await first.release()
        await second.release()


class FakeCoinGecko(BaseHTTPRequestHandler):
    answers: list = []  # (status, body) per request, the last one repeats
    paths: list = []

    def do_GET(self):
        FakeCoinGecko.paths.append(self.path)
        status, body = self.answers[0] if len(self.answers) == 1 else self.answers.pop(0)
        payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_coingecko():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeCoinGecko)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FakeCoinGecko.paths = []
    yield f"http://127.0.0.1:{server.server_address[1]}/api/v3", FakeCoinGecko
    server.shutdown()
    server.server_close()


async def test_sync_retries_server_errors_then_applies_the_answer(db, fake_coingecko):
    url, fake = fake_coingecko
    await make_coin("BTC", current_price_usd=Decimal("100"))
    fake.answers = [(503, "busy"), (502, "down"), (200, [market_row("BTC", 101)])]
    async with httpx.AsyncClient() as client:
        result = await coingecko_feed.sync_once(client, url, backoff_seconds=0.01)
    assert [q.price_usd for q in result.updated] == [Decimal("101")]
    assert len(fake.paths) == 3
    assert fake.paths[0].startswith("/api/v3/coins/markets?vs_currency=usd")


@pytest.mark.parametrize("answer", [
    (200, "not json"),
    (200, [market_row("BTC", 5), {"id": "x", "symbol": "x"}]),
    (404, "no such page"),
])
async def test_a_bad_answer_is_skipped_and_changes_nothing(db, fake_coingecko, answer):
    url, fake = fake_coingecko
    await make_coin("BTC", current_price_usd=Decimal("100"))
    fake.answers = [answer]
    async with httpx.AsyncClient() as client:
        with pytest.raises((InvalidArgument, httpx.HTTPStatusError)):
            await coingecko_feed.sync_once(client, url, backoff_seconds=0.01)
    assert len(fake.paths) == 1  # client errors and bad data are not retried
    assert (await Coin.get(symbol="BTC")).current_price_usd == 100


async def test_a_slow_answer_times_out_and_is_skipped(db, fake_coingecko):
    url, fake = fake_coingecko
    await make_coin("BTC", current_price_usd=Decimal("100"))
    slow = threading.Event()

    class Slow(FakeCoinGecko):
        def do_GET(self):
            slow.wait(2)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        async with httpx.AsyncClient(timeout=0.2) as client:
            with pytest.raises(httpx.TimeoutException):
                await coingecko_feed.sync_once(
                    client, f"http://127.0.0.1:{server.server_address[1]}", attempts=2,
                    backoff_seconds=0.01)
    finally:
        slow.set()
        server.shutdown()
        server.server_close()
    assert (await Coin.get(symbol="BTC")).current_price_usd == 100


@pytest.fixture
def cli_env(settings):
    return {**os.environ, "CRYPTO_DATABASE_URL": settings.database_url}


def test_crypto_prices_import_reports_what_it_did(cli_env, tmp_path):
    assert run_cli("seed", env=cli_env).returncode == 0
    export = tmp_path / "markets.json"
    export.write_text(json.dumps([market_row("BTC", 42), market_row("NOPE", 1)]))
    done = run_cli("prices", "import", str(export), env=cli_env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1 updated, 0 unchanged; 1 unknown symbols skipped: NOPE"

    export.write_text(json.dumps([market_row("BTC", -1)]))
    refused = run_cli("prices", "import", str(export), env=cli_env)
    assert refused.returncode == 1 and "current_price" in refused.stderr


def test_crypto_prices_sync_once_against_a_fake_server(cli_env, fake_coingecko):
    url, fake = fake_coingecko
    assert run_cli("seed", env=cli_env).returncode == 0
    fake.answers = [(503, "busy"), (200, [market_row("ETH", 2500, rank=2)])]
    done = run_cli("prices", "sync", "--once", "--url", url, env=cli_env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1 updated")
    # It says that it retries, and libraries' own chatter (each HTTP request, the ORM's
    # shutdown) stays out of the way.
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "503" in lines[0] and "retrying in 1 s (attempt 2)" in lines[0]
    bad_every = run_cli("prices", "sync", "--every", "soon", "--url", url, env=cli_env)
    assert bad_every.returncode == 2 and "duration" in bad_every.stderr
