"""When to retry a call, and with what backoff.

Only UNAVAILABLE is retried: the server was unreachable or shutting down, or its database
busy or unreachable for a moment, so a retry can succeed. Every other status is an answer that
a retry would only repeat (a refused amount, a missing wallet, a bug), and is not. Reads are
always safe to retry; a write is retried only with an idempotency key, which makes the server
apply it at most once (the client decides that, not this module).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from .errors import Unavailable

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Up to `attempts` calls in all, waiting exponentially from `initial_backoff` seconds
    (with as much jitter) up to `max_backoff` between them."""

    attempts: int = 4
    initial_backoff: float = 0.1
    max_backoff: float = 2.0

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts),
            wait=(wait_exponential(multiplier=self.initial_backoff, max=self.max_backoff)
                  + wait_random(0, self.initial_backoff)),
            retry=retry_if_exception_type(Unavailable),
            reraise=True,
        )
        return await retrying(call)


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(attempts=1)
