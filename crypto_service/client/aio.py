"""`AsyncCryptoClient`: every CryptoService RPC as a coroutine over one grpclib channel."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from contextlib import aclosing
from ssl import SSLContext
from types import TracebackType
from typing import Any, Self, TypeVar, cast

from grpclib.client import Channel
from grpclib.health.v1.health_grpc import HealthStub
from grpclib.health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse

from ..generated import crypto as pb
from ..generated.google import protobuf as pb_google
from . import results as r
from .errors import NotFound, translated_errors
from .requests import TRENDING_ALIASES, Amount, amount_text, enum_value, host_and_port
from .retry import DEFAULT_RETRY, NO_RETRY, RetryPolicy
from .tls import FilePath, tls_context

T = TypeVar("T")
DEFAULT_ADDRESS = "localhost:50051"
DEFAULT_TIMEOUT = 10.0
IDEMPOTENCY_KEY = "idempotency-key"


class AsyncCryptoClient:
    """A client for crypto.CryptoService.

    Every unary call has a deadline of `timeout` seconds, retries included: reads are retried
    on UNAVAILABLE per `retry` while time is left; Withdraw and Transfer send an
    `idempotency-key` (a fresh one unless given) and reuse it across retries; Deposit is
    retried only when it has a `transaction_id`, its idempotency key. `stream_prices` runs
    until it is closed, unless given a timeout of its own. Results are the typed values of
    `crypto_service.client.results`, money as `Decimal`; failures raise `CryptoError`
    subclasses (a malformed `address` raises `InvalidAddress` at once).

    TLS: `tls=True` verifies the server against the system's CAs, `ca` against that CA file
    instead; `cert` and `key` present a client certificate (servers with mTLS require one).
    Any of them turns TLS on. `ssl` takes a ready `SSLContext` (or True) instead.

    Use it as `async with AsyncCryptoClient(...) as client:`, or call `close()`.
    """

    def __init__(self, address: str = DEFAULT_ADDRESS, *, token: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, ssl: bool | SSLContext | None = None,
                 tls: bool = False, ca: FilePath | None = None, cert: FilePath | None = None,
                 key: FilePath | None = None, retry: RetryPolicy = DEFAULT_RETRY,
                 channel: Channel | None = None) -> None:
        """`channel`: a ready grpclib channel to use instead of connecting to `address`
        (e.g. `grpclib.testing.ChannelFor`); the client leaves closing it to its owner. A TLS
        file that cannot be used is `InvalidTLSOption` here, naming it."""
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
    def _connection(self) -> Channel:
        if self._given_channel is not None:
            return self._given_channel
        # The channel binds to the running loop, so it is made on first use, inside it.
        if self._channel is None:
            self._channel = Channel(self._host, self._port, ssl=self._ssl)
        return self._channel

    @property
    def _stub(self) -> pb.CryptoServiceStub:
        # No default timeout on the stub: unary calls pass theirs, streams have none.
        return pb.CryptoServiceStub(self._connection)

    async def _call(self, call: Callable[..., Awaitable[T]], request: object, *,
                    retry: bool = True, metadata: dict[str, str] | None = None) -> T:
        async def attempt(seconds_left: float) -> T:
            with translated_errors():
                return await call(request, timeout=seconds_left,
                                  metadata={**self._metadata, **(metadata or {})})

        return await (self.retry if retry else NO_RETRY).run(attempt, self.timeout)

    async def check_health(self, service: str = "") -> str:
        """The server's grpc.health.v1 status (`SERVING`, `NOT_SERVING`) for `service`, or
        for the whole server when empty; an unknown service raises `NotFound`."""
        stub: Any = HealthStub(self._connection)
        try:
            response = await self._call(stub.Check, HealthCheckRequest(service=service))
        except NotFound as exc:
            raise NotFound(exc.message or f"the server has no service {service!r}",
                           details=exc.details) from exc
        return HealthCheckResponse.ServingStatus.Name(response.status)

    # Coins and market: public reads.

    async def get_coin(self, symbol: str | None = None, *, coin_id: int | None = None,
                       slug: str | None = None) -> r.Coin:
        """One coin by symbol, id or slug (give one)."""
        request = pb.GetCoinRequest(id=coin_id, symbol=symbol, slug=slug)
        response = await self._call(self._stub.get_coin, request)
        return r.one(r.Coin, response.coin, response)

    async def list_coins(self, page: int = 0, page_size: int = 0, *,
                         sort_by: pb.SortBy | str = pb.SortBy.RANK, descending: bool = False,
                         active_only: bool = False,
                         tradeable_only: bool = False) -> r.CoinPage:
        """A page of coins with the totals (`total_count`, `total_pages`, the page used)."""
        request = pb.ListCoinsRequest(
            page=page, page_size=page_size, active_only=active_only,
            tradeable_only=tradeable_only, sort_by=enum_value(pb.SortBy, sort_by),
            sort_order=pb.SortOrder.DESC if descending else pb.SortOrder.ASC)
        return r.CoinPage.from_wire(await self._call(self._stub.list_coins, request))

    async def search_coins(self, query: str, limit: int = 0) -> r.CoinList:
        """Coins whose symbol, name or slug contains `query`."""
        request = pb.SearchCoinsRequest(query=query, limit=limit)
        return r.coin_list(await self._call(self._stub.search_coins, request))

    async def list_top_coins(self, limit: int = 10) -> r.CoinList:
        """Active coins by market cap, largest first."""
        request = pb.GetTopCoinsRequest(limit=limit)
        return r.coin_list(await self._call(self._stub.get_top_coins, request))

    async def get_market_stats(self) -> r.MarketStats:
        response = await self._call(self._stub.get_market_stats, pb_google.Empty())
        return r.MarketStats.from_wire(response)

    async def get_trending_coins(self, kind: pb.TrendingType | str,
                                 limit: int = 0) -> r.CoinList:
        """`kind`: a TrendingType, its name, or `gainers`, `losers`, `traded`."""
        request = pb.GetTrendingCoinsRequest(
            type=enum_value(pb.TrendingType, kind, TRENDING_ALIASES), limit=limit)
        return r.coin_list(await self._call(self._stub.get_trending_coins, request))

    async def stream_prices(self, symbols: Iterable[str] = (), interval: int = 5, *,
                            timeout: float | None = None
                            ) -> AsyncGenerator[r.PriceUpdate, None]:
        """Price updates until the server ends the stream or the iterator is closed (leaving
        an `async for` closes it; `contextlib.aclosing` closes it at once), which cancels the
        call. A stream runs as long as it is read: it has a deadline only when given one."""
        request = pb.StreamPricesRequest(symbols=list(symbols), interval_seconds=interval)
        updates = cast(AsyncGenerator[pb.PriceUpdate, None], self._stub.stream_prices(
            request, timeout=timeout, metadata=self._metadata))
        with translated_errors():
            async with aclosing(updates):
                async for update in updates:
                    yield r.PriceUpdate.from_wire(update)

    # Wallets: reads, then writes.

    async def get_wallet(self, user_id: int, symbol: str | None = None, *,
                         coin_id: int | None = None) -> r.Wallet:
        """One user's wallet for one coin (by symbol or id)."""
        request = pb.GetWalletRequest(user_id=user_id, symbol=symbol, coin_id=coin_id)
        response = await self._call(self._stub.get_wallet, request)
        return r.one(r.Wallet, response.wallet, response)

    async def list_wallets(self, user_id: int, *,
                           exclude_zero_balance: bool = False) -> r.WalletList:
        request = pb.ListWalletsRequest(user_id=user_id, exclude_zero_balance=exclude_zero_balance)
        return r.WalletList.from_wire(await self._call(self._stub.list_wallets, request))

    async def get_portfolio(self, user_id: int) -> r.Portfolio:
        request = pb.GetPortfolioRequest(user_id=user_id)
        return r.Portfolio.from_wire(await self._call(self._stub.get_portfolio, request))

    async def list_transactions(self, user_id: int, symbol: str = "", *, page: int = 0,
                                page_size: int = 0) -> r.TransactionPage:
        """The user's ledger transactions, newest first."""
        request = pb.ListTransactionsRequest(user_id=user_id, symbol=symbol, page=page,
                                             page_size=page_size)
        response = await self._call(self._stub.list_transactions, request)
        return r.TransactionPage.from_wire(response)

    async def deposit(self, user_id: int, symbol: str, amount: Amount, *,
                      transaction_id: str = "") -> r.Posted:
        """Credits a wallet. `transaction_id` is the idempotency key: with one the call is
        retried and a replay credits nothing more; without one it is never retried."""
        request = pb.DepositRequest(user_id=user_id, symbol=symbol, amount=amount_text(amount),
                                    transaction_id=transaction_id)
        response = await self._call(self._stub.deposit, request, retry=bool(transaction_id))
        return r.Posted.from_wire(response)

    async def withdraw(self, user_id: int, symbol: str, amount: Amount,
                       destination_address: str, *,
                       idempotency_key: str | None = None) -> r.Posted:
        """Debits a wallet to an external address; retried with the same idempotency key,
        so a retry moves nothing again."""
        request = pb.WithdrawRequest(user_id=user_id, symbol=symbol, amount=amount_text(amount),
                                     destination_address=destination_address)
        response = await self._call(self._stub.withdraw, request,
                                    metadata={IDEMPOTENCY_KEY: idempotency_key or new_key()})
        return r.Posted.from_wire(response)

    async def transfer(self, from_user_id: int, to_user_id: int, symbol: str, amount: Amount,
                       *, note: str = "",
                       idempotency_key: str | None = None) -> r.Transfer:
        """Moves an amount between two users; retried with the same idempotency key."""
        request = pb.TransferRequest(from_user_id=from_user_id, to_user_id=to_user_id,
                                     symbol=symbol, amount=amount_text(amount), note=note)
        response = await self._call(self._stub.transfer, request,
                                    metadata={IDEMPOTENCY_KEY: idempotency_key or new_key()})
        return r.Transfer.from_wire(response)


def new_key() -> str:
    return str(uuid.uuid4())
