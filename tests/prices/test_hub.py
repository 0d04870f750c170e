"""The hub on its own: newest quote wins, each quote encoded once, ticks delivered by time slot
(stalled readers handed to their own task), no growth across cycles."""

import asyncio
import gc
import tracemalloc
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from crypto_service.domain.errors import ResourceExhausted
from crypto_service.domain.prices.clock import ManualClock
from crypto_service.domain.prices.hub import PriceHub, Quote
from crypto_service.domain.prices.slots import PER_CALLBACK, TimeSlots
from crypto_service.domain.prices.stream import StreamPlan, run_stream

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


class ListSink:
    """A reader that takes every offer while `room` is set, keeping what it was sent."""

    def __init__(self) -> None:
        self.sent: list[list] = []
        self.room = asyncio.Event()
        self.room.set()

    def offer(self, payloads) -> bool:
        if not self.room.is_set():
            return False
        self.sent.append(list(payloads))
        return True

    async def writable(self) -> None:
        await self.room.wait()


class CountingSink(ListSink):
    """Keeps only how many offers it took, so it does not grow itself."""

    def __init__(self) -> None:
        super().__init__()
        self.taken = 0

    def offer(self, payloads) -> bool:
        self.taken += 1
        return True


def quote(symbol: str, price: str, seconds: int = 0) -> Quote:
    return Quote(symbol, Decimal(price), Decimal(0), T0 + timedelta(seconds=seconds))


def test_each_quote_is_encoded_once_and_older_quotes_are_ignored():
    encoded = []
    hub = PriceHub(encoder=lambda q: encoded.append(q) or f"bytes:{q.price_usd}")
    assert hub.publish([quote("BTC", "1", 1), quote("ETH", "2", 1)]) != []
    assert hub.publish([quote("BTC", "0.5", 0), quote("BTC", "1", 1)]) == []
    assert len(encoded) == 2
    with hub.subscribe(["ETH", "BTC"], 1, ListSink()) as a, \
            hub.subscribe(["BTC"], 1, ListSink()) as b:
        assert [t.payload for t in a.latest()] == ["bytes:2", "bytes:1"]
        assert b.latest()[0].payload is a.latest()[1].payload  # the same bytes for everyone


def test_the_stream_cap_counts_open_subscriptions():
    hub = PriceHub(max_streams=1)
    with hub.subscribe(["BTC"], 1, ListSink()):
        with pytest.raises(ResourceExhausted):
            with hub.subscribe(["BTC"], 1, ListSink()):
                pass
    with hub.subscribe(["BTC"], 1, ListSink()):
        pass


async def test_ten_thousand_connect_and_disconnect_cycles_leave_nothing_behind():
    clock = ManualClock()
    hub = PriceHub(clock=clock, max_streams=100)
    sink = CountingSink()
    plan = StreamPlan([quote("BTC", "1")], 1)

    async def cycles(n: int) -> None:
        for _ in range(n):
            task = asyncio.create_task(run_stream(hub, plan, sink, stuck_seconds=5))
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
    assert sink.taken == 11_000  # each cycle got its first message
    assert not hub.subscriptions and not hub.slots and clock.pending == 0
    assert len(asyncio.all_tasks()) == tasks
    assert grown < 64 * 1024, f"{grown} bytes more after 10,000 cycles"


def text(q: Quote) -> str:
    return f"{q.symbol} {q.price_usd}"


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_streams_due_in_the_same_slot_share_one_timer_and_keep_their_cadence():
    clock = ManualClock(start=0.002)
    hub = PriceHub(clock=clock, encoder=text)
    sinks, tasks = [], []
    for _ in range(100):  # started from 2 to 7 ms: all due in the slot that ends at 10 ms
        sinks.append(ListSink())
        tasks.append(asyncio.create_task(
            run_stream(hub, StreamPlan([quote("BTC", "1")], 1), sinks[-1], stuck_seconds=5)))
        await settle()
        clock.advance(0.00005)
    assert all(s.sent == [["BTC 1"]] for s in sinks)
    assert clock.pending == 1
    clock.advance(1 - clock.now())
    assert all(len(s.sent) == 1 for s in sinks)  # not early
    clock.advance(0.015)
    assert all(len(s.sent) == 2 for s in sinks) and clock.pending == 1
    hub.publish([quote("BTC", "2", 1)])
    clock.advance(1)
    assert all(s.sent[-1] == ["BTC 2"] for s in sinks)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert not hub.subscriptions and not hub.slots and clock.pending == 0


async def test_a_reader_without_room_gets_the_latest_once_it_has_room_and_keeps_its_phase():
    clock = ManualClock()
    hub = PriceHub(clock=clock, encoder=text)
    slow, fast = ListSink(), ListSink()
    tasks = [asyncio.create_task(run_stream(hub, StreamPlan([quote("BTC", "1")], 1), sink,
                                            stuck_seconds=5)) for sink in (slow, fast)]
    await settle()
    slow.room.clear()
    for second in range(1, 4):  # three ticks the slow reader has no room for
        hub.publish([quote("BTC", str(second + 1), second)])
        clock.advance(1)
        await settle()
    assert [p for [p] in fast.sent] == ["BTC 1", "BTC 2", "BTC 3", "BTC 4"]
    assert [p for [p] in slow.sent] == ["BTC 1"]
    assert not slow.room.is_set() and len(hub.slots) == 1  # only the fast one is scheduled
    clock.advance(0.5)
    slow.room.set()
    await settle()
    assert [p for [p] in slow.sent] == ["BTC 1", "BTC 4"]  # the latest, not a backlog
    clock.advance(0.5)  # the phase of the start is kept: the next tick is at 4 s, not 4.5 s
    assert [p for [p] in slow.sent] == ["BTC 1", "BTC 4", "BTC 4"]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_reader_that_never_makes_room_ends_with_resource_exhausted():
    clock = ManualClock()
    hub = PriceHub(clock=clock)
    sink = ListSink()
    task = asyncio.create_task(run_stream(hub, StreamPlan([quote("BTC", "1")], 1), sink,
                                          stuck_seconds=0.05))
    await settle()
    sink.room.clear()
    clock.advance(1)
    with pytest.raises(ResourceExhausted, match="read nothing for 0.05s"):
        await asyncio.wait_for(task, 5)
    assert not hub.subscriptions and not hub.slots and clock.pending == 0


class CountingClock(ManualClock):
    def __init__(self) -> None:
        super().__init__()
        self.timers_set = 0

    def call_at(self, deadline, callback):
        self.timers_set += 1
        return super().call_at(deadline, callback)


def test_a_slot_is_delivered_a_batch_per_callback_skipping_items_discarded_meanwhile():
    clock = CountingClock()
    count = PER_CALLBACK * 2 + 5
    discarded = PER_CALLBACK + 1  # due in the second batch, discarded during the first
    delivered: list[int] = []

    def deliver(item: int) -> None:
        delivered.append(item)
        if item == 0:
            slots.discard(discarded)

    slots = TimeSlots(clock, deliver)
    for item in range(count):
        slots.add(item, 1)
    assert clock.timers_set == 1
    clock.advance(1)
    assert delivered == [i for i in range(count) if i != discarded]
    assert clock.timers_set == 3  # the slot's timer, then one per further batch
    assert not slots and clock.pending == 0
