"""How long the once-a-second price work holds the event loop: the longest single loop
callback, and the loop time in all, of a simulator step (write, snapshot, quotes) and of the
catalog reads that follow it (each response built once on the new snapshot).

In one process, on asyncio's own loop (every callback goes through `Handle._run`, which is
timed), against a freshly seeded database per backend; nothing else runs. Each callback is
timed in the thread's CPU time, so time the kernel gives other processes on a shared machine
is not counted. Each read is its own task, as each call is in the server. A unary call that
lands while a callback runs waits for it: the longest callback is the worst wait a price step
adds to a call.

    .venv/bin/python scripts/bench_stalls.py [--steps 20] [--postgres URL|'']
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from asyncio import events
from pathlib import Path

import asyncpg

from crypto_service.db import connect
from crypto_service.domain.prices.feeds import simulate_step
from crypto_service.generated import crypto as pb
from crypto_service.generated.google import protobuf as pb_google
from crypto_service.server.app import build_app
from crypto_service.settings import Settings

BIN = Path(sys.executable).parent
# The reads a busy server answers after every step, each built once on the new snapshot.
READS = [
    ("list_coins", pb.ListCoinsRequest(page_size=100)),
    ("get_top_coins", pb.GetTopCoinsRequest(limit=100)),
    ("get_market_stats", pb_google.Empty()),
    ("get_trending_coins", pb.GetTrendingCoinsRequest(type=pb.TrendingType.TOP_GAINERS)),
    ("get_coin", pb.GetCoinRequest(symbol="BTC")),
]


class CallbackTimer:
    """Times every callback the asyncio loop runs while it is recording."""

    def __init__(self) -> None:
        self.durations: list[float] = []
        self.recording = False
        self._run = events.Handle._run
        timer = self

        def timed_run(handle: events.Handle) -> None:
            if not timer.recording:
                return timer._run(handle)
            started = time.thread_time()
            try:
                return timer._run(handle)
            finally:
                timer.durations.append(time.thread_time() - started)

        events.Handle._run = timed_run  # type: ignore[method-assign]

    async def measure(self, work) -> tuple[float, float]:
        """(longest callback, total callback time) in ms of `work` run as its own task."""
        self.durations.clear()
        self.recording = True
        try:
            await asyncio.create_task(work)
        finally:
            self.recording = False
        return max(self.durations) * 1000, sum(self.durations) * 1000


async def run_backend(name: str, database_url: str, steps: int, timer: CallbackTimer) -> dict:
    env = {**os.environ, "CRYPTO_DATABASE_URL": database_url}
    for step in ("migrate", "seed"):
        subprocess.run([str(BIN / "crypto"), step], env=env, check=True, capture_output=True)
    settings = Settings(database_url=database_url)
    async with connect.database(settings):
        service = build_app(settings).service
        hub, catalog = service.prices.hub, service.catalog
        rng = random.Random(1)

        async def reads() -> None:
            await asyncio.gather(*(getattr(service, method)(request)
                                   for method, request in READS))

        await reads()
        await simulate_step(hub, catalog, 1, rng)  # the first step publishes every quote
        measured: dict[str, list[tuple[float, float]]] = {"step": [], "reads": []}
        for _ in range(steps):
            measured["step"].append(await timer.measure(simulate_step(hub, catalog, 1, rng)))
            measured["reads"].append(await timer.measure(reads()))
    return {"backend": name, **{
        f"{phase}_{figure}_ms": round(fn(pair[i] for pair in pairs), 2)
        for phase, pairs in measured.items()
        for figure, i, fn in (("longest_max", 0, max), ("longest_median", 0, statistics.median),
                              ("total_median", 1, statistics.median))}}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432",
                        help="PostgreSQL server URL without a database ('' to skip)")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args()
    timer = CallbackTimer()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(await run_backend("sqlite", f"sqlite://{tmp}/stalls.db", args.steps, timer))
    if args.postgres:
        database = f"crypto_stalls_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(f"{args.postgres}/postgres")
        await admin.execute(f'CREATE DATABASE "{database}"')
        try:
            rows.append(await run_backend("postgres", f"{args.postgres}/{database}",
                                          args.steps, timer))
        finally:
            await admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
            await admin.close()
    print(f"| backend | step: longest callback ms (median, max) | step: loop ms in all | "
          f"reads: longest callback ms (median, max) | reads: loop ms in all |  "
          f"({args.steps} steps)\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['backend']} | {r['step_longest_median_ms']}, {r['step_longest_max_ms']} | "
              f"{r['step_total_median_ms']} | {r['reads_longest_median_ms']}, "
              f"{r['reads_longest_max_ms']} | {r['reads_total_median_ms']} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
