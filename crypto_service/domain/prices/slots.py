"""When each stream is next due, kept in time slots with one timer per slot.

One timer per stream would cost, at 10,000 streams on a 1 s interval, 10,000 timer wake-ups
and task switches every second. With 10 ms slots there are at most 100 a second, each
delivering to every stream due in it in one callback, and a stream is served at most one slot
late.
"""

from __future__ import annotations

import math
from typing import Callable, Generic, Hashable, TypeVar

from .clock import Clock, Timer

SLOTS_PER_SECOND = 100
# A due time a float rounding error past a slot boundary belongs to that slot, not the next.
_ROUNDING = 1e-6

T = TypeVar("T", bound=Hashable)


class TimeSlots(Generic[T]):
    def __init__(self, clock: Clock, deliver: Callable[[T], None]) -> None:
        self.clock = clock
        self._deliver = deliver
        self._members: dict[int, dict[T, None]] = {}  # slot -> its items, in arrival order
        self._timers: dict[int, Timer] = {}
        self._slot_of: dict[T, int] = {}

    def add(self, item: T, due: float) -> None:
        """Delivers `item` once, in the first slot at or after `due`."""
        self.discard(item)
        slot = math.ceil(due * SLOTS_PER_SECOND - _ROUNDING)
        members = self._members.get(slot)
        if members is None:
            members = self._members[slot] = {}
            self._timers[slot] = self.clock.call_at(slot / SLOTS_PER_SECOND,
                                                    lambda: self._fire(slot))
        members[item] = None
        self._slot_of[item] = slot

    def discard(self, item: T) -> None:
        slot = self._slot_of.pop(item, None)
        if slot is None:
            return
        members = self._members[slot]
        del members[item]
        if not members:
            del self._members[slot]
            self._timers.pop(slot).cancel()

    def __len__(self) -> int:
        return len(self._slot_of)

    def _fire(self, slot: int) -> None:
        del self._timers[slot]
        members = self._members.pop(slot)
        for item in members:
            del self._slot_of[item]
        for item in members:
            self._deliver(item)
