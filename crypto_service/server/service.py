"""CryptoService: each RPC validates its request, calls one domain function, converts."""

from __future__ import annotations

from decimal import Decimal

import betterproto2
from google.protobuf.message import Message
from grpclib.const import Handler

from .. import convert
from ..domain import coins, ledger, market, validate, wallets
from ..domain.catalog import CatalogCache, CoinRecord
from ..domain.errors import InvalidArgument
from ..domain.money import format_decimal, parse_amount
from ..generated import crypto as pb
from ..generated.google import protobuf as pb_google
from .context import current_call
from .guard import CallGuard
from .ledger_outcomes import LedgerOutcomes
from .prices import PriceStreams
from .read_cache import ReadCache

COIN_IDENTIFIERS = {"id": "coin_id", "symbol": "symbol", "slug": "slug"}
WALLET_COIN_IDENTIFIERS = {"coin_id": "coin_id", "symbol": "symbol"}
NOTE_MAX_LENGTH = 256


class CryptoService(pb.CryptoServiceBase):
    def __init__(self, catalog: CatalogCache, guard: CallGuard, prices: PriceStreams,
                 outcomes: LedgerOutcomes | None = None) -> None:
        self.catalog = catalog
        self.guard = guard
        self.prices = prices
        self.reads = ReadCache(catalog)
        self.outcomes = outcomes or LedgerOutcomes(None, None)

    def __mapping__(self) -> dict[str, Handler]:
        mapping = super().__mapping__()
        mapping[PriceStreams.PATH] = mapping[PriceStreams.PATH]._replace(func=self.prices.serve)
        return self.guard.wrap(mapping)

    # The six catalog reads answer with encoded bytes from `ReadCache` (the codec sends bytes
    # as they are), keyed by what each request asks; the generated glue only passes them on.
    async def get_coin(self, message: pb.GetCoinRequest) -> bytes:
        field, value = betterproto2.which_one_of(message, "identifier")
        lookup = {COIN_IDENTIFIERS[field]: value} if field else {}
        return await self.reads.respond(
            ("GetCoin", field, value),
            lambda catalog: convert.to_coin_response(coins.get_coin(catalog, **lookup)))

    async def list_coins(self, message: pb.ListCoinsRequest) -> bytes:
        sort, descending = convert.to_sort(message.sort_by, message.sort_order)
        asked = {"page": message.page, "page_size": message.page_size,
                 "active_only": message.active_only, "tradeable_only": message.tradeable_only,
                 "sort": sort, "descending": descending}
        return await self.reads.respond(
            ("ListCoins", *asked.values()),
            lambda catalog: convert.to_coin_page(coins.list_coins(catalog, **asked)))

    async def search_coins(self, message: pb.SearchCoinsRequest) -> bytes:
        return await self.reads.respond(
            ("SearchCoins", message.query, message.limit),
            lambda catalog: convert.to_coin_page(
                coins.search_coins(catalog, message.query, message.limit)))

    async def get_top_coins(self, message: pb.GetTopCoinsRequest) -> bytes:
        return await self.reads.respond(
            ("GetTopCoins", message.limit),
            lambda catalog: convert.to_coin_page(coins.top_coins(catalog, message.limit)))

    async def get_market_stats(self, message: pb_google.Empty) -> bytes:
        # calculated_at is when the figures were computed from the current snapshot, kept with
        # them: the same bytes until a price moves.
        return await self.reads.respond(
            ("GetMarketStats",),
            lambda catalog: convert.to_market_stats_response(market.market_stats(catalog)))

    async def get_trending_coins(self, message: pb.GetTrendingCoinsRequest) -> bytes:
        trend = convert.to_trend(message.type)
        return await self.reads.respond(
            ("GetTrendingCoins", trend, message.limit),
            lambda catalog: convert.to_trending_response(
                trend, market.trending(catalog, trend, message.limit)))

    async def get_wallet(self, message: pb.GetWalletRequest) -> Message:
        user_id = validate.user_id(message.user_id)
        field, value = betterproto2.which_one_of(message, "coin_identifier")
        if not field:
            raise InvalidArgument("coin_id or symbol is required")
        lookup = {WALLET_COIN_IDENTIFIERS[field]: value}
        coin = coins.get_coin(await self.catalog.current(), **lookup)
        wallet = await wallets.get_wallet(user_id, coin)
        return convert.to_wallet_response(wallet, f"{coin.symbol} wallet of user {user_id}")

    async def list_wallets(self, message: pb.ListWalletsRequest) -> Message:
        user_id = validate.user_id(message.user_id)
        found = await wallets.list_wallets(await self.catalog.current(), user_id,
                                           exclude_zero=message.exclude_zero_balance)
        return convert.to_wallets_response(found)

    async def get_portfolio(self, message: pb.GetPortfolioRequest) -> Message:
        user_id = validate.user_id(message.user_id)
        summary = await wallets.portfolio(await self.catalog.current(), user_id)
        return convert.to_portfolio_response(summary)

    async def deposit(self, message: pb.DepositRequest) -> Message:
        user_id = validate.user_id(message.user_id)
        amount = parse_amount(message.amount, "amount")
        key = validate.token(message.transaction_id, "transaction_id") \
            if message.transaction_id else None
        coin = await self._coin(message.symbol)
        posted = await self.outcomes.record("deposit",
                                            ledger.deposit(user_id, coin, amount, key))
        return convert.to_wallet_response(
            posted.wallets[user_id], _posted_message("deposited", amount, coin, posted), posted)

    async def withdraw(self, message: pb.WithdrawRequest) -> Message:
        user_id = validate.user_id(message.user_id)
        amount = parse_amount(message.amount, "amount")
        destination = validate.token(message.destination_address, "destination_address")
        coin = await self._coin(message.symbol)
        posted = await self.outcomes.record("withdraw", ledger.withdraw(
            user_id, coin, amount, destination, current_call.get().idempotency_key))
        return convert.to_wallet_response(
            posted.wallets[user_id], _posted_message("withdrew", amount, coin, posted), posted)

    async def transfer(self, message: pb.TransferRequest) -> Message:
        sender = validate.user_id(message.from_user_id, "from_user_id")
        recipient = validate.user_id(message.to_user_id, "to_user_id")
        if sender == recipient:
            raise InvalidArgument("from_user_id and to_user_id must differ")
        amount = parse_amount(message.amount, "amount")
        note = validate.text(message.note, "note", NOTE_MAX_LENGTH)
        coin = await self._coin(message.symbol)
        posted = await self.outcomes.record("transfer", ledger.transfer(
            sender, recipient, coin, amount, note, current_call.get().idempotency_key))
        return convert.to_transfer_response(
            posted, sender, recipient, _posted_message("transferred", amount, coin, posted))

    async def list_transactions(self, message: pb.ListTransactionsRequest) -> Message:
        user_id = validate.user_id(message.user_id)
        catalog = await self.catalog.current()
        coin = coins.get_coin(catalog, symbol=message.symbol) if message.symbol else None
        page = await ledger.history(catalog, user_id, coin, message.page, message.page_size)
        return convert.to_transactions_response(page)

    async def _coin(self, symbol: str) -> CoinRecord:
        return coins.get_coin(await self.catalog.current(), symbol=symbol)


def _posted_message(verb: str, amount: Decimal, coin: CoinRecord, posted: ledger.Posted) -> str:
    if posted.replayed:
        return f"already applied as transaction {posted.transaction_id}: nothing moved again"
    return f"{verb} {format_decimal(amount)} {coin.symbol} (transaction {posted.transaction_id})"
