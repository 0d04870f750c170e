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


def start_listening(command: list[str], port: int, env: dict | None = None,
                    timeout: float = 30) -> subprocess.Popen:
    """Runs `command` (a server that will listen on `port`) and returns once it accepts."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
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
