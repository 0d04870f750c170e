"""StreamPrices through a real grpclib client: rules, cadence on a manual clock, conflation,
stuck readers, the stream cap and clean-up after cancel."""

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from grpclib.client import Channel
from grpclib.config import Configuration
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from crypto_service.domain.prices.clock import ManualClock
from crypto_service.domain.prices.hub import Quote
from crypto_service.generated import crypto as pb
from tests.conftest import make_coin


@pytest.fixture
def clock(app) -> ManualClock:
    clock = ManualClock()
    app.service.prices.hub.clock = clock
    return clock


@pytest.fixture
def hub(app):
    return app.service.prices.hub


@pytest.fixture
async def narrow_stub(app):
    """A client over loopback whose HTTP/2 windows are the protocol's minimum (64 KiB, where
    grpclib's default is 4 MiB), so a client that does not read holds the server back soon."""
    await app.server.start("127.0.0.1", 0)
    port = app.server._server.sockets[0].getsockname()[1]
    window = 65_535
    channel = Channel("127.0.0.1", port, config=Configuration(
        http2_connection_window_size=window, http2_stream_window_size=window))
    try:
        yield pb.CryptoServiceStub(channel)
    finally:
        channel.close()
        app.server.close()
        await app.server.wait_closed()


async def coins(count: int) -> list[str]:
    symbols = [f"C{i:03d}" for i in range(count)]
    for i, symbol in enumerate(symbols):
        await make_coin(symbol, rank=i + 1, market_cap_usd=Decimal(10_000 - i))
    return symbols


def newer(hub, symbol: str, price: str) -> Quote:
    held = hub.latest[symbol].quote
    return Quote(symbol, Decimal(price), held.change_24h_percent,
                 held.updated_at + timedelta(seconds=1))


async def take(stream, n: int) -> list[pb.PriceUpdate]:
    return [await asyncio.wait_for(anext(stream), 5) for _ in range(n)]


async def test_current_prices_come_at_once_then_every_interval(stub, hub, clock):
    await make_coin("BTC", current_price_usd=Decimal("50000.5"),
                    price_change_24h_percent=Decimal("-1.25"))
    await make_coin("ETH", current_price_usd=Decimal("3000"))
    # interval_seconds 0 means 5
    stream = stub.stream_prices(pb.StreamPricesRequest(symbols=["btc", "ETH", "Btc"]))
    first = await take(stream, 2)  # the clock has not moved
    assert [(u.symbol, u.price_usd, u.change_24h_percent) for u in first] == \
        [("BTC", "50000.5", "-1.25"), ("ETH", "3000", "0")]
    assert first[0].timestamp is not None

    clock.advance(4.9)
    hub.publish([newer(hub, "BTC", "51000")])
    clock.advance(0.1)  # a message sent at 4.9 s would still carry 50000.5
    assert [(u.symbol, u.price_usd) for u in await take(stream, 2)] == \
        [("BTC", "51000"), ("ETH", "3000")]
    clock.advance(5)
    assert [u.price_usd for u in await take(stream, 2)] == ["51000", "3000"]
    await stream.aclose()


async def test_empty_symbols_mean_the_top_ten_by_market_cap(stub, clock):
    symbols = await coins(12)
    await make_coin("OFF", market_cap_usd=Decimal(10**9), is_active=False)
    stream = stub.stream_prices(pb.StreamPricesRequest())
    assert [u.symbol for u in await take(stream, 10)] == symbols[:10]
    await stream.aclose()


@pytest.mark.parametrize("request_, status, text", [
    (pb.StreamPricesRequest(symbols=["BTC", "nope", "zzz"]), Status.NOT_FOUND, "NOPE, ZZZ"),
    (pb.StreamPricesRequest(symbols=["BTC"], interval_seconds=-1), Status.INVALID_ARGUMENT,
     "interval_seconds"),
    (pb.StreamPricesRequest(symbols=["BTC"], interval_seconds=3601), Status.INVALID_ARGUMENT,
     "interval_seconds"),
    (pb.StreamPricesRequest(symbols=[f"S{i}" for i in range(101)]), Status.INVALID_ARGUMENT,
     "at most 100"),
    (pb.StreamPricesRequest(symbols=["BTC", " "]), Status.INVALID_ARGUMENT, "empty symbol"),
])
async def test_bad_requests_fail_before_any_message(stub, request_, status, text):
    await make_coin("BTC")
    received = []
    with pytest.raises(GRPCError) as failed:
        async for update in stub.stream_prices(request_):
            received.append(update)
    assert failed.value.status == status and text in failed.value.message
    assert received == []


