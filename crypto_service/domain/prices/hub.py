"""The process's price hub: the latest quote of every coin, encoded once, and the registry of
the streams that read them.

Streams read the hub at their own cadence: each tick a stream sends the latest quote of each of
its symbols. So a subscriber's buffer is one slot per symbol (the hub's latest value), a slow
reader is conflated by construction (it gets the latest value, never a backlog), and nothing is
queued per subscriber however fast prices move. Each quote is encoded once, when published, by
an encoder the server injects, so every subscriber of a symbol is sent the same bytes.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator

from ..catalog import CoinRecord
from ..errors import ResourceExhausted
from .clock import Clock, MonotonicClock


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


Encoder = Callable[[Quote], Any]


class Subscription:
    """One stream's view of the hub: its symbols, in the order asked."""

    def __init__(self, hub: PriceHub, symbols: list[str]) -> None:
        self.hub = hub
        self.symbols = symbols

    def latest(self) -> list[Tick]:
        latest = self.hub.latest
        return [latest[s] for s in self.symbols if s in latest]


class PriceHub:
    def __init__(self, *, encoder: Encoder = lambda quote: quote, max_streams: int = 10_000,
                 clock: Clock | None = None) -> None:
        self.encoder = encoder
        self.max_streams = max_streams
        self.clock = clock or MonotonicClock()
        self.latest: dict[str, Tick] = {}
        self.subscriptions: set[Subscription] = set()

    def publish(self, quotes: Iterable[Quote]) -> list[Quote]:
        """Takes the quotes newer than what the hub holds; returns those it took."""
        taken = []
        for quote in quotes:
            held = self.latest.get(quote.symbol)
            if held is not None and (quote.updated_at <= held.quote.updated_at
                                     or quote == held.quote):
                continue
            self.latest[quote.symbol] = Tick(quote, self.encoder(quote))
            taken.append(quote)
        return taken

    @contextmanager
    def subscribe(self, symbols: list[str]) -> Iterator[Subscription]:
        """A registered subscription for the duration of a stream; ResourceExhausted beyond
        `max_streams` concurrent ones."""
        if len(self.subscriptions) >= self.max_streams:
            raise ResourceExhausted(f"too many price streams: this server allows "
                                    f"{self.max_streams} at once; retry later")
        subscription = Subscription(self, symbols)
        self.subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self.subscriptions.discard(subscription)
