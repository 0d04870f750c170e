"""Ledger write benchmark: Deposit and Transfer throughput and latency with 1 and 50
concurrent callers, on SQLite and (when reachable) PostgreSQL, per worker count.

Each backend gets a fresh database and a `crypto serve --workers N` per worker count; this
process is the load, over 10 connections (the kernel spreads connections, not calls, among
workers). A call refused with FAILED_PRECONDITION is counted apart; any other error is counted
as an error. GetCoin, measured the same way in the same run, is the baseline each row is compared
with, so the ratios hold on any machine.

    .venv/bin/python scripts/bench_ledger.py [--postgres postgres://postgres@127.0.0.1:5432]
                                             [--workers 1,2]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
from grpclib.client import Channel
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from bench_processes import free_port, start_listening, stop
from crypto_service.generated import crypto as pb

BIN = Path(sys.executable).parent
USERS = 100
CONNECTIONS = 10


def start_server(database_url: str, workers: int) -> tuple[subprocess.Popen, int]:
    env = {**os.environ, "CRYPTO_DATABASE_URL": database_url, "CRYPTO_LOG_LEVEL": "WARNING"}
    subprocess.run([str(BIN / "crypto"), "migrate"], env=env, check=True, capture_output=True)
    subprocess.run([str(BIN / "crypto"), "seed"], env=env, check=True, capture_output=True)
    port = free_port()
    command = [str(BIN / "crypto"), "serve", "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers)]
    return start_listening(command, port, env, processes=workers), port


async def measure(call, count: int, concurrency: int) -> dict:
    latencies: list[float] = []
    counter = itertools.count()
    failures: collections.Counter[Status] = collections.Counter()

    async def worker() -> None:
        while (i := next(counter)) < count:
            started = time.perf_counter()
            try:
                await call(i)
            except GRPCError as error:
                failures[error.status] += 1
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"rps": count / elapsed, "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
            "refused": failures.pop(Status.FAILED_PRECONDITION, 0),
            "errors": sum(failures.values())}


async def run_backend(name: str, database_url: str, count: int,
                      workers: int) -> list[tuple]:
    process, port = start_server(database_url, workers)
    channels = [Channel("127.0.0.1", port) for _ in range(CONNECTIONS)]
    stubs = [pb.CryptoServiceStub(channel) for channel in channels]
    rows = []
    try:
        for user in range(1, USERS + 1):
            await stubs[0].deposit(pb.DepositRequest(user_id=user, symbol="BTC",
                                                     amount="1000000"))
        calls = {
            "GetCoin": lambda i: stubs[i % CONNECTIONS].get_coin(pb.GetCoinRequest(symbol="BTC")),
            "Deposit": lambda i: stubs[i % CONNECTIONS].deposit(pb.DepositRequest(
                user_id=i % USERS + 1, symbol="BTC", amount="0.001",
                transaction_id=uuid.uuid4().hex)),
            "Transfer": lambda i: stubs[i % CONNECTIONS].transfer(pb.TransferRequest(
                from_user_id=i % USERS + 1, to_user_id=(i + 1) % USERS + 1, symbol="BTC",
                amount="0.001")),
        }
        for concurrency in (1, 50):
            baseline = await measure(calls["GetCoin"], count, concurrency)
            for rpc, call in calls.items():
                result = baseline if rpc == "GetCoin" else await measure(call, count, concurrency)
                rows.append((name, workers, rpc, concurrency, result,
                             result["rps"] / baseline["rps"]))
    finally:
        for channel in channels:
            channel.close()
        stop(process)
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432",
                        help="PostgreSQL server URL without a database ('' to skip)")
    parser.add_argument("--count", type=int, default=1000, help="calls per measurement")
    parser.add_argument("--workers", default="1,2", help="process counts, comma-separated")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args()
    worker_counts = [int(n) for n in args.workers.split(",")]

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for workers in worker_counts:
            rows += await run_backend("sqlite", f"sqlite://{tmp}/bench.db", args.count, workers)
    if args.postgres:
        database = f"crypto_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(f"{args.postgres}/postgres")
        await admin.execute(f'CREATE DATABASE "{database}"')
        try:
            for workers in worker_counts:
                rows += await run_backend("postgres", f"{args.postgres}/{database}", args.count,
                                          workers)
        finally:
            await admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
            await admin.close()

    print("| backend | workers | RPC | callers | req/s | p50 ms | p99 ms | req/s vs GetCoin | "
          "refused | errors |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, workers, rpc, concurrency, r, ratio in rows:
        print(f"| {name} | {workers} | {rpc} | {concurrency} | {r['rps']:.0f} | "
              f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {ratio:.2f} | {r['refused']} | "
              f"{r['errors']} |")
    if args.json:
        args.json.write_text(json.dumps(
            [{"backend": name, "workers": workers, "rpc": rpc, "callers": concurrency, **r,
              "vs_getcoin": ratio} for name, workers, rpc, concurrency, r, ratio in rows],
            indent=2))


if __name__ == "__main__":
    asyncio.run(main())
