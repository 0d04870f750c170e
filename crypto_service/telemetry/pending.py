"""Metric increments written to prometheus-client once per turn of the event loop."""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from typing import Any

from prometheus_client import Histogram

from ..db.internals import expect

# `PendingCounts` adds many observations to a histogram child at once, as `observe` adds one.
expect({"_sum", "_upper_bounds", "_buckets"} <= set(Histogram.observe.__code__.co_names),
       "prometheus-client", "Histogram.observe no longer adds to _sum and one of _buckets by "
       "_upper_bounds, which telemetry/pending.py does for many observations at once")


class PendingCounts:
    """Increments of counters and histograms since they were last written to
    prometheus-client, written once per turn of the event loop. With `--workers N` every write
    of a value is a locked write to a memory-mapped file with a check of the process id (six
    per unary call, three per price delivery); under load one turn of the loop finishes many
    calls and deliveries, and each series is written once for all of them. A scrape sees what
    happened up to the end of the last loop turn."""

    def __init__(self) -> None:
        self._counters: dict[Any, int] = {}  # counter child: increments not written yet
        self._durations: dict[Any, list[float]] = {}  # histogram child: its observations
        self._scheduled = False

    def inc(self, counter: Any, amount: int = 1) -> None:
        self._counters[counter] = self._counters.get(counter, 0) + amount
        self._schedule()

    def observe(self, histogram: Any, seconds: float) -> None:
        self._durations.setdefault(histogram, []).append(seconds)
        self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.write)

    def write(self) -> None:
        self._scheduled = False
        counters, self._counters = self._counters, {}
        durations, self._durations = self._durations, {}
        for counter, amount in counters.items():
            counter.inc(amount)
        for histogram, values in durations.items():
            _observe_all(histogram, values)


def _observe_all(histogram: Any, values: list[float]) -> None:
    """`histogram.observe(v)` for every value, with one write per bucket touched."""
    per_bucket: dict[int, int] = {}
    for value in values:
        bucket = bisect_left(histogram._upper_bounds, value)  # the first bound >= value
        per_bucket[bucket] = per_bucket.get(bucket, 0) + 1
    histogram._sum.inc(sum(values))
    for bucket, count in per_bucket.items():
        histogram._buckets[bucket].inc(count)
