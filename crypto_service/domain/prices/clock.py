"""Time for stream cadence, injectable so tests can step it instead of sleeping."""

from __future__ import annotations

import asyncio
import time
from typing import Callable, Protocol


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds."""

    def call_at(self, deadline: float, callback: Callable[[], None]) -> Timer:
        """Calls `callback` on the event loop once now() >= deadline, unless cancelled."""


class MonotonicClock:
    def now(self) -> float:
        return time.monotonic()

    def call_at(self, deadline: float, callback: Callable[[], None]) -> Timer:
        # call_later, not call_at: the loop's own clock need not be time.monotonic (uvloop).
        return asyncio.get_running_loop().call_later(max(0.0, deadline - time.monotonic()),
                                                     callback)


class ManualTimer:
    def __init__(self, clock: ManualClock, deadline: float, callback: Callable[[], None]):
        self.clock = clock
        self.deadline = deadline
        self.callback = callback

    def cancel(self) -> None:
        self.clock._timers.discard(self)


class ManualClock:
    """A clock that moves only when told to: `advance` runs every timer it passes, in
    deadline order."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._timers: set[ManualTimer] = set()

    def now(self) -> float:
        return self._now

    def call_at(self, deadline: float, callback: Callable[[], None]) -> Timer:
        timer = ManualTimer(self, deadline, callback)
        self._timers.add(timer)
        return timer

    @property
    def pending(self) -> int:
        """Timers set and neither run nor cancelled: what a finished stream must not leave."""
        return len(self._timers)

    def advance(self, seconds: float) -> None:
        self._now += seconds
        # A callback may set timers of its own: those due already run in this advance too.
        while due := sorted((t for t in self._timers if t.deadline <= self._now),
                            key=lambda t: t.deadline):
            for timer in due:
                if timer in self._timers:  # an earlier callback may have cancelled it
                    self._timers.discard(timer)
                    timer.callback()
