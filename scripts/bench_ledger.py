"""Ledger write benchmark: Deposit and Transfer throughput and latency with 1 and 50
concurrent callers, on SQLite and (when reachable) PostgreSQL.

Each backend gets a fresh database and its own `crypto serve` process; this process is the
load. GetCoin, measured the same way in the same run, is the baseline each row is compared
with, so the ratios hold on any machine.

    .venv/bin/python scripts/bench_ledger.py [--postgres postgres://postgres@127.0.0.1:5432]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
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

from bench_processes import free_port, start_listening, stop
from crypto_service.generated import crypto as pb

BIN = Path(sys.executable).parent
USERS = 100


def start_server(database_url: str) -> tuple[subprocess.Popen, int]:
    env = {**os.environ, "CRYPTO_DATABASE_URL": database_url, "CRYPTO_LOG_LEVEL": "WARNING"}
    subprocess.run([str(BIN / "crypto"), "migrate"], env=env, check=True, capture_output=True)
    subprocess.run([str(BIN / "crypto"), "seed"], env=env, check=True, capture_output=True)
    port = free_port()
    return start_listening([str(BIN / "crypto"), "serve", "--port", str(port)], port, env), port


async def measure(call, count: int, concurrency: int) -> dict:
    latencies: list[float] = []
    counter = itertools.count()

    async def worker() -> None:
        while (i := next(counter)) < count:
            started = time.perf_counter()
            await call(i)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"rps": count / elapsed, "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000}


async def run_backend(name: str, database_url: str, count: int) -> list[tuple]:
    process, port = start_server(database_url)
    channel = Channel("127.0.0.1", port)
    stub = pb.CryptoServiceStub(channel)
    rows = []
    try:
        for user in range(1, USERS + 1):
            await stub.deposit(pb.DepositRequest(user_id=user, symbol="BTC", amount="1000000"))
        calls = {
            "GetCoin": lambda i: stub.get_coin(pb.GetCoinRequest(symbol="BTC")),
            "Deposit": lambda i: stub.deposit(pb.DepositRequest(
                user_id=i % USERS + 1, symbol="BTC", amount="0.001",
                transaction_id=uuid.uuid4().hex)),
            "Transfer": lambda i: stub.transfer(pb.TransferRequest(
                from_user_id=i % USERS + 1, to_user_id=(i + 1) % USERS + 1, symbol="BTC",
                amount="0.001")),
        }
        for concurrency in (1, 50):
            baseline = await measure(calls["GetCoin"], count, concurrency)
            for rpc, call in calls.items():
                result = baseline if rpc == "GetCoin" else await measure(call, count, concurrency)
                rows.append((name, rpc, concurrency, result, result["rps"] / baseline["rps"]))
    finally:
        channel.close()
        stop(process)
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432",
                        help="PostgreSQL server URL without a database ('' to skip)")
    parser.add_argument("--count", type=int, default=1000, help="calls per measurement")
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += await run_backend("sqlite", f"sqlite://{tmp}/bench.db", args.count)
    if args.postgres:
        database = f"crypto_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(f"{args.postgres}/postgres")
        await admin.execute(f'CREATE DATABASE "{database}"')
        try:
            rows += await run_backend("postgres", f"{args.postgres}/{database}", args.count)
        finally:
            await admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
            await admin.close()

    print("| backend | RPC | callers | req/s | p50 ms | p99 ms | req/s vs GetCoin |")
    print("|---|---|---|---|---|---|---|")
    for name, rpc, concurrency, r, ratio in rows:
        print(f"| {name} | {rpc} | {concurrency} | {r['rps']:.0f} | {r['p50_ms']:.1f} | "
              f"{r['p99_ms']:.1f} | {ratio:.2f} |")


if __name__ == "__main__":
    asyncio.run(main())
