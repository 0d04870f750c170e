"""The process's price hub: the latest quote of every coin, encoded once, and the streams that
read them.

Each tick a stream gets the latest quote of each of its symbols. So a subscriber's buffer is one
slot per symbol (the hub's latest value), a slow reader is conflated by construction (it gets
the latest value, never a backlog), and nothing is queued per subscriber however fast prices
move. Each quote is encoded once, when published, by an encoder the server injects, so every
subscriber of a symbol is sent the same bytes.

Ticks are delivered by the hub itself, from one timer per time slot (see slots.py), through
each stream's `Sink`: a sink takes a tick at once when its reader has room for it. Only a
stream whose reader has no room wakes its own task, which waits for the reader (see
stream.py). So a healthy stream costs no task switch and no timer of its own per tick.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence

from ..catalog import CoinRecord
from ..errors import ResourceExhausted
from .clock import Clock, MonotonicClock
from .slots import TimeSlots

log = logging.getLogger("crypto_service.prices")


@dataclass(frozen=True, slots=True)
class Quote:
    symbol: str
    price_usd: Decimal
    change_24h_percent: Decimal
    updated_at: datetime


def quote_of(coin: CoinRecord) -> Quote:
    return Quote(coin.symbol, coin.current_price_usd, coin.price_change_24h_percent,
                 coin.updated_at)


@dataclass(frozen=True, slots=True)
class Tick:
    quote: Quote
    payload: Any  # what the encoder made of the quote; opaque here
    at: float  # the quote's timestamp in seconds since the epoch, for lag measurements


Encoder = Callable[[Quote], Any]


class StreamObserver(Protocol):
    """Told about streams and what they were sent (the server counts it for its metrics)."""

    def opened(self) -> None: ...

    def closed(self) -> None: ...

    def sent(self, ticks: Sequence[Tick]) -> None: ...


class Sink(Protocol):
    """Where a stream's messages go: the server's side of one stream."""

    def offer(self, payloads: Sequence[Any]) -> bool:
        """Sends all the payloads now if the reader has room for all of them; False (nothing
        sent) if sending would have to wait."""

    async def writable(self) -> None:
        """Returns once the reader may have made room (an offer may then succeed)."""


class Subscription:
    """One stream's view of the hub: its symbols in the order asked, its cadence and sink."""

    def __init__(self, hub: PriceHub, symbols: list[str], interval_seconds: float,
                 sink: Sink) -> None:
        self.hub = hub
        self.symbols = symbols
        self.interval_seconds = interval_seconds
        self.sink = sink
        self.due = hub.clock.now()  # of the next tick; the first is at once
        self._stalled: asyncio.Future[None] | None = None

    def latest(self) -> list[Tick]:
        latest = self.hub.latest
        return [latest[s] for s in self.symbols if s in latest]

    def send(self) -> bool:
        """Offers the latest tick of each symbol to the sink: True when it took them."""
        ticks = self.latest()
        if not self.sink.offer([tick.payload for tick in ticks]):
            return False
        observer = self.hub.observer
        if observer is not None and ticks:
            observer.sent(ticks)
        return True

    async def until_stalled(self) -> None:
        """Lets the hub deliver the ticks from the next one on; returns when one could not be
        delivered without waiting for the reader. Ticks missed until the task has sent it
        are skipped, not queued, and the cadence keeps its phase."""
        self._stalled = asyncio.get_running_loop().create_future()
        self._schedule_next()
        try:
            await self._stalled
        finally:
            self._stalled = None
            self.hub.slots.discard(self)

    def deliver(self) -> None:
        """The hub's delivery of one tick, called from the slot's timer."""
        try:
            sent = self.send()
        except Exception:  # the stream's own task meets it again and ends the stream
            log.debug("price tick not delivered", exc_info=True)
            sent = False
        if not sent:
            if self._stalled is not None and not self._stalled.done():
                self._stalled.set_result(None)
            return
        self._schedule_next()

    def _schedule_next(self) -> None:
        self.due += self.interval_seconds
        now = self.hub.clock.now()
        if self.due <= now:  # late (a slow reader, a busy loop): keep the phase, skip ahead
            self.due += ((now - self.due) // self.interval_seconds + 1) * self.interval_seconds
        self.hub.slots.add(self, self.due)


class PriceHub:
    def __init__(self, *, encoder: Encoder = lambda quote: quote, max_streams: int = 10_000,
                 clock: Clock | None = None, observer: StreamObserver | None = None) -> None:
        self.encoder = encoder
        self.max_streams = max_streams
        self.observer = observer
        self.slots: TimeSlots[Subscription] = TimeSlots(clock or MonotonicClock(),
                                                        Subscription.deliver)
        self.latest: dict[str, Tick] = {}
        self.subscriptions: set[Subscription] = set()

    @property
    def clock(self) -> Clock:
        return self.slots.clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self.slots.clock = clock

    def publish(self, quotes: Iterable[Quote]) -> list[Quote]:
        """Takes the quotes newer than what the hub holds; returns those it took."""
        taken = []
        for quote in quotes:
            held = self.latest.get(quote.symbol)
            if held is not None and (quote.updated_at <= held.quote.updated_at
                                     or quote == held.quote):
                continue
            self.latest[quote.symbol] = Tick(quote, self.encoder(quote),
                                             quote.updated_at.timestamp())
            taken.append(quote)
        return taken

    @contextmanager
    def subscribe(self, symbols: list[str], interval_seconds: float,
                  sink: Sink) -> Iterator[Subscription]:
        """A registered subscription for the duration of a stream; ResourceExhausted beyond
        `max_streams` concurrent ones."""
        if len(self.subscriptions) >= self.max_streams:
            raise ResourceExhausted(f"too many price streams: this server allows "
                                    f"{self.max_streams} at once; retry later")
        subscription = Subscription(self, symbols, interval_seconds, sink)
        self.subscriptions.add(subscription)
        if self.observer is not None:
            self.observer.opened()
        try:
            yield subscription
        finally:
            self.subscriptions.discard(subscription)
            self.slots.discard(subscription)
            if self.observer is not None:
                self.observer.closed()
