"""`AsyncCryptoClient`: every CryptoService RPC as a coroutine over one grpclib channel."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import aclosing
from ssl import SSLContext
from types import TracebackType
from typing import Self, TypeVar

from grpclib.client import Channel

from ..generated import crypto as pb
from ..generated.google import protobuf as pb_google
from .errors import translated_errors
from .requests import TRENDING_ALIASES, Amount, amount_text, enum_value, host_and_port
from .retry import DEFAULT_RETRY, NO_RETRY, RetryPolicy
from .tls import FilePath, tls_context

T = TypeVar("T")
DEFAULT_ADDRESS = "localhost:50051"
IDEMPOTENCY_KEY = "idempotency-key"


class AsyncCryptoClient:
    """A client for crypto.CryptoService.

    Every call has a deadline (`timeout` seconds, per attempt). Reads are retried on
    UNAVAILABLE per `retry`; Withdraw and Transfer send an `idempotency-key` (a fresh one
    unless given) and reuse it across retries; Deposit is retried only when it has a
    `transaction_id`, its idempotency key. Failures raise `CryptoError` subclasses.

    TLS: `tls=True` verifies the server against the system's CAs, `ca` against that CA file
    instead; `cert` and `key` present a client certificate (servers with mTLS require one).
    Any of them turns TLS on. `ssl` takes a ready `SSLContext` (or True) instead.

    Use it as `async with AsyncCryptoClient(...) as client:`, or call `close()`.
    """

    def __init__(self, address: str = DEFAULT_ADDRESS, *, token: str | None = None,
                 timeout: float = 10.0, ssl: bool | SSLContext | None = None,
                 tls: bool = False, ca: FilePath | None = None, cert: FilePath | None = None,
                 key: FilePath | None = None, retry: RetryPolicy = DEFAULT_RETRY,
                 channel: Channel | None = None) -> None:
        """`channel`: a ready grpclib channel to use instead of connecting to `address`
        (e.g. `grpclib.testing.ChannelFor`); the client leaves closing it to its owner. A TLS
        file that cannot be used is a ValueError here, naming it."""
        self.address = address
        self.timeout = timeout
        self.retry = retry
        self._host, self._port = host_and_port(address)
        self._ssl = tls_context(ssl, tls=tls, ca=ca, cert=cert, key=key)
        self._metadata = {"authorization": f"Bearer {token}"} if token else {}
        self._given_channel = channel
        self._channel: Channel | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None

    @property
    def _stub(self) -> pb.CryptoServiceStub:
        if self._given_channel is not None:
            return pb.CryptoServiceStub(self._given_channel, timeout=self.timeout)
        # The channel binds to the running loop, so it is made on first use, inside it.
        if self._channel is None:
            self._channel = Channel(self._host, self._port, ssl=self._ssl)
        return pb.CryptoServiceStub(self._channel, timeout=self.timeout)

    async def _call(self, call: Callable[..., Awaitable[T]], request: object, *,
                    retry: bool = True, metadata: dict[str, str] | None = None) -> T:
        async def attempt() -> T:
            with translated_errors():
                return await call(request, metadata={**self._metadata, **(metadata or {})})

        return await (self.retry if retry else NO_RETRY).run(attempt)

    # Coins and market: public reads.

    async def get_coin(self, symbol: str | None = None, *, coin_id: int | None = None,
                       slug: str | None = None) -> pb.Coin:
        """One coin by symbol, id or slug."""
        request = pb.GetCoinRequest(id=coin_id, symbol=symbol, slug=slug)
        return (await self._call(self._stub.get_coin, request)).coin

    async def list_coins(self, page: int = 0, page_size: int = 0, *,
                         sort_by: pb.SortBy | str = pb.SortBy.RANK, descending: bool = False,
                         active_only: bool = False,
                         tradeable_only: bool = False) -> pb.ListCoinsResponse:
        """A page of coins with the totals (`total_count`, `total_pages`, the page used)."""
        request = pb.ListCoinsRequest(
            page=page, page_size=page_size, active_only=active_only,
            tradeable_only=tradeable_only, sort_by=enum_value(pb.SortBy, sort_by),
            sort_order=pb.SortOrder.DESC if descending else pb.SortOrder.ASC)
        return await self._call(self._stub.list_coins, request)

    async def search_coins(self, query: str, limit: int = 0) -> list[pb.Coin]:
        request = pb.SearchCoinsRequest(query=query, limit=limit)
        return (await self._call(self._stub.search_coins, request)).coins

    async def list_top_coins(self, limit: int = 10) -> list[pb.Coin]:
        """Active coins by market cap, largest first."""
        request = pb.GetTopCoinsRequest(limit=limit)
        return (await self._call(self._stub.get_top_coins, request)).coins

    async def get_market_stats(self) -> pb.MarketStatsResponse:
        return await self._call(self._stub.get_market_stats, pb_google.Empty())

    async def get_trending_coins(self, kind: pb.TrendingType | str,
                                 limit: int = 0) -> list[pb.Coin]:
        """`kind`: a TrendingType, its name, or `gainers`, `losers`, `traded`."""
        request = pb.GetTrendingCoinsRequest(
            type=enum_value(pb.TrendingType, kind, TRENDING_ALIASES), limit=limit)
        return (await self._call(self._stub.get_trending_coins, request)).coins

    async def stream_prices(self, symbols: Iterable[str] = (), interval: int = 5, *,
                            timeout: float | None = None) -> AsyncIterator[pb.PriceUpdate]:
        """Price updates until the server ends the stream or the iterator is closed (leaving
        an `async for` closes it; `contextlib.aclosing` closes it at once), which cancels the
        call. A stream runs as long as it is read: it has a deadline only when given one."""
        request = pb.StreamPricesRequest(symbols=list(symbols), interval_seconds=interval)
        updates = self._stub.stream_prices(request, timeout=timeout, metadata=self._metadata)
        with translated_errors():
            async with aclosing(updates):
                async for update in updates:
                    yield update

    # Wallets: reads, then writes.

    async def get_wallet(self, user_id: int, symbol: str | None = None, *,
                         coin_id: int | None = None) -> pb.Wallet:
        request = pb.GetWalletRequest(user_id=user_id, symbol=symbol, coin_id=coin_id)
        return (await self._call(self._stub.get_wallet, request)).wallet

    async def list_wallets(self, user_id: int, *,
                           exclude_zero_balance: bool = False) -> pb.ListWalletsResponse:
        request = pb.ListWalletsRequest(user_id=user_id, exclude_zero_balance=exclude_zero_balance)
        return await self._call(self._stub.list_wallets, request)

    async def get_portfolio(self, user_id: int) -> pb.PortfolioResponse:
        request = pb.GetPortfolioRequest(user_id=user_id)
        return await self._call(self._stub.get_portfolio, request)

    async def list_transactions(self, user_id: int, symbol: str = "", *, page: int = 0,
                                page_size: int = 0) -> pb.ListTransactionsResponse:
        """The user's ledger transactions, newest first."""
        request = pb.ListTransactionsRequest(user_id=user_id, symbol=symbol, page=page,
                                             page_size=page_size)
        return await self._call(self._stub.list_transactions, request)

    async def deposit(self, user_id: int, symbol: str, amount: Amount, *,
                      transaction_id: str = "") -> pb.Wallet:
        """Credits a wallet. `transaction_id` is the idempotency key: with one the call is
        retried and a replay credits nothing more; without one it is never retried."""
        request = pb.DepositRequest(user_id=user_id, symbol=symbol, amount=amount_text(amount),
                                    transaction_id=transaction_id)
        response = await self._call(self._stub.deposit, request, retry=bool(transaction_id))
        return response.wallet

    async def withdraw(self, user_id: int, symbol: str, amount: Amount,
                       destination_address: str, *,
                       idempotency_key: str | None = None) -> pb.Wallet:
        request = pb.WithdrawRequest(user_id=user_id, symbol=symbol, amount=amount_text(amount),
                                     destination_address=destination_address)
        response = await self._call(self._stub.withdraw, request,
                                    metadata={IDEMPOTENCY_KEY: idempotency_key or new_key()})
        return response.wallet

    async def transfer(self, from_user_id: int, to_user_id: int, symbol: str, amount: Amount,
                       *, note: str = "",
                       idempotency_key: str | None = None) -> pb.TransferResponse:
        request = pb.TransferRequest(from_user_id=from_user_id, to_user_id=to_user_id,
                                     symbol=symbol, amount=amount_text(amount), note=note)
        return await self._call(self._stub.transfer, request,
                                metadata={IDEMPOTENCY_KEY: idempotency_key or new_key()})


def new_key() -> str:
    return str(uuid.uuid4())
