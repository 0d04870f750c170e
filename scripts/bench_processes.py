"""What the benchmark scripts share: free ports, servers started and stopped, h2load runs,
the Go load generator (scripts/loadgen) built and run, percentiles and the goals table."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

LOADGEN_SOURCE = Path(__file__).parent / "loadgen" / "main.go"
# Debian's grpc-go sources (golang-google-grpc-dev and what it depends on) for GOPATH mode.
GOCODE = Path("/usr/share/gocode")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening_sockets(port: int) -> int:
    """IPv4 sockets listening on `port` (Linux): with SO_REUSEPORT, one per process."""
    with open("/proc/net/tcp") as table:
        rows = [line.split() for line in table.readlines()[1:]]
    return sum(1 for row in rows if row[1].endswith(f":{port:04X}") and row[3] == "0A")


def start_listening(command: list[str], port: int, env: dict | None = None,
                    timeout: float = 30, processes: int = 1) -> subprocess.Popen:
    """Runs `command` (a server of `processes` processes that will listen on 127.0.0.1:`port`)
    and returns once every one of them listens: connections made while only the first one
    does would all stay with it."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if listening_sockets(port) >= processes:
            return process
        if process.poll() is not None:
            raise SystemExit(f"{command[0]} exited with {process.returncode} before listening")
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"{command[0]} did not start listening within {timeout:.0f}s")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def grpc_frame(message) -> bytes:
    """A request as gRPC sends it: a length-prefixed, uncompressed message."""
    body = bytes(message)
    return b"\x00" + len(body).to_bytes(4, "big") + body


def run_h2load(url: str, data: Path, connections: int, seconds: float,
               log: Path) -> tuple[float, list[float], int]:
    """Requests/s, per-request latencies (ms) and failures of one h2load run: `connections`
    connections, one stream each, every request the gRPC frame in `data`, measured for
    `seconds` after a 1 s warm-up. A server that answered nothing gives 0 and no latencies."""
    log.unlink(missing_ok=True)  # h2load appends to its log file
    result = subprocess.run(
        ["h2load", "-c", str(connections), "-m", "1", "-t", "1", "-D", str(seconds),
         "--warm-up-time", "1", "-d", str(data), "-H", "content-type: application/grpc",
         "-H", "te: trailers", "--log-file", str(log), url],
        capture_output=True, text=True, check=True)
    rps = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", result.stdout).group(1))
    counts = re.search(r"(\d+) succeeded, (\d+) failed, (\d+) errored", result.stdout)
    latencies = [int(line.split("\t")[2]) / 1000 for line in log.read_text().splitlines()]
    return rps, latencies, int(counts.group(2)) + int(counts.group(3))


def build_loadgen(build_dir: Path) -> tuple[Path | None, str]:
    """Builds the Go load generator into `build_dir` offline, in GOPATH mode from Debian's
    packages as examples/go/build-offline.sh builds its client: (the binary, "") or, when it
    cannot, (None, why: no go, no grpc-go sources, or the build's own error)."""
    if shutil.which("go") is None:
        return None, "go not found"
    if not (GOCODE / "src/google.golang.org/grpc").is_dir():
        return None, f"grpc-go sources not found in {GOCODE}"
    package = build_dir / "src" / "loadgen"
    package.mkdir(parents=True, exist_ok=True)
    shutil.copy(LOADGEN_SOURCE, package)
    binary = build_dir / "loadgen"
    # GOFLAGS is cleared because module flags such as -mod=mod are errors in GOPATH mode.
    env = {**os.environ, "GOPATH": f"{build_dir}:{GOCODE}", "GO111MODULE": "off", "GOFLAGS": ""}
    result = subprocess.run(["go", "build", "-o", str(binary), "loadgen"], env=env,
                            check=False, capture_output=True, text=True)
    if result.returncode != 0:
        return None, f"go build failed: {result.stderr.strip()[-500:]}"
    return binary, ""


def run_loadgen(binary: Path, port: int, method: str, bodies: list[bytes], connections: int,
                seconds: float, tmp: Path) -> tuple[float, list[float], int]:
    """Calls/s, per-call latencies (ms) and failures of one load generator run against
    127.0.0.1:`port`: `connections` connections, one call at a time each, the serialized
    `bodies` in turn, measured for `seconds` after a 1 s warm-up -- what run_h2load gives, for
    loads of many different bodies."""
    data, log = tmp / "loadgen-bodies.bin", tmp / "loadgen-latencies.txt"
    data.write_bytes(b"".join(len(body).to_bytes(4, "big") + body for body in bodies))
    result = subprocess.run(
        [str(binary), "-addr", f"127.0.0.1:{port}", "-method", method, "-bodies", str(data),
         "-c", str(connections), "-duration", str(seconds), "-warmup", "1",
         "-latencies", str(log)], check=False, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"the load generator failed: {result.stderr.strip()}")
    summary = json.loads(result.stdout)
    return (summary["per_second"], [float(line) for line in log.read_text().split()],
            summary["failed"])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0


def print_goals(goals: list[tuple[str, float, float]]) -> None:
    """Each goal (name, measured, target) met or not: at least the target, or at most it when
    the name says "(at most)"."""
    print("\n| goal | measured | target | reached |\n|---|---|---|---|")
    for name, value, target in goals:
        reached = value <= target if "(at most)" in name else value >= target
        print(f"| {name} | {value:.2f} | {target} | {'yes' if reached else 'NO'} |")
