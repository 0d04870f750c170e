"""`CryptoClient`: the async client's methods, blocking, for scripts and notebooks.

Calls run on the client's own event loop in a background thread, so it works where no loop
runs (a script) and where one already runs in the calling thread (a notebook, an async app:
`asyncio.run` would refuse there). The caller's thread waits for each call.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Coroutine, Iterable, Iterator
from concurrent.futures import Future
from ssl import SSLContext
from types import TracebackType
from typing import Any, Self, TypeVar

from ..generated import crypto as pb
from . import results as r
from .aio import DEFAULT_ADDRESS, DEFAULT_TIMEOUT, AsyncCryptoClient
from .requests import Amount
from .retry import DEFAULT_RETRY, RetryPolicy
from .tls import FilePath

T = TypeVar("T")
_END = object()  # the stream's end, handed across threads (StopAsyncIteration cannot be)


class _LoopThread:
    """An event loop running forever in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="crypto-client",
                                       daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self.loop.is_closed():
            coroutine.close()
            raise RuntimeError("the client is closed")
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result()
        except BaseException:
            if not future.done():  # interrupted (Ctrl-C): the call must not outlive the wait
                future.cancel()
                # Let the loop take the cancellation in before anything else runs there (such
                # as closing the stream that call was reading).
                asyncio.run_coroutine_threadsafe(asyncio.sleep(0), self.loop).result()
            raise

    def stop(self, client: AsyncCryptoClient) -> None:
        if self.loop.is_closed():
            return
        self.run(client.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


class CryptoClient:
    """The methods of `AsyncCryptoClient`, blocking (`stream_prices` is a plain iterator),
    with the same deadlines, retries, results and errors. A context manager; `close()` ends
    its thread (it also ends when the client is garbage-collected or at exit)."""

    def __init__(self, address: str = DEFAULT_ADDRESS, *, token: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, ssl: bool | SSLContext | None = None,
                 tls: bool = False, ca: FilePath | None = None, cert: FilePath | None = None,
                 key: FilePath | None = None, retry: RetryPolicy = DEFAULT_RETRY) -> None:
        """The parameters of `AsyncCryptoClient` (TLS: `tls`, `ca`, `cert`, `key` or `ssl`)."""
        self._client = AsyncCryptoClient(address, token=token, timeout=timeout, ssl=ssl,
                                         tls=tls, ca=ca, cert=cert, key=key, retry=retry)
        self._loop = _LoopThread()
        self._closer = weakref.finalize(self, self._loop.stop, self._client)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._closer()

    @property
    def address(self) -> str:
        return self._client.address

    def check_health(self, service: str = "") -> str:
        return self._loop.run(self._client.check_health(service))

    def get_coin(self, symbol: str | None = None, *, coin_id: int | None = None,
                 slug: str | None = None) -> r.Coin:
        return self._loop.run(self._client.get_coin(symbol, coin_id=coin_id, slug=slug))

    def list_coins(self, page: int = 0, page_size: int = 0, *,
                   sort_by: pb.SortBy | str = pb.SortBy.RANK, descending: bool = False,
                   active_only: bool = False, tradeable_only: bool = False) -> r.CoinPage:
        return self._loop.run(self._client.list_coins(
            page, page_size, sort_by=sort_by, descending=descending, active_only=active_only,
            tradeable_only=tradeable_only))

    def search_coins(self, query: str, limit: int = 0) -> r.CoinList:
        return self._loop.run(self._client.search_coins(query, limit))

    def list_top_coins(self, limit: int = 10) -> r.CoinList:
        return self._loop.run(self._client.list_top_coins(limit))

    def get_market_stats(self) -> r.MarketStats:
        return self._loop.run(self._client.get_market_stats())

    def get_trending_coins(self, kind: pb.TrendingType | str, limit: int = 0) -> r.CoinList:
        return self._loop.run(self._client.get_trending_coins(kind, limit))

    def get_wallet(self, user_id: int, symbol: str | None = None, *,
                   coin_id: int | None = None) -> r.Wallet:
        return self._loop.run(self._client.get_wallet(user_id, symbol, coin_id=coin_id))

    def list_wallets(self, user_id: int, *, exclude_zero_balance: bool = False) -> r.WalletList:
        return self._loop.run(self._client.list_wallets(
            user_id, exclude_zero_balance=exclude_zero_balance))

    def get_portfolio(self, user_id: int) -> r.Portfolio:
        return self._loop.run(self._client.get_portfolio(user_id))

    def list_transactions(self, user_id: int, symbol: str = "", *, page: int = 0,
                          page_size: int = 0) -> r.TransactionPage:
        return self._loop.run(self._client.list_transactions(
            user_id, symbol, page=page, page_size=page_size))

    def deposit(self, user_id: int, symbol: str, amount: Amount, *,
                transaction_id: str = "") -> r.Posted:
        return self._loop.run(self._client.deposit(
            user_id, symbol, amount, transaction_id=transaction_id))

    def withdraw(self, user_id: int, symbol: str, amount: Amount, destination_address: str, *,
                 idempotency_key: str | None = None) -> r.Posted:
        return self._loop.run(self._client.withdraw(
            user_id, symbol, amount, destination_address, idempotency_key=idempotency_key))

    def transfer(self, from_user_id: int, to_user_id: int, symbol: str, amount: Amount, *,
                 note: str = "", idempotency_key: str | None = None) -> r.Transfer:
        return self._loop.run(self._client.transfer(
            from_user_id, to_user_id, symbol, amount, note=note,
            idempotency_key=idempotency_key))

    def stream_prices(self, symbols: Iterable[str] = (), interval: int = 5, *,
                      timeout: float | None = None) -> Iterator[r.PriceUpdate]:
        """A plain iterator of price updates; leaving the loop (break, an exception, Ctrl-C)
        or closing the iterator cancels the call."""
        updates = self._client.stream_prices(symbols, interval, timeout=timeout)

        async def next_update() -> Any:
            return await anext(updates, _END)

        try:
            while (update := self._loop.run(next_update())) is not _END:
                yield update
        finally:
            if not self._loop.loop.is_closed():  # else closing the client ended the call
                self._loop.run(updates.aclose())


# One docstring per method, written once on the async client, shown by help() and IDEs here too.
for _name, _method in vars(CryptoClient).items():
    _source = getattr(AsyncCryptoClient, _name, None)
    if callable(_method) and _method.__doc__ is None and _source is not None:
        _method.__doc__ = _source.__doc__
