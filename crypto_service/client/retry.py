"""When to retry a call, and with what backoff.

Only UNAVAILABLE is retried: the server was unreachable or shutting down, or its database
busy or unreachable for a moment, so a retry can succeed. Every other status is an answer that
a retry would only repeat (a refused amount, a missing wallet, a bug), and is not. Reads are
always safe to retry; a write is retried only with an idempotency key, which makes the server
apply it at most once (the client decides that, not this module).

Retries live inside the caller's deadline: an attempt gets the time that is left, and no
retry starts when its backoff would end past the deadline.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential,
    wait_random,
)

from .errors import DeadlineExceeded, Unavailable

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Up to `attempts` calls in all, waiting exponentially from `initial_backoff` seconds
    (with as much jitter) up to `max_backoff` between them."""

    attempts: int = 4
    initial_backoff: float = 0.1
    max_backoff: float = 2.0

    async def run(self, call: Callable[[float], Awaitable[T]], timeout: float) -> T:
        """`call(seconds_left)` until it succeeds, fails for good, or `timeout` seconds have
        passed since the first attempt began."""
        deadline = time.monotonic() + timeout

        async def attempt() -> T:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DeadlineExceeded(f"no answer within the call's {timeout:g} s deadline")
            return await call(left)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts) | stop_before_delay(timeout),
            wait=(wait_exponential(multiplier=self.initial_backoff, max=self.max_backoff)
                  + wait_random(0, self.initial_backoff)),
            retry=retry_if_exception_type(Unavailable),
            reraise=True,
        )
        return await retrying(attempt)


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(attempts=1)
