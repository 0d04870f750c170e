"""stream_prices against the real service, where it streams (the price hub): on a server
without StreamPrices the test is skipped, saying so."""

from contextlib import aclosing
from decimal import Decimal

import pytest

from crypto_service.client import AsyncCryptoClient, NotFound, Unimplemented
from tests.conftest import make_coin


@pytest.fixture
async def client(app_address):
    await make_coin("BTC", rank=1, current_price_usd=Decimal("94000.5"))
    await make_coin("ETH", rank=2, current_price_usd=Decimal("3300"))
    async with AsyncCryptoClient(app_address) as client:
        try:
            async with aclosing(client.stream_prices(["BTC"])) as probe:
                await anext(probe)
        except Unimplemented:
            pytest.skip("this server has no StreamPrices yet")
        yield client


async def test_the_stream_starts_with_the_current_price_of_each_symbol(client):
    async with aclosing(client.stream_prices(["btc", "ETH"], interval=1)) as updates:
        first = [await anext(updates), await anext(updates)]
    assert {(u.symbol, u.price_usd) for u in first} == {("BTC", Decimal("94000.5")), ("ETH", 3300)}


async def test_an_unknown_symbol_is_not_found(client):
    with pytest.raises(NotFound, match="NOPE"):
        async for _ in client.stream_prices(["BTC", "NOPE"]):
            pass
