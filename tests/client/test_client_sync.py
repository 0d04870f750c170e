"""CryptoClient, the blocking client: from plain code and from inside a running event loop."""

import asyncio
from decimal import Decimal

import pytest

from crypto_service import AsyncCryptoClient, CryptoClient
from crypto_service.client import NotFound


def test_works_where_no_event_loop_runs(fake, fake_in_thread):
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
    with CryptoClient(fake_in_thread, token="t0k3n") as client:
        assert client.get_coin(symbol="BTC").current_price_usd == Decimal("94000.5")
        assert [c.symbol for c in client.list_top_coins(10)] == ["BTC", "ETH"]
        assert client.get_wallet(3, "ETH").user_id == 3
    assert fake.calls[-1].metadata["authorization"] == "Bearer t0k3n"


async def test_works_inside_a_running_event_loop(fake, fake_in_thread):
    asyncio.get_running_loop()  # a notebook or an async app: asyncio.run would refuse here
    with CryptoClient(fake_in_thread) as client:
        assert client.transfer(1, 2, "BTC", "0.5").to_wallet.user_id == 2
        with pytest.raises(NotFound):
            client.get_coin("NOPE")


def test_has_every_method_of_the_async_client():
    public = {name for name in vars(AsyncCryptoClient) if not name.startswith("_")}
    assert public - {"close"} <= set(dir(CryptoClient))


def test_close_ends_the_background_thread(fake_in_thread):
    client = CryptoClient(fake_in_thread)
    thread = client._loop.thread
    client.get_coin("BTC")
    client.close()
    client.close()  # twice is harmless
    assert not thread.is_alive()
    with pytest.raises(RuntimeError, match="closed"):
        client.get_coin("BTC")
