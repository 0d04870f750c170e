"""StreamPrices: an async iterator on the async client, a plain one on the blocking client;
leaving the loop early cancels the call on the server."""

import asyncio
from decimal import Decimal
from contextlib import aclosing

import pytest

from crypto_service.client import AsyncCryptoClient, CryptoClient, Unimplemented
from crypto_service.generated import crypto as pb
from crypto_service.generated.crypto import CryptoServiceBase
from tests.client.servers import loopback


async def test_async_stream_yields_every_update_until_the_server_ends_it(fake, fake_address):
    async with AsyncCryptoClient(fake_address) as client:
        updates = [u async for u in client.stream_prices(["BTC", "ETH"], interval=2)]
    assert [(u.symbol, u.price_usd) for u in updates] == \
        [("BTC", Decimal("94000.5")), ("ETH", Decimal("3300"))] * fake.stream_rounds
    assert fake.calls[0].request == pb.StreamPricesRequest(symbols=["BTC", "ETH"],
                                                           interval_seconds=2)


async def test_closing_the_async_stream_cancels_the_call(fake, fake_address):
    fake.endless = True
    async with AsyncCryptoClient(fake_address) as client:
        async with aclosing(client.stream_prices(["BTC"])) as updates:
            first = await anext(updates)
        assert first.symbol == "BTC"
        assert await asyncio.to_thread(fake.stream_closed.wait, 5)


async def test_breaking_out_of_async_for_cancels_the_call(fake, fake_address):
    fake.endless = True
    async with AsyncCryptoClient(fake_address) as client:
        async for update in client.stream_prices(["ETH"]):
            break
        assert update.symbol == "ETH"
        assert await asyncio.to_thread(fake.stream_closed.wait, 5)


def test_blocking_stream_is_a_plain_iterator_and_break_cancels(fake, fake_in_thread):
    fake.endless = True
    with CryptoClient(fake_in_thread) as client:
        received = []
        for update in client.stream_prices(["BTC", "ETH"]):
            received.append(update.symbol)
            if len(received) == 3:
                break
        assert received == ["BTC", "ETH", "BTC"]
        # The cancel reached the server (waits for the flag, at most 5 s).
        assert fake.stream_closed.wait(5)


async def test_a_stream_the_server_lacks_raises_unimplemented():
    async with loopback([CryptoServiceBase()]) as address, AsyncCryptoClient(address) as client:
        with pytest.raises(Unimplemented):
            async for _ in client.stream_prices(["BTC"]):
                pass
