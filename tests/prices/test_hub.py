"""The hub on its own: newest quote wins, each quote encoded once, no growth across cycles."""

import asyncio
import gc
import tracemalloc
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from crypto_service.domain.errors import ResourceExhausted
from crypto_service.domain.prices.clock import ManualClock
from crypto_service.domain.prices.hub import PriceHub, Quote
from crypto_service.domain.prices.stream import StreamPlan, run_stream

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def quote(symbol: str, price: str, seconds: int = 0) -> Quote:
    return Quote(symbol, Decimal(price), Decimal(0), T0 + timedelta(seconds=seconds))


def test_each_quote_is_encoded_once_and_older_quotes_are_ignored():
    encoded = []
    hub = PriceHub(encoder=lambda q: encoded.append(q) or f"bytes:{q.price_usd}")
    assert hub.publish([quote("BTC", "1", 1), quote("ETH", "2", 1)]) != []
    assert hub.publish([quote("BTC", "0.5", 0), quote("BTC", "1", 1)]) == []
    assert len(encoded) == 2
    with hub.subscribe(["ETH", "BTC"]) as a, hub.subscribe(["BTC"]) as b:
        assert [t.payload for t in a.latest()] == ["bytes:2", "bytes:1"]
        assert b.latest()[0].payload is a.latest()[1].payload  # the same bytes for everyone


def test_the_stream_cap_counts_open_subscriptions():
    hub = PriceHub(max_streams=1)
    with hub.subscribe(["BTC"]):
        with pytest.raises(ResourceExhausted):
            with hub.subscribe(["BTC"]):
                pass
    with hub.subscribe(["BTC"]):
        pass


async def test_ten_thousand_connect_and_disconnect_cycles_leave_nothing_behind():
    clock = ManualClock()
    hub = PriceHub(clock=clock, max_streams=100)
    sent = 0

    async def send(_payload) -> None:
        nonlocal sent
        sent += 1

    plan = StreamPlan([quote("BTC", "1")], 1)

    async def cycles(n: int) -> None:
        for _ in range(n):
            task = asyncio.create_task(run_stream(hub, plan, send, stuck_seconds=5))
            await asyncio.sleep(0)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    await cycles(1_000)  # warm caches and free lists
    gc.collect()
    tasks = len(asyncio.all_tasks())
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    await cycles(10_000)
    gc.collect()
    grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    assert sent == 11_000  # each cycle got its first message
    assert not hub.subscriptions and clock.sleepers == 0
    assert len(asyncio.all_tasks()) == tasks
    assert grown < 64 * 1024, f"{grown} bytes more after 10,000 cycles"
