"""Market-wide figures over active coins: totals, breadth, and trending lists."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

from .catalog import Catalog, CoinRecord
from .coins import CoinSort, sorted_coins
from .money import ZERO, quantize
from .paging import bounded

TRENDING_DEFAULT_LIMIT, TRENDING_MAX_LIMIT = 10, 50


class Trend(enum.Enum):
    TOP_GAINERS = "top_gainers"
    TOP_LOSERS = "top_losers"
    MOST_TRADED = "most_traded"


@dataclass(frozen=True, slots=True)
class MarketStats:
    total_market_cap_usd: Decimal
    total_volume_24h_usd: Decimal
    active_coins_count: int
    coins_up_24h: int
    coins_down_24h: int
    average_change_24h: Decimal


def market_stats(catalog: Catalog) -> MarketStats:
    """Exact sums in Decimal: SQLite's SUM and AVG would go through binary floats."""
    coins = catalog.active
    changes = [c.price_change_24h_percent for c in coins]
    return MarketStats(
        total_market_cap_usd=sum((c.market_cap_usd for c in coins), ZERO),
        total_volume_24h_usd=sum((c.volume_24h_usd for c in coins), ZERO),
        active_coins_count=len(coins),
        coins_up_24h=sum(1 for change in changes if change > 0),
        coins_down_24h=sum(1 for change in changes if change < 0),
        average_change_24h=quantize(sum(changes, ZERO) / len(coins)) if coins else ZERO,
    )


def trending(catalog: Catalog, trend: Trend, limit: int) -> list[CoinRecord]:
    limit = bounded(limit, field="limit", default=TRENDING_DEFAULT_LIMIT,
                    maximum=TRENDING_MAX_LIMIT)
    coins = catalog.active
    if trend is Trend.TOP_GAINERS:
        picked = sorted_coins([c for c in coins if c.price_change_24h_percent > 0],
                              CoinSort.CHANGE_24H, descending=True)
    elif trend is Trend.TOP_LOSERS:
        picked = sorted_coins([c for c in coins if c.price_change_24h_percent < 0],
                              CoinSort.CHANGE_24H, descending=False)
    else:
        picked = sorted_coins(coins, CoinSort.VOLUME_24H, descending=True)
    return picked[:limit]
