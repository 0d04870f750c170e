"""A CryptoService stand-in for the RPCs that have no real implementation on this branch
(wallets, StreamPrices) and for faults the real server cannot be made to show (UNAVAILABLE
N times, any status on demand). It answers from the request, so a test sees its own input
come back, and it records every call's method, request and metadata."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from grpclib.const import Handler, Status
from grpclib.exceptions import GRPCError

from crypto_service.generated import crypto as pb
from crypto_service.generated.google import protobuf as pb_google

AS_OF = datetime(2025, 1, 1, tzinfo=UTC)
PRICES = {"BTC": ("94000.5", "1.5"), "ETH": ("3300", "-2.25")}
NAMES = {"BTC": "Bitcoin", "ETH": "Ethereum"}


@dataclass
class Call:
    method: str  # as in the proto: GetWallet
    metadata: dict[str, str]
    request: Any = None

    @property
    def method_name(self) -> str:
        """The servicer's method: get_wallet."""
        return "".join(f"_{c.lower()}" if c.isupper() else c for c in self.method).lstrip("_")


def coin(symbol: str, rank: int) -> pb.Coin:
    price, change = PRICES.get(symbol, ("1", "0"))
    name = NAMES.get(symbol, f"{symbol} coin")
    return pb.Coin(id=rank, symbol=symbol, name=name, slug=name.lower(),
                   rank=rank, current_price_usd=price, price_change_24h_percent=change,
                   volume_24h_usd="1000", market_cap_usd=str(1000 * (10 - rank)))


def wallet(user_id: int, symbol: str, balance: str) -> pb.Wallet:
    return pb.Wallet(id=user_id * 100, user_id=user_id, symbol=symbol, coin_name=f"{symbol} coin",
                     balance=balance, locked_balance="0", total_balance=balance,
                     value_usd=balance, address=f"addr-{user_id}-{symbol}", created_at=AS_OF)


