"""StreamPrices' rules: which symbols, what cadence, and the send loop over the hub."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ..catalog import Catalog
from ..coins import top_coins
from ..errors import InvalidArgument, NotFound, ResourceExhausted
from .hub import PriceHub, Quote, Sink, quote_of

MAX_SYMBOLS = 100
DEFAULT_INTERVAL, MIN_INTERVAL, MAX_INTERVAL = 5, 1, 3600
DEFAULT_TOP = 10


@dataclass(frozen=True, slots=True)
class StreamPlan:
    quotes: list[Quote]  # each symbol's price as the catalog knows it
    interval_seconds: int

    @property
    def symbols(self) -> list[str]:
        return [q.symbol for q in self.quotes]


def plan_stream(catalog: Catalog, symbols: list[str], interval_seconds: int) -> StreamPlan:
    """Validates a request: symbols case-insensitive with duplicates folded (first mention
    keeps its place), at most 100, all known; none means the top 10 active coins."""
    if interval_seconds == 0:
        interval_seconds = DEFAULT_INTERVAL
    if not MIN_INTERVAL <= interval_seconds <= MAX_INTERVAL:
        raise InvalidArgument(f"interval_seconds must be 0 (for {DEFAULT_INTERVAL}) or from "
                              f"{MIN_INTERVAL} to {MAX_INTERVAL}, got {interval_seconds}")
    wanted = list(dict.fromkeys(s.strip().upper() for s in symbols))
    if len(wanted) > MAX_SYMBOLS:
        raise InvalidArgument(f"symbols must name at most {MAX_SYMBOLS} coins, got {len(wanted)}")
    if "" in wanted:
        raise InvalidArgument("symbols must not contain an empty symbol")
    if not wanted:
        return StreamPlan([quote_of(c) for c in top_coins(catalog, DEFAULT_TOP).items],
                          interval_seconds)
    unknown = [s for s in wanted if s not in catalog.by_symbol]
    if unknown:
        raise NotFound(f"unknown symbols: {', '.join(unknown)}")
    return StreamPlan([quote_of(catalog.by_symbol[s]) for s in wanted], interval_seconds)


async def run_stream(hub: PriceHub, plan: StreamPlan, sink: Sink, *,
                     stuck_seconds: float) -> None:
    """Sends the latest price of every symbol at once, then again every interval, until
    cancelled. The hub delivers the ticks while the reader keeps up; this task sends only the
    first one and those the reader had no room for, waiting for it. A reader that makes no
    room within `stuck_seconds` ends the stream with ResourceExhausted."""
    # A catalog read may know a price the hub has not been told about yet (no feed running,
    # or a write by another process not yet relayed): older quotes are ignored by the hub.
    hub.publish(plan.quotes)
    with hub.subscribe(plan.symbols, plan.interval_seconds, sink) as subscription:
        while True:
            try:
                async with asyncio.timeout(stuck_seconds):
                    while not subscription.send():
                        await sink.writable()
            except TimeoutError:
                raise ResourceExhausted(f"the client read nothing for {stuck_seconds:g}s: "
                                        "price stream ended") from None
            await subscription.until_stalled()
