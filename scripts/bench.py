"""The benchmark harness: reads against a bare grpclib + betterproto2 baseline, the read tail
while prices move, then streams and writes, in one run.

Reads: for each process count it starts the baseline (`bench_baseline.py`: GetCoin answered
with one prebuilt coin, no database) and `crypto serve --workers N --no-simulate` on a freshly
seeded SQLite database, and drives each with h2load (a separate C process) sending pre-encoded
gRPC frames, then GetCoin again without and with `--metrics-port` in alternating rounds (the
cost of the metrics). Read tail: ListCoins(100) the same way with prices frozen
(`--no-simulate`) and moving (the simulator writing every second), in alternating runs, and
`bench_stalls.py` (the longest event-loop callback of a price step and of the reads after it).
Streams and writes: `bench_streams.py` (StreamPrices subscribers from separate load processes,
GetCoin p99 against idle), `bench_ledger.py` (Deposit and Transfer with 1 and 50 callers on
SQLite and PostgreSQL, per worker count) and `bench_writes.py` (Transfer, hot pair and spread
over 1,000 users, against pgbench's TPC-B-like transaction on the same PostgreSQL) run as
child processes. It prints every table with its ratios and goals, and saves `bench.json` and a
PNG chart (matplotlib) in --out.

    make bench                       # = .venv/bin/python scripts/bench.py
    .venv/bin/python scripts/bench.py --seconds 5 --workers 1,2 --reads-only
    .venv/bin/python scripts/bench.py --metrics-overhead-only --metrics-rounds 5
    .venv/bin/python scripts/bench.py --tail-only --workers 1 --tail-rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench_processes import (free_port, grpc_frame, percentile, print_goals, run_h2load,
                             start_listening, stop)
from grpclib.client import Channel

from crypto_service.generated import crypto as pb
from crypto_service.generated.google import protobuf as pb_google

BIN = Path(sys.executable).parent
HERE = Path(__file__).parent
SERVICE = "/crypto.CryptoService/"

# RPC label -> (method, request). Each is answered successfully on the bundled data.
REQUESTS = {
    "GetCoin": ("GetCoin", pb.GetCoinRequest(symbol="BTC")),
    "ListCoins(100)": ("ListCoins", pb.ListCoinsRequest(page_size=100)),
    "GetTopCoins(100)": ("GetTopCoins", pb.GetTopCoinsRequest(limit=100)),
    "SearchCoins": ("SearchCoins", pb.SearchCoinsRequest(query="bit")),
    "GetMarketStats": ("GetMarketStats", pb_google.Empty()),
    "GetTrendingCoins": ("GetTrendingCoins",
                         pb.GetTrendingCoinsRequest(type=pb.TrendingType.TOP_GAINERS)),
}


@dataclass
class Row:
    server: str
    workers: int
    rpc: str
    rps: float
    p50_ms: float
    p99_ms: float
    failed: int
    cpu_us: float = 0.0  # server CPU per call (metrics-overhead rows only)


def h2load(port: int, method: str, data: Path, args, log: Path) -> tuple[float, list[float], int]:
    rps, latencies, failed = run_h2load(f"http://127.0.0.1:{port}{SERVICE}{method}", data,
                                        args.connections, args.seconds, log)
    if not rps:
        raise SystemExit(f"h2load completed no {method} call")
    return rps, latencies, failed


async def check_answers(port: int, labels: list[str]) -> None:
    """Every RPC answers OK before it is measured: h2load sees HTTP 200 even for a gRPC error."""
    channel = Channel("127.0.0.1", port)
    try:
        stub = pb.CryptoServiceStub(channel)
        calls = {"GetCoin": stub.get_coin, "ListCoins": stub.list_coins,
                 "GetTopCoins": stub.get_top_coins, "SearchCoins": stub.search_coins,
                 "GetMarketStats": stub.get_market_stats,
                 "GetTrendingCoins": stub.get_trending_coins}
        for label in labels:
            method, request = REQUESTS[label]
            response = await calls[method](request, timeout=10)
            assert response.success, (label, response)
    finally:
        channel.close()


async def coin_response_bytes(database_url: str) -> bytes:
    """BTC as our server answers it, for the baseline to serve: the same data."""
    from crypto_service import convert
    from crypto_service.db import connect
    from crypto_service.db.models import Coin
    from crypto_service.domain.catalog import CoinRecord
    from crypto_service.settings import Settings

    async with connect.database(Settings(database_url=database_url)):
        btc = await Coin.get(symbol="BTC")
        return convert.to_coin_response(CoinRecord.from_model(btc)).SerializeToString()


def measure(server: str, workers: int, port: int, labels: list[str], frames: dict[str, Path],
            args, tmp: Path) -> list[Row]:
    rows = []
    for label in labels:
        method = REQUESTS[label][0]
        rps, latencies, failed = h2load(port, method, frames[label], args, tmp / "h2load.log")
        rows.append(Row(server, workers, label, rps, statistics.median(latencies),
                        percentile(latencies, 0.99), failed))
        print(f"  {server:8} workers={workers} {label:18} {rps:8.0f} req/s", flush=True)
    return rows


def serve_command(port: int, workers: int, *extra: str) -> list[str]:
    return [str(BIN / "crypto"), "serve", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--no-simulate", *extra]


def server_cpu_seconds(pid: int) -> float:
    """User and system CPU of a process and its children (the workers), from /proc."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
    return total / os.sysconf("SC_CLK_TCK")


