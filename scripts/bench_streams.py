"""StreamPrices at scale: delivery lag of N subscribers and GetCoin latency beside them.

One `crypto serve` (SQLite, simulator on at 1 s) is measured first with no subscribers (GetCoin
p50/p99 from a probe process), then with 1,000, 5,000 and 10,000 concurrent StreamPrices
subscribers (interval 1 s, one symbol each, from separate load processes) while the probe runs
again. Delivery lag of a stream's k-th update is how much later it arrived than its schedule:
(arrival_k - k * interval) minus the smallest such value of that stream, so a server that keeps
its cadence shows ~0 and one that falls behind shows how far. Results are printed as a table
and as ratios to the idle GetCoin p99 of the same run.

The load processes run at a lower CPU priority (`--load-nice`, 10 by default): on a 2-core
machine their own HTTP/2 parsing of 10,000 updates a second would otherwise preempt the server
and the probe, which measures the machine's scheduler, not what subscribers cost the server.
`--load-nice 0` measures that crowded case too. The probe runs at the server's priority.

    .venv/bin/python scripts/bench_streams.py [--levels 1000,5000,10000] [--window 10]
        [--load-nice 10]

BENCH_SERVER replaces the `crypto` command that serves (e.g. to run it under a profiler).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STREAMS_PER_CONNECTION = 100  # h2's default MAX_CONCURRENT_STREAMS on the server
SYMBOLS = ["BTC", "ETH", "USDT", "XRP", "BNB", "SOL", "USDC", "DOGE", "ADA", "TRX"]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ---- load process: N raw streams, arrival times only (no decoding, to spare the CPU) ----

async def load(port: int, count: int, ramp_per_second: float, start: float, end: float) -> dict:
    from grpclib.client import Channel
    from grpclib.const import Cardinality

    from crypto_service.client.raw import RawCodec
    from crypto_service.generated import crypto as pb

    channels = [Channel("127.0.0.1", port, codec=RawCodec())
                for _ in range(-(-count // STREAMS_PER_CONNECTION))]
    lags: list[float] = []
    errors: dict[str, int] = {}
    connected = 0

    async def one(index: int) -> None:
        nonlocal connected
        request = bytes(pb.StreamPricesRequest(symbols=[SYMBOLS[index % len(SYMBOLS)]],
                                               interval_seconds=1))
        channel = channels[index // STREAMS_PER_CONNECTION]
        arrivals: list[float] = []
        try:
            async with channel.request("/crypto.CryptoService/StreamPrices",
                                       Cardinality.UNARY_STREAM, bytes, bytes) as stream:
                await stream.send_message(request, end=True)
                connected += 1
                while True:
                    if await stream.recv_message() is None:
                        break
                    arrivals.append(time.time())
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # counted, reported
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
        if arrivals:
            offsets = [t - k for k, t in enumerate(arrivals)]
            anchor = min(offsets)
            lags.extend(o - anchor for o, t in zip(offsets, arrivals) if start <= t < end)

    tasks = []
    for index in range(count):
        tasks.append(asyncio.create_task(one(index)))
        if index % 50 == 49:
            await asyncio.sleep(50 / ramp_per_second)
    await asyncio.sleep(max(0.0, end - time.time()))
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for channel in channels:
        channel.close()
    return {"lags": lags, "connected": connected, "errors": errors}


# ---- probe process: GetCoin every 10 ms, latency of each ----

async def probe(port: int, start: float, end: float) -> dict:
    from grpclib.client import Channel

    from crypto_service.generated import crypto as pb

    channel = Channel("127.0.0.1", port)
    stub = pb.CryptoServiceStub(channel)
    latencies = []
    await stub.get_coin(pb.GetCoinRequest(symbol="BTC"))
    await asyncio.sleep(max(0.0, start - time.time()))
    while time.time() < end:
        began = time.perf_counter()
        await stub.get_coin(pb.GetCoinRequest(symbol="BTC"))
        latencies.append(time.perf_counter() - began)
        await asyncio.sleep(0.01)
    channel.close()
    return {"latencies": latencies}


def run_child(args: argparse.Namespace) -> None:
    if args.role == "load":
        result = asyncio.run(load(args.port, args.count, args.ramp, args.start, args.end))
    else:
        result = asyncio.run(probe(args.port, args.start, args.end))
    json.dump(result, sys.stdout)


# ---- driver ----

def child(role: str, port: int, start: float, end: float, count: int = 0,
          ramp: float = 0, nice: int = 0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--role", role, "--port", str(port),
                             "--start", str(start), "--end", str(end), "--count", str(count),
                             "--ramp", str(ramp)], stdout=subprocess.PIPE, text=True, cwd=ROOT,
                            preexec_fn=(lambda: os.nice(nice)) if nice else None)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(server: subprocess.Popen, port: int, subscribers: int, window: float,
            loaders: int, load_nice: int) -> dict:
    ramp = 1000.0  # new streams per second, all loaders together
    start = time.time() + subscribers / ramp + 5  # connected and settled
    end = start + window
    per_loader = [subscribers // loaders + (i < subscribers % loaders) for i in range(loaders)]
    loads = [child("load", port, start, end, n, ramp / loaders, load_nice)
             for n in per_loader if n]
    probe_ = child("probe", port, start, end)
    time.sleep(max(0.0, start - time.time()))
    cpu_before = cpu_seconds(server.pid)
    time.sleep(max(0.0, end - time.time()))
    server_cpu = (cpu_seconds(server.pid) - cpu_before) / window
    results = [json.loads(p.communicate()[0]) for p in loads]
    latencies = json.loads(probe_.communicate()[0])["latencies"]
    lags = [lag for r in results for lag in r["lags"]]
    errors: dict[str, int] = {}
    for r in results:
        for name, n in r["errors"].items():
            errors[name] = errors.get(name, 0) + n
    return {
        "subscribers": subscribers,
        "connected": sum(r["connected"] for r in results),
        "updates": len(lags),
        "lag_p50_ms": percentile(lags, 0.50) * 1000,
        "lag_p99_ms": percentile(lags, 0.99) * 1000,
        "getcoin_p50_ms": percentile(latencies, 0.50) * 1000,
        "getcoin_p99_ms": percentile(latencies, 0.99) * 1000,
        "getcoin_calls": len(latencies),
        "server_cpu": server_cpu,
        "errors": errors,
        "load_nice": load_nice,
    }


def serve(database: Path, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "CRYPTO_DATABASE_URL": f"sqlite://{database}",
           "CRYPTO_LOG_LEVEL": "WARNING", "CRYPTO_SIMULATE_INTERVAL_SECONDS": "1",
           "CRYPTO_MAX_PRICE_STREAMS": "20000"}
    for command in ("migrate", "seed"):
        subprocess.run([str(BIN / "crypto"), command], env=env, check=True, capture_output=True)
    command = os.environ.get("BENCH_SERVER", str(BIN / "crypto")).split()
    process = subprocess.Popen([*command, "serve", "--host", "127.0.0.1", "--port", str(port)],
                               env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    time.sleep(3)
    if process.poll() is not None:  # e.g. the port is taken: the load would go elsewhere
        sys.exit(f"the server exited at start ({process.returncode}); see {log}")
    return process


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=["load", "probe"])
    parser.add_argument("--port", type=int, default=50099)
    parser.add_argument("--start", type=float, default=0)
    parser.add_argument("--end", type=float, default=0)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--ramp", type=float, default=0)
    parser.add_argument("--levels", default="1000,5000,10000")
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--loaders", type=int, default=2)
    parser.add_argument("--load-nice", type=int, default=10,
                        help="niceness of the load processes: on a machine with fewer cores "
                             "than processes they then take the CPU the server and the probe "
                             "leave, as clients on other machines would (0: compete)")
    parser.add_argument("--server-log", default="/tmp/bench_streams_server.log")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args()
    if args.role:
        return run_child(args)

    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as folder:
        server = serve(Path(folder) / "bench.db", args.port, Path(args.server_log))
        try:
            rows = [measure(server, args.port, 0, args.window, args.loaders, args.load_nice)]
            idle_p99 = rows[0]["getcoin_p99_ms"]
            for level in (int(n) for n in args.levels.split(",")):
                rows.append(measure(server, args.port, level, args.window, args.loaders,
                                    args.load_nice))
                time.sleep(2)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(60)
    print("| subscribers | connected | updates | lag p50 | lag p99 | GetCoin p50 | "
          "GetCoin p99 | p99 / idle p99 | server CPU | errors |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['subscribers']:,} | {r['connected']:,} | {r['updates']:,} | "
              f"{r['lag_p50_ms']:.1f} ms | {r['lag_p99_ms']:.1f} ms | "
              f"{r['getcoin_p50_ms']:.2f} ms | {r['getcoin_p99_ms']:.2f} ms | "
              f"{r['getcoin_p99_ms'] / idle_p99:.2f}x | {r['server_cpu']:.0%} | "
              f"{r['errors'] or '-'} |")
    if args.json:
        args.json.write_text(json.dumps(
            [{**r, "getcoin_p99_vs_idle": r["getcoin_p99_ms"] / idle_p99} for r in rows],
            indent=2))


if __name__ == "__main__":
    main()