@dataclass
class FakeService(pb.CryptoServiceBase):
    coins: list[pb.Coin] = field(default_factory=lambda: [coin("BTC", 1), coin("ETH", 2)])
    calls: list[Call] = field(default_factory=list)
    # Raised, in order, by the next calls instead of answering.
    failures: list[GRPCError] = field(default_factory=list)
    # Rounds of one update per symbol; then the stream ends, or stays open when `endless`.
    stream_rounds: int = 2
    endless: bool = False
    # Set when a stream handler ends, however it ends; a thread-safe event, since the server
    # may run on another thread's loop than the test's.
    stream_closed: threading.Event = field(default_factory=threading.Event)

    def __mapping__(self) -> dict[str, Handler]:
        return {path: handler._replace(func=self._recorded(path, handler.func))
                for path, handler in super().__mapping__().items()}

    def _recorded(self, path: str, func: Any) -> Any:
        async def recorded(stream: Any) -> None:
            call = Call(path.rsplit("/", 1)[1], dict(stream.metadata))
            self.calls.append(call)
            if self.failures:
                raise self.failures.pop(0)
            receive = stream.recv_message

            async def recv_and_record() -> Any:
                call.request = await receive()
                return call.request

            stream.recv_message = recv_and_record
            await func(stream)

        return recorded

    def methods(self) -> list[str]:
        return [call.method for call in self.calls]

    async def get_coin(self, message: pb.GetCoinRequest) -> pb.CoinResponse:
        found = [c for c in self.coins if c.symbol == message.symbol]
        if not found:
            raise GRPCError(Status.NOT_FOUND, f"coin {message.symbol} not found")
        return pb.CoinResponse(success=True, message="coin found", coin=found[0])

    async def list_coins(self, message: pb.ListCoinsRequest) -> pb.ListCoinsResponse:
        return pb.ListCoinsResponse(success=True, coins=self.coins, total_count=len(self.coins),
                                    page=1, page_size=20, total_pages=1)

    async def search_coins(self, message: pb.SearchCoinsRequest) -> pb.ListCoinsResponse:
        found = [c for c in self.coins if message.query.lower() in c.slug]
        return pb.ListCoinsResponse(success=True, coins=found, total_count=len(found))

    async def get_top_coins(self, message: pb.GetTopCoinsRequest) -> pb.ListCoinsResponse:
        return pb.ListCoinsResponse(success=True, coins=self.coins[:message.limit])

    async def get_market_stats(self, message: pb_google.Empty) -> pb.MarketStatsResponse:
        return pb.MarketStatsResponse(success=True, active_coins_count=len(self.coins),
                                      total_market_cap_usd="17000", calculated_at=AS_OF)

    async def get_trending_coins(self, message: pb.GetTrendingCoinsRequest
                                 ) -> pb.TrendingCoinsResponse:
        return pb.TrendingCoinsResponse(success=True, type=message.type, coins=self.coins[:1])

    async def stream_prices(self, message: pb.StreamPricesRequest
                            ) -> AsyncIterator[pb.PriceUpdate]:
        try:
            for _ in range(self.stream_rounds):
                for symbol in message.symbols:
                    price, change = PRICES[symbol]
                    yield pb.PriceUpdate(symbol=symbol, price_usd=price,
                                         change_24h_percent=change, timestamp=AS_OF)
            if self.endless:
                await asyncio.Event().wait()  # until the client cancels
        finally:
            self.stream_closed.set()

    async def get_wallet(self, message: pb.GetWalletRequest) -> pb.WalletResponse:
        return pb.WalletResponse(success=True, wallet=wallet(message.user_id, message.symbol,
                                                             "1.5"))

    async def list_wallets(self, message: pb.ListWalletsRequest) -> pb.ListWalletsResponse:
        wallets = [wallet(message.user_id, "BTC", "1.5"), wallet(message.user_id, "ETH", "0")]
        if message.exclude_zero_balance:
            wallets = wallets[:1]
        return pb.ListWalletsResponse(success=True, wallets=wallets, total_value_usd="1.5")

    async def get_portfolio(self, message: pb.GetPortfolioRequest) -> pb.PortfolioResponse:
        holding = pb.PortfolioHolding(symbol="BTC", coin_name="Bitcoin", balance="0.5",
                                      value_usd="47000.25", percentage="100",
                                      change_24h_percent="1.5")
        return pb.PortfolioResponse(success=True, total_value_usd="47000.25",
                                    total_change_24h_usd="694.58", total_change_24h_percent="1.5",
                                    coins_count=1, holdings=[holding], calculated_at=AS_OF)

    async def deposit(self, message: pb.DepositRequest) -> pb.WalletResponse:
        return pb.WalletResponse(success=True, message="deposited",
                                 wallet=wallet(message.user_id, message.symbol, message.amount))

    async def withdraw(self, message: pb.WithdrawRequest) -> pb.WalletResponse:
        return pb.WalletResponse(success=True, message="withdrawn",
                                 wallet=wallet(message.user_id, message.symbol, "0"))

    async def transfer(self, message: pb.TransferRequest) -> pb.TransferResponse:
        return pb.TransferResponse(
            success=True, message="transferred", transaction_id="tx-1",
            from_wallet=wallet(message.from_user_id, message.symbol, "0"),
            to_wallet=wallet(message.to_user_id, message.symbol, message.amount))

    async def list_transactions(self, message: pb.ListTransactionsRequest
                                ) -> pb.ListTransactionsResponse:
        entry = pb.LedgerTransaction(
            id="tx-1", kind=pb.TransactionKind.DEPOSIT, symbol="BTC", amount="0.5",
            balance_change="0.5", to_user_id=message.user_id, transaction_id="ext-1",
            created_at=AS_OF)
        return pb.ListTransactionsResponse(success=True, transactions=[entry], total_count=1,
                                           page=1, page_size=20, total_pages=1)
