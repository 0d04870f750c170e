"""Coin reads: lookup, listing, search and the top of the market, over a `Catalog`."""

from __future__ import annotations

import enum
from typing import Callable

from .catalog import Catalog, CoinRecord
from .errors import InvalidArgument, NotFound
from .paging import Page, bounded, paginate

LIST_DEFAULT_PAGE_SIZE, LIST_MAX_PAGE_SIZE = 20, 100
SEARCH_DEFAULT_LIMIT, SEARCH_MAX_LIMIT = 10, 50
SEARCH_MAX_QUERY = 64
TOP_DEFAULT_LIMIT, TOP_MAX_LIMIT = 10, 100


class CoinSort(enum.Enum):
    RANK = "rank"
    PRICE = "price"
    MARKET_CAP = "market_cap"
    VOLUME_24H = "volume_24h"
    CHANGE_24H = "change_24h"
    NAME = "name"
    SYMBOL = "symbol"


def rank_key(coin: CoinRecord) -> tuple[bool, int]:
    # Rank 0 means unranked: after every ranked coin.
    return (coin.rank <= 0, coin.rank)


SORT_KEYS: dict[CoinSort, Callable[[CoinRecord], object]] = {
    CoinSort.RANK: rank_key,
    CoinSort.PRICE: lambda c: c.current_price_usd,
    CoinSort.MARKET_CAP: lambda c: c.market_cap_usd,
    CoinSort.VOLUME_24H: lambda c: c.volume_24h_usd,
    CoinSort.CHANGE_24H: lambda c: c.price_change_24h_percent,
    CoinSort.NAME: lambda c: c.name.casefold(),
    CoinSort.SYMBOL: lambda c: c.symbol,
}


def _required(text: str, field: str, max_length: int) -> str:
    stripped = text.strip()
    if not stripped:
        raise InvalidArgument(f"{field} must not be empty")
    if len(stripped) > max_length:
        raise InvalidArgument(f"{field} must be at most {max_length} characters")
    return stripped


def get_coin(catalog: Catalog, *, coin_id: int | None = None, symbol: str | None = None,
             slug: str | None = None) -> CoinRecord:
    if coin_id is not None:
        found, asked = catalog.by_id.get(coin_id), f"id {coin_id}"
    elif symbol is not None:
        found, asked = catalog.by_symbol.get(_required(symbol, "symbol", 32).upper()), \
            f"symbol {symbol!r}"
    elif slug is not None:
        found, asked = catalog.by_slug.get(_required(slug, "slug", 128).lower()), f"slug {slug!r}"
    else:
        raise InvalidArgument("one of id, symbol or slug is required")
    if found is None:
        raise NotFound(f"coin not found: {asked}")
    return found


def sorted_coins(coins: list[CoinRecord], sort: CoinSort, descending: bool) -> list[CoinRecord]:
    """Sorted by `sort`, ties always by id ascending (sorts are stable, even reversed)."""
    return sorted(coins, key=SORT_KEYS[sort], reverse=descending)


def list_coins(catalog: Catalog, *, page: int, page_size: int, active_only: bool,
               tradeable_only: bool, sort: CoinSort, descending: bool) -> Page[CoinRecord]:
    page = bounded(page, field="page", default=1, maximum=2**31 - 1)
    page_size = bounded(page_size, field="page_size", default=LIST_DEFAULT_PAGE_SIZE,
                        maximum=LIST_MAX_PAGE_SIZE)
    coins = [c for c in catalog.coins
             if (c.is_active or not active_only) and (c.is_tradeable or not tradeable_only)]
    return paginate(sorted_coins(coins, sort, descending), page, page_size)


def search_coins(catalog: Catalog, query: str, limit: int) -> Page[CoinRecord]:
    """Active coins matching `query` anywhere in symbol, name or slug, case-insensitively:
    the exact symbol first, then prefix matches, then the rest, each group by rank."""
    needle = query.strip().casefold()
    if not needle:
        raise InvalidArgument("query must not be empty")
    if len(needle) > SEARCH_MAX_QUERY:
        raise InvalidArgument(f"query must be at most {SEARCH_MAX_QUERY} characters")
    limit = bounded(limit, field="limit", default=SEARCH_DEFAULT_LIMIT, maximum=SEARCH_MAX_LIMIT)

    def relevance(coin: CoinRecord) -> int | None:
        fields = (coin.symbol.casefold(), coin.name.casefold(), coin.slug.casefold())
        if fields[0] == needle:
            return 0
        if any(f.startswith(needle) for f in fields):
            return 1
        if any(needle in f for f in fields):
            return 2
        return None

    scored = [(score, c) for c in catalog.active if (score := relevance(c)) is not None]
    scored.sort(key=lambda pair: (pair[0], rank_key(pair[1]), pair[1].id))
    return paginate([c for _, c in scored], 1, limit)


def top_coins(catalog: Catalog, limit: int) -> Page[CoinRecord]:
    limit = bounded(limit, field="limit", default=TOP_DEFAULT_LIMIT, maximum=TOP_MAX_LIMIT)
    by_rank = sorted_coins(catalog.active, CoinSort.RANK, descending=False)
    return paginate(sorted_coins(by_rank, CoinSort.MARKET_CAP, descending=True), 1, limit)

