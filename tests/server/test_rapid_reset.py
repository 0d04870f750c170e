"""Rapid reset (CVE-2023-44487) against `crypto serve` as deployed: streams opened and reset
at once, round after round, get GOAWAY ENHANCE_YOUR_CALM and leave the memory where it was."""

import asyncio
import os
import subprocess
from pathlib import Path

import pytest
from h2.errors import ErrorCodes

from tests.server.h2_client import RawClient
from tests.server.test_process import BIN, free_port, run_cli

ROUNDS, RESETS_PER_ROUND = 20, 5000
MEMORY_GROWTH_LIMIT = 20 * 1024 * 1024


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def wait_listening(port: int, process: subprocess.Popen) -> None:
    for _ in range(300):
        assert process.poll() is None, "crypto serve exited"
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise AssertionError("server did not start listening")


async def reset_round(port: int) -> int | None:
    """Opens and resets RESETS_PER_ROUND streams at once; the GOAWAY's code, if any."""
    client = await RawClient.connect(port)
    for _ in range(RESETS_PER_ROUND):
        stream_id = client.start("/crypto.CryptoService/GetCoin")
        client.h2.reset_stream(stream_id, ErrorCodes.CANCEL)
    client.flush()
    try:
        await client.until_closed(timeout=60)
    finally:
        await client.close()
    goaway = client.goaway()
    return goaway.error_code if goaway else None


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="RSS is read from /proc")
async def test_rounds_of_rapid_resets_get_goaway_and_memory_stays_flat(tmp_path):
    env = {**os.environ, "CRYPTO_DATABASE_URL": f"sqlite://{tmp_path / 'rr.db'}",
           "CRYPTO_SIMULATE": "false"}
    assert run_cli("migrate", env=env).returncode == 0
    port = free_port()
    log = (tmp_path / "serve.log").open("w")  # a pipe nobody reads would fill and block it
    process = subprocess.Popen([str(BIN / "crypto"), "serve", "--port", str(port)], env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        await wait_listening(port, process)
        assert await reset_round(port) == ErrorCodes.ENHANCE_YOUR_CALM  # warm-up round
        start = rss(process.pid)
        codes, sizes = [], []
        for _ in range(ROUNDS):
            codes.append(await reset_round(port))
            sizes.append(rss(process.pid))
        print(f"RSS start {start / 2**20:.1f} MiB, after each round (MiB): "
              + " ".join(f"{size / 2**20:.1f}" for size in sizes))
        assert codes == [ErrorCodes.ENHANCE_YOUR_CALM] * ROUNDS
        assert sizes[-1] - start < MEMORY_GROWTH_LIMIT
        assert process.poll() is None
    finally:
        process.kill()
        process.wait()
