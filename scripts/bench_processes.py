"""Process helpers the benchmark scripts share: free ports, servers started and stopped."""

from __future__ import annotations

import signal
import socket
import subprocess
import time


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
