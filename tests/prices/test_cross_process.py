"""Two `crypto serve` processes on one database: one simulates, both stream its prices."""

import asyncio
import os
import signal

import pytest
from grpclib.client import Channel

from crypto_service.generated import crypto as pb
from crypto_service.settings import Settings
from tests.server.test_process import run_cli, spawn_server

LEADER_LINE = "this process runs the market simulator"


@pytest.fixture
def servers(settings: Settings):
    env = {**os.environ, "CRYPTO_DATABASE_URL": settings.database_url,
           "CRYPTO_GRACE_PERIOD_SECONDS": "2", "CRYPTO_SIMULATE_INTERVAL_SECONDS": "0.5",
           "CRYPTO_PRICE_POLL_SECONDS": "0.5"}
    assert run_cli("seed", env=env).returncode == 0
    started = [spawn_server(env) for _ in range(2)]
    yield started
    for process, _ in started:
        if process.poll() is None:
            process.kill()
            process.wait()


async def prices_move(port: int) -> None:
    """Returns once a stream from this server shows BTC at two different prices."""
    channel = Channel("127.0.0.1", port)
    try:
        stream = pb.CryptoServiceStub(channel).stream_prices(
            pb.StreamPricesRequest(symbols=["BTC"], interval_seconds=1))
        first = (await anext(stream)).price_usd
        async for update in stream:
            if update.price_usd != first:
                break
        await stream.aclose()
    finally:
        channel.close()


async def test_one_process_simulates_and_every_process_streams_its_prices(servers):
    await asyncio.wait_for(asyncio.gather(*(prices_move(port) for _, port in servers)), 30)
    # Both at once: stopped one after the other, the second would take the writer lock from
    # the first while it drains, and log that it leads too.
    for process, _ in servers:
        process.send_signal(signal.SIGTERM)
    outputs = []
    for process, _ in servers:
        outputs.append(process.communicate(timeout=30)[0])
        assert process.returncode == 0, outputs[-1]
    assert sum(LEADER_LINE in output for output in outputs) == 1, outputs
