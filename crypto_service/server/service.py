"""CryptoService: each RPC validates its request, calls one domain function, converts."""

from __future__ import annotations

import betterproto2
from grpclib.const import Handler

from .. import convert
from ..domain import coins, market
from ..domain.catalog import CatalogCache
from ..generated import crypto as pb
from ..generated.google import protobuf as pb_google
from .guard import CallGuard
from .prices import PriceStreams

COIN_IDENTIFIERS = {"id": "coin_id", "symbol": "symbol", "slug": "slug"}


class CryptoService(pb.CryptoServiceBase):
    def __init__(self, catalog: CatalogCache, guard: CallGuard, prices: PriceStreams) -> None:
        self.catalog = catalog
        self.guard = guard
        self.prices = prices

    def __mapping__(self) -> dict[str, Handler]:
        mapping = super().__mapping__()
        mapping[PriceStreams.PATH] = mapping[PriceStreams.PATH]._replace(func=self.prices.serve)
        return self.guard.wrap(mapping)

    async def get_coin(self, message: pb.GetCoinRequest) -> pb.CoinResponse:
        field, value = betterproto2.which_one_of(message, "identifier")
        lookup = {COIN_IDENTIFIERS[field]: value} if field else {}
        coin = coins.get_coin(await self.catalog.current(), **lookup)
        return convert.to_coin_response(coin)

    async def list_coins(self, message: pb.ListCoinsRequest) -> pb.ListCoinsResponse:
        sort, descending = convert.to_sort(message.sort_by, message.sort_order)
        page = coins.list_coins(
            await self.catalog.current(),
            page=message.page,
            page_size=message.page_size,
            active_only=message.active_only,
            tradeable_only=message.tradeable_only,
            sort=sort,
            descending=descending,
        )
        return convert.to_coin_page(page)

    async def search_coins(self, message: pb.SearchCoinsRequest) -> pb.ListCoinsResponse:
        page = coins.search_coins(await self.catalog.current(), message.query, message.limit)
        return convert.to_coin_page(page)

    async def get_top_coins(self, message: pb.GetTopCoinsRequest) -> pb.ListCoinsResponse:
        page = coins.top_coins(await self.catalog.current(), message.limit)
        return convert.to_coin_page(page)

    async def get_market_stats(self, message: pb_google.Empty) -> pb.MarketStatsResponse:
        stats = market.market_stats(await self.catalog.current())
        return convert.to_market_stats_response(stats)

    async def get_trending_coins(
        self, message: pb.GetTrendingCoinsRequest
    ) -> pb.TrendingCoinsResponse:
        trend = convert.to_trend(message.type)
        found = market.trending(await self.catalog.current(), trend, message.limit)
        return convert.to_trending_response(trend, found)
