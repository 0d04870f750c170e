"""When each stream is next due, kept in time slots with one timer per slot.

One timer per stream would cost, at 10,000 streams on a 1 s interval, 10,000 timer wake-ups
and task switches every second. With 10 ms slots there are at most 100 timers a second, each
delivering to the streams due in its slot, a batch per event-loop callback, and a stream is
served at most one slot (plus the batches before it) late.
"""

from __future__ import annotations

import math
from typing import Callable, Generic, Hashable, TypeVar

from .clock import Clock, Timer

SLOTS_PER_SECOND = 100
# Deliveries per event-loop callback: about a millisecond of work.
PER_CALLBACK = 32
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

    def _fire(self, slot: int, order: list[T] | None = None, start: int = 0) -> None:
        # A slot is delivered PER_CALLBACK items at a time, with the event loop's I/O in
        # between: a unary call arriving meanwhile waits for one batch, not for the slot.
        members = self._members[slot]
        if order is None:
            order = list(members)
        end = start + PER_CALLBACK
        for item in order[start:end]:
            if item in members:  # not discarded by an earlier delivery of this slot
                del members[item]
                del self._slot_of[item]
                self._deliver(item)
        if self._members.get(slot) is not members:
            return  # emptied by a discard, which cancelled the slot's timer
        if not members:
            del self._members[slot]
            del self._timers[slot]
            return
        if end >= len(order):  # added to this slot while it was being delivered
            order, end = list(members), 0
        self._timers[slot] = self.clock.call_at(self.clock.now(),
                                                lambda: self._fire(slot, order, end))
