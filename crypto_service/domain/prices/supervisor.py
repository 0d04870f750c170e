"""Background tasks that outlive their failures.

`supervise` runs a task forever. When it raises (a database restart, a lost LISTEN
connection, a bug), the error is logged and the task starts again after a backoff: jittered,
doubling from `Backoff.initial` to `Backoff.maximum`, and back to the start once a run has
lasted longer than the longest wait (a new fault, not the same one again). The first failure
in a row is logged with its traceback, every later one as one line, so an outage shows in the
log once per backoff without flooding it. Cancellation (the server's drain) is the only way
out; a task that returns is restarted too, since it was meant to run until then.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NoReturn

log = logging.getLogger("crypto_service.prices")


@dataclass(frozen=True)
class Backoff:
    initial: float = 0.5
    maximum: float = 30.0

    def delay(self, failures: int) -> float:
        """The wait after the `failures`-th failure in a row, jittered down by up to half so
        that the processes of one database do not reconnect in step."""
        return min(self.maximum, self.initial * 2 ** (failures - 1)) * random.uniform(0.5, 1)


async def supervise(name: str, run: Callable[[], Awaitable[object]], *,
                    backoff: Backoff = Backoff()) -> NoReturn:
    loop = asyncio.get_running_loop()
    failures = 0
    while True:
        started = loop.time()
        failure: Exception | None = None
        try:
            await run()
        except Exception as exc:
            failure = exc
        if loop.time() - started > backoff.maximum:
            failures = 0
        failures += 1
        delay = backoff.delay(failures)
        log.error("%s stopped (%s): restarting in %.1fs, failure %d in a row", name,
                  _describe(failure), delay, failures,
                  exc_info=failure if failures == 1 else None)
        await asyncio.sleep(delay)


def _describe(failure: Exception | None) -> str:
    if failure is None:
        return "it returned"
    text = " ".join(str(failure).split())
    return f"{type(failure).__name__}: {text}" if text else type(failure).__name__
