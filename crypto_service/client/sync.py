"""`CryptoClient`: the async client's methods, blocking, for scripts and notebooks.

Calls run on the client's own event loop in a background thread, so it works where no loop
runs (a script) and where one already runs in the calling thread (a notebook, an async app:
`asyncio.run` would refuse there). The caller's thread waits for each call.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import weakref
from collections.abc import Callable, Coroutine, Iterable, Iterator
from concurrent.futures import Future
from ssl import SSLContext
from types import TracebackType
from typing import Any, Self, TypeVar

from ..generated import crypto as pb
from .aio import DEFAULT_ADDRESS, AsyncCryptoClient
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


# Every unary method of the async client, made blocking below the class.
BLOCKING_METHODS = (
    "get_coin", "list_coins", "search_coins", "list_top_coins", "get_market_stats",
    "get_trending_coins", "get_wallet", "list_wallets", "get_portfolio", "list_transactions",
    "deposit", "withdraw", "transfer",
)


def _blocking(method: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    @functools.wraps(method)
    def call(self: CryptoClient, *args: Any, **kwargs: Any) -> T:
        return self._loop.run(method(self._client, *args, **kwargs))

    return call


class CryptoClient:
    """The same methods as `AsyncCryptoClient` (`BLOCKING_METHODS`, and `stream_prices` as a
    plain iterator), blocking. A context manager; `close()` ends its thread (it also ends when
    the client is garbage-collected or at exit)."""

    def __init__(self, address: str = DEFAULT_ADDRESS, *, token: str | None = None,
                 timeout: float = 10.0, ssl: bool | SSLContext | None = None,
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

    def stream_prices(self, symbols: Iterable[str] = (), interval: int = 5, *,
                      timeout: float | None = None) -> Iterator[pb.PriceUpdate]:
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


for _name in BLOCKING_METHODS:
    setattr(CryptoClient, _name, _blocking(getattr(AsyncCryptoClient, _name)))
