"""A market simulator: a geometric random walk per coin, applied consistently to price,
market cap, the 24h/7d/30d changes and rank."""

from __future__ import annotations

import math
import random
import zlib
from decimal import Decimal

from ..catalog import CoinRecord
from ..money import round_significant, to_decimal
from .store import PriceFields

HUNDRED = Decimal(100)
# Quoted the way markets quote: prices to 10 significant digits, caps to the cent, changes to
# 6 places (exact Decimals all the same, just not 18 digits of simulated noise).
PRICE_DIGITS = 10
CENT = Decimal("0.01")
CHANGE_PLACES = Decimal("0.000001")
# Hourly volatility between these, fixed per coin by its symbol (stable across restarts).
MIN_HOURLY_VOLATILITY, MAX_HOURLY_VOLATILITY = 0.004, 0.03


def hourly_volatility(symbol: str) -> float:
    spread = (zlib.crc32(symbol.encode()) % 1000) / 1000
    return MIN_HOURLY_VOLATILITY + spread * (MAX_HOURLY_VOLATILITY - MIN_HOURLY_VOLATILITY)


def _moved_change(change_percent: Decimal, ratio: Decimal) -> Decimal:
    # The price the change is measured from stays put: (1 + c) * ratio - 1.
    return ((HUNDRED + change_percent) * ratio - HUNDRED).quantize(CHANGE_PLACES)


def step(coins: list[CoinRecord], seconds: float, rng: random.Random) -> dict[str, PriceFields]:
    """New price fields for every priced coin after `seconds` of market time."""
    moved: dict[str, PriceFields] = {}
    caps: dict[str, Decimal] = {}
    for coin in coins:
        if coin.current_price_usd <= 0:
            continue
        sigma = hourly_volatility(coin.symbol) * math.sqrt(seconds / 3600)
        # The multiplier alone is a float; every stored figure is a quantized Decimal.
        ratio = to_decimal(math.exp(rng.gauss(-sigma * sigma / 2, sigma)))
        change_24h = _moved_change(coin.price_change_24h_percent, ratio)
        moved[coin.symbol] = {
            "current_price_usd": round_significant(coin.current_price_usd * ratio, PRICE_DIGITS),
            "market_cap_usd": (coin.market_cap_usd * ratio).quantize(CENT),
            "price_change_24h_percent": change_24h,
            "price_change_7d_percent": _moved_change(coin.price_change_7d_percent, ratio),
            "price_change_30d_percent": _moved_change(coin.price_change_30d_percent, ratio),
            "is_price_up_24h": change_24h > 0,
        }
        caps[coin.symbol] = moved[coin.symbol]["market_cap_usd"]
    ranked = sorted((c for c in coins if caps.get(c.symbol, 0) > 0),
                    key=lambda c: (-caps[c.symbol], c.id))
    for rank, coin in enumerate(ranked, start=1):
        moved[coin.symbol]["rank"] = rank
    return moved
