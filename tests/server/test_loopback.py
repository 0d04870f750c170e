"""The assembled server over a real loopback socket: health, access log, graceful drain."""

import asyncio
import logging

import pytest
from grpclib.client import Channel
from grpclib.const import Status
from grpclib.exceptions import GRPCError
from grpclib.health.v1.health_grpc import HealthStub
from grpclib.health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse

from crypto_service.generated import crypto as pb
from tests.conftest import make_coin


@pytest.fixture
async def served(app):
    await app.server.start("127.0.0.1", 0)
    port = app.server._server.sockets[0].getsockname()[1]
    channel = Channel("127.0.0.1", port)
    try:
        yield app, channel
    finally:
        channel.close()
        app.server.close()
        await app.server.wait_closed()


async def health_of(channel, service: str):
    return (await HealthStub(channel).Check(HealthCheckRequest(service=service))).status


async def test_calls_over_loopback_are_served_and_logged(served, caplog):
    app, channel = served
    await make_coin("BTC", rank=1)
    caplog.set_level(logging.INFO, logger="crypto_service.access")
    response = await pb.CryptoServiceStub(channel).get_coin(pb.GetCoinRequest(symbol="btc"))
    assert response.coin.symbol == "BTC"
    with pytest.raises(GRPCError):
        await pb.CryptoServiceStub(channel).get_coin(pb.GetCoinRequest(symbol="nope"))
    lines = [r.getMessage() for r in caplog.records if r.name == "crypto_service.access"]
    assert len(lines) == 2
    assert lines[0].startswith("/crypto.CryptoService/GetCoin OK ")
    assert lines[1].startswith("/crypto.CryptoService/GetCoin NOT_FOUND ")
    assert all("ms peer=127.0.0.1:" in line for line in lines)


async def test_health_reports_serving_for_the_service_and_overall(served):
    _, channel = served
    assert await health_of(channel, "crypto.CryptoService") == HealthCheckResponse.SERVING
    assert await health_of(channel, "") == HealthCheckResponse.SERVING


@pytest.fixture
def gate(app, monkeypatch):
    """Holds every catalog read until released, so a call stays in flight."""
    entered, release = asyncio.Event(), asyncio.Event()
    real_current = app.service.catalog.current

    async def held():
        entered.set()
        await release.wait()
        return await real_current()

    monkeypatch.setattr(app.service.catalog, "current", held)
    return entered, release


async def test_drain_finishes_calls_in_flight_and_refuses_new_ones(served, gate):
    app, channel = served
    entered, release = gate
    await make_coin("BTC", rank=1)
    stub = pb.CryptoServiceStub(channel)
    in_flight = asyncio.create_task(stub.get_coin(pb.GetCoinRequest(symbol="BTC")))
    await entered.wait()

    drain = asyncio.create_task(app.drain(grace_seconds=10))
    await asyncio.sleep(0.05)
    assert await health_of(channel, "crypto.CryptoService") == HealthCheckResponse.NOT_SERVING
    with pytest.raises(GRPCError) as refused:
        await stub.get_top_coins(pb.GetTopCoinsRequest())
    assert refused.value.status == Status.UNAVAILABLE
    assert not drain.done()

    release.set()
    assert (await in_flight).coin.symbol == "BTC"
    await asyncio.wait_for(drain, 5)


async def test_drain_cancels_calls_still_running_after_the_grace_period(served, gate):
    app, channel = served
    entered, _ = gate
    in_flight = asyncio.create_task(
        pb.CryptoServiceStub(channel).get_coin(pb.GetCoinRequest(symbol="BTC")))
    await entered.wait()
    await asyncio.wait_for(app.drain(grace_seconds=0.2), 5)
    with pytest.raises(GRPCError) as ended:
        await asyncio.wait_for(in_flight, 5)
    assert ended.value.status == Status.UNAVAILABLE
    assert "shutting down" in ended.value.message


async def test_health_watch_sees_the_drain(served):
    app, channel = served
    async with HealthStub(channel).Watch.open() as watch:
        await watch.send_message(HealthCheckRequest(service="crypto.CryptoService"), end=True)
        assert (await watch.recv_message()).status == HealthCheckResponse.SERVING
        app.serving.set(False)
        assert (await asyncio.wait_for(watch.recv_message(), 5)).status == \
            HealthCheckResponse.NOT_SERVING
        await watch.cancel()
