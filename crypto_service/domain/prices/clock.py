"""Time for stream cadence, injectable so tests can step it instead of sleeping."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds."""

    async def sleep_until(self, deadline: float) -> None:
        """Returns once now() >= deadline."""


class MonotonicClock:
    def now(self) -> float:
        return time.monotonic()

    async def sleep_until(self, deadline: float) -> None:
        await asyncio.sleep(max(0.0, deadline - time.monotonic()))


class ManualClock:
    """A clock that moves only when told to: `advance` wakes every sleeper it passes."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._sleepers: dict[asyncio.Future[None], float] = {}

    def now(self) -> float:
        return self._now

    async def sleep_until(self, deadline: float) -> None:
        if deadline <= self._now:
            return
        future = asyncio.get_running_loop().create_future()
        self._sleepers[future] = deadline
        try:
            await future
        finally:
            self._sleepers.pop(future, None)  # a cancelled sleeper leaves nothing behind

    @property
    def sleepers(self) -> int:
        return len(self._sleepers)

    def advance(self, seconds: float) -> None:
        self._now += seconds
        for future, deadline in list(self._sleepers.items()):
            if deadline <= self._now and not future.done():
                future.set_result(None)
