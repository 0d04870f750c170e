"""A price stream runs until its reader stops, well past the unary deadline (10 s by default):
through `crypto stream`, the async client and the blocking client, all at once against the
real service for 15 s, with updates every second."""

import asyncio
import json
import os
import signal
import sys
import time
from contextlib import aclosing
from decimal import Decimal

import pytest

from crypto_service.client import AsyncCryptoClient, CryptoClient
from tests.conftest import make_coin

RUN_SECONDS = 15
INTERVAL = 1
# Updates a reader must see: the first at once, then one a second, less some slack for a
# loaded machine. With the old 10 s deadline no reader got past about 10.
AT_LEAST = RUN_SECONDS - 3


async def read_cli(address: str) -> tuple[int, int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from crypto_service.cli import main; main()",
        "stream", "BTC", "--json", "--interval", str(INTERVAL), "--address", address,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    lines = 0
    end = time.monotonic() + RUN_SECONDS
    while (left := end - time.monotonic()) > 0:
        try:
            line = await asyncio.wait_for(process.stdout.readline(), left)
        except TimeoutError:
            break
        if not line:  # the stream ended: that is the failure this test is about
            break
        assert json.loads(line)["symbol"] == "BTC"
        lines += 1
    if process.returncode is None:
        process.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(process.communicate(), 30)
    return process.returncode, lines, err.decode()


async def read_async_client(address: str) -> int:
    count = 0
    end = time.monotonic() + RUN_SECONDS
    async with AsyncCryptoClient(address) as client:
        async with aclosing(client.stream_prices(["BTC"], interval=INTERVAL)) as updates:
            async for update in updates:
                assert update.price_usd == Decimal("94000.5")
                count += 1
                if time.monotonic() >= end:
                    break
    return count


def read_blocking_client(address: str) -> int:
    count = 0
    end = time.monotonic() + RUN_SECONDS
    with CryptoClient(address) as client:
        for update in client.stream_prices(["BTC"], interval=INTERVAL):
            assert update.symbol == "BTC"
            count += 1
            if time.monotonic() >= end:
                break
    return count


# The stream's lifetime is the client's and the hub's business, not the database's: one
# backend is enough, and saves CI 15 s.
@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
async def test_streams_outlive_the_unary_deadline(app_address):
    await make_coin("BTC", rank=1, current_price_usd=Decimal("94000.5"))
    (code, cli_lines, cli_errors), async_updates, blocking_updates = await asyncio.gather(
        read_cli(app_address), read_async_client(app_address),
        asyncio.to_thread(read_blocking_client, app_address))
    assert (code, cli_errors) == (0, ""), "crypto stream ended with an error"
    assert cli_lines >= AT_LEAST, f"crypto stream printed {cli_lines} updates in 15 s"
    assert async_updates >= AT_LEAST, f"the async client got {async_updates} updates"
    assert blocking_updates >= AT_LEAST, f"the blocking client got {blocking_updates} updates"