def cpu_per_call(port: int, pid: int, data: Path, args) -> float:
    """Server CPU microseconds per GetCoin over a fixed number of calls: unlike req/s on a
    shared machine, it does not depend on what else gets the CPU."""
    before = server_cpu_seconds(pid)
    subprocess.run(["h2load", "-c", str(args.connections), "-m", "1", "-t", "1",
                    "-n", str(args.cpu_calls), "-d", str(data),
                    "-H", "content-type: application/grpc", "-H", "te: trailers",
                    f"http://127.0.0.1:{port}{SERVICE}GetCoin"],
                   capture_output=True, text=True, check=True)
    return (server_cpu_seconds(pid) - before) / args.cpu_calls * 1e6


def metrics_overhead(args, env: dict, frames: dict[str, Path], tmp: Path) -> list[Row]:
    """GetCoin without and with `--metrics-port`, alternating round by round, so that a
    shared machine's noise falls on both sides alike: req/s, and server CPU per call."""
    rows = []
    for workers in args.workers:
        for round_ in range(1, args.metrics_rounds + 1):
            for server, extra in (("plain", ()), ("metrics", ("--metrics-port", str(free_port())))):
                port = free_port()
                process = start_listening(serve_command(port, workers, *extra), port, env,
                                          processes=workers)
                try:
                    asyncio.run(check_answers(port, ["GetCoin"]))
                    row, = measure(server, workers, port, ["GetCoin"], frames, args, tmp)
                    row.cpu_us = cpu_per_call(port, process.pid, frames["GetCoin"], args)
                finally:
                    stop(process)
                row.rpc = f"GetCoin round {round_}"
                rows.append(row)
    return rows


