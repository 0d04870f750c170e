"""Group commit: concurrent requests posted together, one database transaction per batch.

A request joins a queue; one worker task per event loop takes whatever has queued (up to
`max_batch`) and posts it in one transaction, then takes what queued meanwhile. A batch
therefore closes when it is full or when the database is free again: no timer, so a lone
request goes out on the next turn of the loop, as it would alone, and under load the batch
grows to what arrived while the previous one was committing.

`post_batch` answers each request on its own (a value, or the domain error that refuses it
alone); an error it raises belongs to the whole batch and is handled by what the database
said (db/errors.py): a lost race retries the batch (then every request is told the ledger is
busy), a lost connection answers every request with it (a commit in flight has an unknown
outcome, which only the caller's idempotency key resolves), anything else splits the batch
into single requests so that only the request that causes it fails.

The worker is not the callers' task: a caller that is cancelled stops waiting, and its
request, once queued, is posted all the same (db/writes.py waits for it at shutdown).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt
from tenacity import wait_random_exponential

from ..db import errors as db_errors
from .errors import Unavailable

log = logging.getLogger(__name__)

Request = TypeVar("Request")
Answer = TypeVar("Answer")
# One answer per request, in order: its result, or the exception that refuses it alone. The
# int is the attempt number (1 first): a retry may need to read what the first one skipped.
PostBatch = Callable[[Sequence[Request], int], Awaitable[list["Answer | BaseException"]]]

MAX_ATTEMPTS = 8
BUSY_MESSAGE = "the ledger is busy: try again"


@dataclass
class BatchStats:
    batches: int = 0
    requests: int = 0
    largest: int = 0


@dataclass
class GroupCommit(Generic[Request, Answer]):
    post_batch: PostBatch
    max_batch: int
    stats: BatchStats = field(default_factory=BatchStats)
    _queue: deque[tuple[Request, asyncio.Future]] = field(default_factory=deque)
    _worker: asyncio.Task[None] | None = None

    async def post(self, request: Request) -> Answer:
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._queue.append((request, future))
        if self._worker is None:
            self._worker = asyncio.ensure_future(self._run())
        return await future

    async def _run(self) -> None:
        batch: list[tuple[Request, asyncio.Future]] = []
        try:
            while self._queue:
                batch = [self._queue.popleft()
                         for _ in range(min(len(self._queue), self.max_batch))]
                self.stats.batches += 1
                self.stats.requests += len(batch)
                self.stats.largest = max(self.stats.largest, len(batch))
                await self._post(batch)
        except BaseException as exc:
            # Only a bug or the loop's own shutdown gets here: nobody may wait for good.
            failure = Unavailable("the ledger stopped: try again")
            for _, future in [*batch, *self._queue]:
                if not future.done():
                    future.set_exception(failure)
            self._queue.clear()
            if not isinstance(exc, Exception):  # cancelled, or the process is exiting
                raise
            log.exception("the ledger's batch worker failed")
        finally:
            self._worker = None

    async def _post(self, batch: list[tuple[Request, asyncio.Future]]) -> None:
        requests = [request for request, _ in batch]
        try:
            answers = await self._post_with_retries(requests)
        except Unavailable as exc:
            answers = [exc] * len(batch)
        except Exception as exc:
            if len(batch) > 1 and db_errors.classify(exc) is db_errors.Fault.OTHER:
                log.warning("a batch of %d failed (%r): posting its requests one by one",
                            len(batch), exc)
                for one in batch:
                    await self._post([one])
                return
            answers = [exc] * len(batch)
        for (_, future), answer in zip(batch, answers, strict=True):
            if future.done():
                continue
            if isinstance(answer, BaseException):
                future.set_exception(answer)
            else:
                future.set_result(answer)

    async def _post_with_retries(self, requests: list[Request]) -> list[Answer | BaseException]:
        """Lost races that a fresh attempt resolves (db/errors.py says which) are retried;
        if they go on, the ledger is busy."""
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(db_errors.is_retryable),
                stop=stop_after_attempt(MAX_ATTEMPTS),
                wait=wait_random_exponential(multiplier=0.005, max=0.25),
                reraise=True,
            ):
                with attempt:
                    return await self.post_batch(requests, attempt.retry_state.attempt_number)
        except Exception as exc:
            if not db_errors.is_retryable(exc):
                raise
            log.warning("ledger write gave up after %d attempts: %s", MAX_ATTEMPTS, exc)
            raise Unavailable(BUSY_MESSAGE) from None
        raise AssertionError("unreachable")