async def test_interval_bounds_are_accepted(stub, clock):
    await make_coin("BTC")
    for interval in (1, 3600):
        stream = stub.stream_prices(pb.StreamPricesRequest(symbols=["BTC"],
                                                           interval_seconds=interval))
        assert (await take(stream, 1))[0].symbol == "BTC"
        await stream.aclose()


async def test_streams_beyond_the_cap_are_resource_exhausted(stub, hub, clock):
    await make_coin("BTC")
    hub.max_streams = 2
    open_ = [stub.stream_prices(pb.StreamPricesRequest(symbols=["BTC"])) for _ in range(2)]
    for stream in open_:
        await take(stream, 1)
    with pytest.raises(GRPCError) as refused:
        await take(stub.stream_prices(pb.StreamPricesRequest(symbols=["BTC"])), 1)
    assert refused.value.status == Status.RESOURCE_EXHAUSTED
    await open_[0].aclose()
    await asyncio.sleep(0)  # let the server see the cancel
    replacement = stub.stream_prices(pb.StreamPricesRequest(symbols=["BTC"]))
    assert (await take(replacement, 1))[0].symbol == "BTC"
    for stream in (open_[1], replacement):
        await stream.aclose()


async def test_a_reader_that_does_not_read_is_conflated_not_queued(narrow_stub, hub, clock):
    stub = narrow_stub
    symbols = await coins(100)
    stream = stub.stream_prices(pb.StreamPricesRequest(symbols=symbols, interval_seconds=1))
    await take(stream, 100)
    ticks = 200
    for _ in range(ticks):  # 20,000 updates offered while the client reads nothing
        clock.advance(1)
        await asyncio.sleep(0.001)
    hub.publish([newer(hub, "C050", "7")])
    read = 0
    while True:
        update = await asyncio.wait_for(anext(stream), 5)
        read += 1
        if update.symbol == "C050" and update.price_usd == "7":
            break
        if read % 100 == 0:
            clock.advance(1)
    # What waited for the client was at most HTTP/2's window: a small fraction of the offers.
    assert read < ticks * 100 / 4
    await stream.aclose()


async def test_a_stuck_reader_is_ended_with_resource_exhausted(narrow_stub, app, hub, clock):
    stub = narrow_stub
    app.service.prices.stuck_seconds = 0.2
    symbols = await coins(100)
    stream = stub.stream_prices(pb.StreamPricesRequest(symbols=symbols, interval_seconds=1))
    await take(stream, 1)
    for _ in range(100):  # more than HTTP/2's window: the server's send blocks
        clock.advance(1)
        await asyncio.sleep(0.001)
    while hub.subscriptions:  # the server gives up within stuck_seconds
        await asyncio.sleep(0.05)
    with pytest.raises(GRPCError) as ended:
        async for _ in stream:
            pass
    assert ended.value.status == Status.RESOURCE_EXHAUSTED
    assert "read nothing" in ended.value.message


async def test_cancelled_streams_free_everything(stub, hub, clock):
    await make_coin("BTC")
    baseline = len(asyncio.all_tasks())
    for _ in range(3):
        streams = [stub.stream_prices(pb.StreamPricesRequest(symbols=["BTC"]))
                   for _ in range(100)]
        for stream in streams:
            await take(stream, 1)
        assert len(hub.subscriptions) == 100
        for stream in streams:
            await stream.aclose()
        for _ in range(100):
            if not hub.subscriptions:
                break
            await asyncio.sleep(0.01)
        assert not hub.subscriptions
        assert clock.pending == 0
    for _ in range(100):
        if len(asyncio.all_tasks()) <= baseline:
            break
        await asyncio.sleep(0.01)
    assert len(asyncio.all_tasks()) <= baseline


async def test_shutdown_ends_streams_with_unavailable(narrow_stub, app, hub, clock):
    await make_coin("BTC")
    stream = narrow_stub.stream_prices(pb.StreamPricesRequest(symbols=["BTC"]))
    await take(stream, 1)
    await asyncio.wait_for(app.drain(grace_seconds=1), 5)
    with pytest.raises(GRPCError) as ended:
        await take(stream, 1)
    assert ended.value.status == Status.UNAVAILABLE
    assert not hub.subscriptions


async def test_a_client_deadline_ends_the_stream_and_frees_it(stub, hub, clock):
    await make_coin("BTC")
    stream = stub.stream_prices(pb.StreamPricesRequest(symbols=["BTC"]), timeout=0.3)
    await take(stream, 1)
    assert len(hub.subscriptions) == 1
    with pytest.raises(TimeoutError, match="Deadline exceeded"):  # grpclib's client side
        await take(stream, 1)  # the manual clock stands still: only the deadline can end it
    for _ in range(100):
        if not hub.subscriptions:
            break
        await asyncio.sleep(0.01)
    assert not hub.subscriptions and clock.pending == 0