def report_metrics_overhead(rows: list[Row], workers: list[int]) -> list[tuple[str, float, float]]:
    print("\n| workers | round | req/s plain | req/s with --metrics-port | ratio | "
          "server CPU us/call plain | with --metrics-port | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    goals = []
    for n in workers:
        plain = [r for r in rows if (r.server, r.workers) == ("plain", n)]
        metered = [r for r in rows if (r.server, r.workers) == ("metrics", n)]
        ratios = [m.rps / p.rps for p, m in zip(plain, metered)]
        cpu_ratios = [m.cpu_us / p.cpu_us for p, m in zip(plain, metered)]
        for p, m, ratio, cpu_ratio in zip(plain, metered, ratios, cpu_ratios):
            print(f"| {n} | {p.rpc.rsplit(' ', 1)[1]} | {p.rps:.0f} | {m.rps:.0f} | "
                  f"{ratio:.3f} | {p.cpu_us:.0f} | {m.cpu_us:.0f} | {cpu_ratio:.3f} |")
        goals.append((f"GetCoin req/s with --metrics-port vs without, {n} worker(s), "
                      f"median of {len(ratios)} rounds", statistics.median(ratios), 0.95))
        goals.append((f"GetCoin server CPU per call with --metrics-port vs without, {n} "
                      f"worker(s), median of {len(ratios)} rounds (at most)",
                      statistics.median(cpu_ratios), 1.05))
    return goals


def prepare(tmp: Path, args) -> tuple[dict, Path, dict[str, Path]]:
    """A seeded SQLite database, BTC's response bytes and every request's frame."""
    database_url = f"sqlite://{tmp}/bench.db"
    env = {**os.environ, "CRYPTO_DATABASE_URL": database_url, "CRYPTO_LOG_LEVEL": "WARNING",
           "CRYPTO_EVENT_LOOP": event_loop(args.loop)}
    for step in ("migrate", "seed"):
        subprocess.run([str(BIN / "crypto"), step], env=env, check=True, capture_output=True)
    coin_file = tmp / "coin.bin"
    coin_file.write_bytes(asyncio.run(coin_response_bytes(database_url)))
    frames = {}
    for index, (label, (_, request)) in enumerate(REQUESTS.items()):
        frames[label] = tmp / f"request{index}.bin"
        frames[label].write_bytes(grpc_frame(request))
    return env, coin_file, frames


def run(args) -> tuple[list[Row], list[TailRow], list[Row]]:
    """The read rows, the read-tail rows and the metrics-overhead rows."""
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        env, coin_file, frames = prepare(tmp, args)
        if args.metrics_overhead_only:
            return rows, [], metrics_overhead(args, env, frames, tmp)
        if args.tail_only:
            return rows, read_tail(args, env, frames, tmp), []
        for workers in args.workers:
            port = free_port()
            baseline = start_listening([sys.executable, str(HERE / "bench_baseline.py"),
                                        str(port), str(workers), str(coin_file),
                                        event_loop(args.loop)], port,
                                       processes=workers)
            try:
                asyncio.run(check_answers(port, ["GetCoin"]))
                rows += measure("baseline", workers, port, ["GetCoin"], frames, args, tmp)
            finally:
                stop(baseline)
            port = free_port()
            ours = start_listening(serve_command(port, workers), port, env, processes=workers)
            try:
                asyncio.run(check_answers(port, list(REQUESTS)))
                rows += measure("crypto", workers, port, list(REQUESTS), frames, args, tmp)
            finally:
                stop(ours)
        overhead = metrics_overhead(args, env, frames, tmp) if args.metrics_rounds else []
        return rows, read_tail(args, env, frames, tmp), overhead


TAIL_RPC = "ListCoins(100)"
# "A few milliseconds": what a call landing during the once-a-second price work may wait.
STALL_GOAL_MS = 5


@dataclass
class TailRow:
    workers: int
    prices: str  # "frozen" (--no-simulate) or "moving" (the simulator writing every second)
    round: int
    rps: float
    p50_ms: float
    p99_ms: float
    failed: int


def read_tail(args, env: dict, frames: dict[str, Path], tmp: Path) -> list[TailRow]:
    """ListCoins(100) with prices frozen and with the simulator writing every second, in
    alternating runs (the machine's background load drifts; alternating spreads it over
    both), on the same database, `--tail-rounds` of each per worker count."""
    rows: list[TailRow] = []
    for workers in args.workers:
        for round_ in range(1, args.tail_rounds + 1):
            for prices in ("frozen", "moving"):
                port = free_port()
                simulate = "--no-simulate" if prices == "frozen" else "--simulate"
                server = start_listening([str(BIN / "crypto"), "serve", "--host", "127.0.0.1",
                                          "--port", str(port), "--workers", str(workers),
                                          simulate], port, env, processes=workers)
                try:
                    asyncio.run(check_answers(port, [TAIL_RPC]))
                    rps, latencies, failed = h2load(port, REQUESTS[TAIL_RPC][0],
                                                    frames[TAIL_RPC], args, tmp / "h2load.log")
                finally:
                    stop(server)
                rows.append(TailRow(workers, prices, round_, rps, statistics.median(latencies),
                                    percentile(latencies, 0.99), failed))
                print(f"  tail workers={workers} round {round_} prices {prices:6} {rps:6.0f} "
                      f"req/s p99 {rows[-1].p99_ms:.1f} ms", flush=True)
    return rows


def report_tail(rows: list[TailRow], workers: list[int]) -> list[tuple[str, float, float]]:
    print(f"\n{TAIL_RPC} with prices frozen and moving (simulator every 1 s), alternating runs")
    print("\n| workers | prices | runs | req/s (median) | p50 ms (median) | p99 ms (median) | "
          "p99 each run | failed |\n|---|---|---|---|---|---|---|---|")
    goals = []
    for n in workers:
        p99 = {}
        for prices in ("frozen", "moving"):
            mine = [r for r in rows if (r.workers, r.prices) == (n, prices)]
            p99[prices] = statistics.median(r.p99_ms for r in mine)
            rps, p50 = (statistics.median(r.rps for r in mine),
                        statistics.median(r.p50_ms for r in mine))
            print(f"| {n} | {prices} | {len(mine)} | {rps:.0f} | {p50:.1f} | {p99[prices]:.1f} | "
                  f"{', '.join(f'{r.p99_ms:.1f}' for r in mine)} | "
                  f"{sum(r.failed for r in mine)} |")
        goals.append((f"{TAIL_RPC} p99 prices moving vs frozen, {n} worker(s) (at most)",
                      p99["moving"] / p99["frozen"], 1.5))
    return goals


def event_loop(choice: str) -> str:
    if choice != "auto":
        return choice
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def find(rows: list[Row], server: str, workers: int, rpc: str) -> Row | None:
    return next((r for r in rows if (r.server, r.workers, r.rpc) == (server, workers, rpc)), None)


def report(rows: list[Row], workers: list[int]) -> list[tuple[str, float, float]]:
    print("\n| server | workers | RPC | req/s | p50 ms | p99 ms | req/s / baseline | "
          "p99 / baseline | failed |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        base = find(rows, "baseline", r.workers, "GetCoin")
        print(f"| {r.server} | {r.workers} | {r.rpc} | {r.rps:.0f} | {r.p50_ms:.1f} | "
              f"{r.p99_ms:.1f} | {r.rps / base.rps:.2f} | {r.p99_ms / base.p99_ms:.2f} | "
              f"{r.failed} |")
    goals = []
    for n in workers:
        base, ours = find(rows, "baseline", n, "GetCoin"), find(rows, "crypto", n, "GetCoin")
        goals.append((f"GetCoin req/s vs baseline, {n} worker(s)", ours.rps / base.rps, 0.9))
        goals.append((f"GetCoin p99 vs baseline, {n} worker(s) (at most)",
                      ours.p99_ms / base.p99_ms, 1.2))
        for rpc in ("ListCoins(100)", "GetTopCoins(100)"):
            goals.append((f"{rpc} req/s vs GetCoin, {n} worker(s)",
                          find(rows, "crypto", n, rpc).rps / ours.rps, 0.5))
    if 1 in workers and 2 in workers:
        goals.append(("--workers 2 vs --workers 1, GetCoin req/s",
                      find(rows, "crypto", 2, "GetCoin").rps /
                      find(rows, "crypto", 1, "GetCoin").rps, 1.6))
    print_goals(goals)
    return goals


def run_script(script: str, out: Path, *args: str) -> Any:
    """One of the child benchmarks (streams, ledger, stalls, writes) as a child process; its
    table goes to this output and its rows come back through its --json file."""
    subprocess.run([sys.executable, str(HERE / script), "--json", str(out), *args], check=True)
    return json.loads(out.read_text())


def stream_and_write_goals(streams: list[dict], ledger: list[dict]) -> list[tuple]:
    goals: list[tuple] = []
    top = max(streams, key=lambda r: r["subscribers"]) if streams else None
    if top is not None and top["subscribers"]:
        goals.append((f"StreamPrices lag p99 ms at {top['subscribers']:,} subscribers (at most)",
                      top["lag_p99_ms"], 1000))
        goals.append((f"GetCoin p99 vs idle at {top['subscribers']:,} subscribers (at most)",
                      top["getcoin_p99_vs_idle"], 2.0))
    for row in ledger:
        if (row["backend"], row["rpc"], row["callers"]) == ("postgres", "Transfer", 50):
            goals.append((f"Transfer x50 on PostgreSQL, {row['workers']} worker(s): errors "
                          f"other than FAILED_PRECONDITION (at most)", row["errors"], 0))
    return goals


def chart(rows: list[Row], writes: list[dict], path: Path) -> None:
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: no chart (pip install matplotlib for one)")
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bars = [(f"{r.server} x{r.workers}\n{r.rpc}", r.rps,
             "grey" if r.server == "baseline" else "tab:blue") for r in rows]
    bars += [(f"{w['backend']} x{w['workers']}\n{w['rpc']} c{w['callers']}", w["rps"],
              "tab:orange") for w in writes if w["rpc"] != "GetCoin"]
    figure, axis = plt.subplots(figsize=(max(8, len(bars) * 0.6), 5))
    axis.bar(range(len(bars)), [b[1] for b in bars], color=[b[2] for b in bars])
    axis.set_xticks(range(len(bars)), [b[0] for b in bars], rotation=60, ha="right",
                    fontsize=7)
    axis.set_ylabel("requests/s")
    figure.tight_layout()
    figure.savefig(path)
    print(f"chart: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=4, help="measured seconds per RPC")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--workers", default="1,2", help="process counts, comma-separated")
    parser.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto",
                        help="the event loop of both servers (auto: uvloop if installed)")
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    parser.add_argument("--reads-only", action="store_true",
                        help="skip the stream and write benchmarks (Python clients)")
    parser.add_argument("--ledger-count", default="300", help="calls per write measurement")
    parser.add_argument("--stream-levels", default="1000,5000,10000")
    # A round scatters by several percent on a shared machine, more than the 5% the goals
    # allow: the median of five tells the cost of metrics from the scatter, three did not.
    parser.add_argument("--metrics-rounds", type=int, default=5,
                        help="rounds of GetCoin without and with --metrics-port (0: none)")
    parser.add_argument("--cpu-calls", type=int, default=10000,
                        help="GetCoin calls per server CPU measurement (metrics overhead)")
    parser.add_argument("--metrics-overhead-only", action="store_true",
                        help="measure only the cost of --metrics-port")
    parser.add_argument("--tail-rounds", type=int, default=5,
                        help="alternating frozen/moving runs of the read-tail measurement")
    parser.add_argument("--write-seconds", type=int, default=5,
                        help="measured seconds per run of the Transfer/pgbench comparison")
    parser.add_argument("--write-rounds", type=int, default=2,
                        help="alternating rounds of the Transfer/pgbench comparison")
    parser.add_argument("--tail-only", action="store_true",
                        help="only the read tail with prices frozen and moving")
    args = parser.parse_args()
    args.workers = [int(n) for n in args.workers.split(",")]
    if shutil.which("h2load") is None:
        raise SystemExit("h2load is required: apt-get install -y nghttp2-client "
                         "(Debian/Ubuntu), brew install nghttp2 (macOS)")
    print(f"event loop (both servers): {event_loop(args.loop)}")
    rows, tail, overhead = run(args)
    if args.metrics_overhead_only:
        print_goals(report_metrics_overhead(overhead, args.workers))
        return
    goals = [] if args.tail_only else report(rows, args.workers)
    if overhead:
        more = report_metrics_overhead(overhead, args.workers)
        print_goals(more)
        goals += more
    args.out.mkdir(parents=True, exist_ok=True)
    print("\n== Loop time of a price step and the reads after it (scripts/bench_stalls.py)")
    stalls = run_script("bench_stalls.py", args.out / "stalls.json")
    tail_goals = report_tail(tail, args.workers) + [
        (f"longest loop callback of a price step or a read after it, {row['backend']}, ms "
         f"(at most)", max(row["step_longest_max_ms"], row["reads_longest_max_ms"]),
         STALL_GOAL_MS) for row in stalls]
    print_goals(tail_goals)
    goals += tail_goals
    streams: list[dict] = []
    ledger: list[dict] = []
    writes: dict = {"rows": [], "goals": []}
    if not (args.reads_only or args.tail_only):
        print("\n== StreamPrices subscribers (scripts/bench_streams.py)")
        streams = run_script("bench_streams.py", args.out / "streams.json",
                             "--levels", args.stream_levels)
        print("\n== Deposit and Transfer (scripts/bench_ledger.py)")
        ledger = run_script("bench_ledger.py", args.out / "ledger.json",
                            "--count", args.ledger_count)
        more = stream_and_write_goals(streams, ledger)
        print_goals(more)
        goals += more
        print("\n== Transfers against pgbench on the same PostgreSQL (scripts/bench_writes.py)")
        writes = run_script("bench_writes.py", args.out / "writes.json",
                            "--seconds", str(args.write_seconds),
                            "--rounds", str(args.write_rounds))
        goals += [(g["goal"], g["measured"], g["target"]) for g in writes["goals"]]
    (args.out / "bench.json").write_text(json.dumps(
        {"settings": {"seconds": args.seconds, "connections": args.connections,
                      "workers": args.workers, "event_loop": event_loop(args.loop)},
         "rows": [asdict(r) for r in rows], "metrics_overhead": [asdict(r) for r in overhead],
         "read_tail": [asdict(r) for r in tail], "stalls": stalls, "writes": writes["rows"],
         "streams": streams, "ledger": ledger,
         "goals": [{"goal": g, "measured": v, "target": t} for g, v, t in goals]}, indent=2))
    print(f"saved: {args.out / 'bench.json'}")
    chart(rows, ledger, args.out / "bench.png")


if __name__ == "__main__":
    main()
