"""Garbage-collector settings for a server that holds thousands of long-lived streams.

With CPython's defaults (a young collection every 700 allocations) every object that lives
for a stream's interval (a timer, a future) is promoted to the oldest generation, which then
fills fast enough to trigger full collections over millions of stream objects: long stalls
that hit every call at once (scripts/bench_streams.py shows them as stream lag). A larger
young generation lets such objects die young, and freezing what start-up built keeps it out
of every scan. Not too large, though: a young collection scans everything allocated since the
last one, and grpclib leaves cyclic garbage on every call, so a much larger threshold makes
each collection a pause that shows in GetCoin's tail latency under load. The thresholds below
balance the two; docs/PERFORMANCE.md has the benchmarks that measure them.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000  # allocations between young collections (default 700)
MIDDLE_THRESHOLD = 50  # young collections between middle ones (default 10)
OLD_THRESHOLD = 100  # middle collections before a full one is considered (default 10)


def tune_for_serving() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
