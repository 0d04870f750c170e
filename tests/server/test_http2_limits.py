"""HTTP/2 limits over a raw HTTP/2 connection (the h2 library as the client): each limit is
answered with a status or a GOAWAY that says why, and the connection or its other streams
live on wherever the protocol allows."""

import asyncio
import logging
from decimal import Decimal

import grpc  # grpcio (installed with grpcio-tools): the C-core client
import pytest
from grpclib.client import Channel
from grpclib.health.v1.health_pb2 import HealthCheckRequest
from h2.errors import ErrorCodes
from h2.events import PingAckReceived, ResponseReceived

from crypto_service.db import connect
from crypto_service.db.models import LedgerTransaction, Wallet
from crypto_service.generated import crypto as pb
from crypto_service.server.app import build_app
from crypto_service.settings import Settings
from tests.conftest import make_coin
from tests.server.h2_client import RawClient, framed

GET_COIN = "/crypto.CryptoService/GetCoin"
BTC = bytes(pb.GetCoinRequest(symbol="BTC"))
PRICES = "/crypto.CryptoService/StreamPrices"


@pytest.fixture
def settings(tmp_path):
    """SQLite only: these tests are about the connection, not the database."""
    url = f"sqlite://{tmp_path / 'test.db'}"
    asyncio.run(connect.apply_migrations(Settings(database_url=url)))
    return Settings(database_url=url, max_message_bytes=64 * 1024)


@pytest.fixture
def limits():
    """Per-test HTTP/2 settings; the defaults otherwise."""
    return {}


@pytest.fixture
async def port(db, limits):
    app = build_app(db.model_copy(update=limits))
    await make_coin("BTC", rank=1)
    await app.server.start("127.0.0.1", 0)
    try:
        yield app.server._server.sockets[0].getsockname()[1]
    finally:
        app.server.close()
        await app.server.wait_closed()


@pytest.fixture
async def client(port):
    client = await RawClient.connect(port)
    yield client
    await client.close()


async def assert_serves(client: RawClient) -> None:
    stream_id = client.call(GET_COIN, BTC)
    assert await client.outcome(stream_id) == ("0", "")
    assert pb.CoinResponse.parse(client.data_of(stream_id)[5:]).coin.symbol == "BTC"


@pytest.mark.parametrize("limits", [{"http2_max_concurrent_streams": 3}])
async def test_a_stream_over_the_limit_is_refused_and_the_connection_lives_on(client):
    client.ignore_stream_limit()
    held = [client.start(GET_COIN) for _ in range(3)]  # requests not sent yet: streams open
    over = client.start(GET_COIN)
    assert await client.outcome(over) == ("RST", "REFUSED_STREAM")
    for stream_id in held:
        client.send(stream_id, BTC)
        assert await client.outcome(stream_id) == ("0", "")
    await assert_serves(client)
    assert client.goaway() is None


async def test_the_default_stream_limit_serves_a_thousand_streams_on_one_connection(client):
    held = [client.start(GET_COIN) for _ in range(1000)]
    await assert_serves(client)
    for stream_id in held:
        client.send(stream_id, BTC)
    for stream_id in held:
        assert await client.outcome(stream_id) == ("0", "")


@pytest.mark.parametrize("limits", [{"http2_max_resets": 100}])
async def test_rapid_reset_gets_goaway_enhance_your_calm(client):
    for _ in range(500):
        stream_id = client.start(GET_COIN)
        client.h2.reset_stream(stream_id, ErrorCodes.CANCEL)
    client.flush()
    await client.until_closed()
    goaway = client.goaway()
    assert goaway is not None and goaway.error_code == ErrorCodes.ENHANCE_YOUR_CALM
    assert goaway.additional_data == b"too_many_resets"


@pytest.mark.parametrize("limits", [{"http2_max_resets": 100}])
async def test_cancelled_calls_under_the_reset_limit_are_fine(client):
    for _ in range(100):
        client.h2.reset_stream(client.start(GET_COIN), ErrorCodes.CANCEL)
    client.flush()
    await assert_serves(client)
    assert client.goaway() is None


@pytest.mark.parametrize("limits", [{"http2_handshake_timeout_seconds": 0.2}])
async def test_a_connection_without_a_preface_is_closed(port):
    silent = await RawClient.connect(port, preface=False)
    await silent.until_closed(timeout=5)
    assert silent.closed


async def test_a_connection_that_is_not_http2_gets_a_goaway_saying_why(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    received = await asyncio.wait_for(reader.read(), 5)  # to the end: the server closed
    writer.close()
    assert b"preamble" in received  # the GOAWAY's debug data, after the server's SETTINGS


@pytest.mark.parametrize("limits", [{"http2_idle_timeout_seconds": 0.3}])
async def test_an_idle_connection_gets_goaway_and_is_closed(client):
    await assert_serves(client)
    await client.until_closed(timeout=5)
    goaway = client.goaway()
    assert goaway is not None and goaway.error_code == ErrorCodes.NO_ERROR
    assert goaway.additional_data == b"idle"


@pytest.mark.parametrize("limits", [{"http2_idle_timeout_seconds": 0.3}])
async def test_a_connection_with_a_stream_open_is_not_idle(client):
    held = client.start(GET_COIN)
    with pytest.raises(asyncio.TimeoutError):  # three idle periods pass with a stream open
        await client.until_closed(timeout=1)
    assert client.goaway() is None
    client.send(held, BTC)
    assert await client.outcome(held) == ("0", "")


def ping(client: RawClient, n: int) -> None:
    client.h2.ping(n.to_bytes(8, "big"))
    client.flush()


def acked(n: int):
    return lambda e: isinstance(e, PingAckReceived) and e.ping_data == n.to_bytes(8, "big")


async def test_keepalive_pings_are_answered_and_too_many_get_goaway(client):
    for n in range(3):  # the first, then two strikes: answered
        ping(client, n)
        await client.until(acked(n))
    ping(client, 3)  # the third strike
    await client.until_closed()
    goaway = client.goaway()
    assert goaway is not None and goaway.error_code == ErrorCodes.ENHANCE_YOUR_CALM
    assert goaway.additional_data == b"too_many_pings"


async def test_pings_between_responses_are_not_strikes(client):
    for n in range(6):
        await assert_serves(client)
        ping(client, n)
        await client.until(acked(n))
    assert client.goaway() is None


async def test_metadata_over_the_limit_is_resource_exhausted_on_its_stream_only(client):
    other = client.start(GET_COIN)
    big = client.start(GET_COIN, [("x-big", "a" * 20_000)], end=True)
    status, message = await client.outcome(big)
    assert status == "8" and "exceeds the limit of 16384 bytes" in message
    many = client.start(GET_COIN, [(f"x-{n}", "v") for n in range(10_000)], end=True)
    assert (await client.outcome(many))[0] == "8"
    # 1 MiB decoded (each repeat is a reference to the first in HPACK's table).
    huge = client.start(GET_COIN, [("x-huge", "b" * 4000)] * 260, end=True)
    assert (await client.outcome(huge))[0] == "8"
    client.send(other, BTC)
    assert await client.outcome(other) == ("0", "")
    assert client.goaway() is None


async def test_an_hpack_bomb_gets_goaway_with_the_reason(client):
    # Each repeat is a one-byte reference to the first in HPACK's table: 2.4 MB decoded.
    client.start(GET_COIN, [("x-a", "a" * 4000)] * 600, end=True)
    await client.until_closed()
    goaway = client.goaway()
    assert goaway is not None and goaway.error_code == ErrorCodes.ENHANCE_YOUR_CALM
    assert b"header" in goaway.additional_data.lower()


async def test_malformed_request_headers_reset_only_their_stream(client):
    not_ascii = client.start(GET_COIN, [("x-name", b"caf\xc3\xa9")], end=True)
    assert await client.outcome(not_ascii) == ("RST", "PROTOCOL_ERROR")
    no_path = client.h2.get_next_available_stream_id()
    client.h2.send_headers(no_path, [(":method", "POST"), (":scheme", "http"),
                                     (":authority", "t")], end_stream=True)
    client.flush()
    assert await client.outcome(no_path) == ("RST", "PROTOCOL_ERROR")
    await assert_serves(client)


@pytest.mark.parametrize("path", [GET_COIN, "/grpc.health.v1.Health/Check"])
async def test_a_body_without_a_whole_message_is_invalid_argument(client, path):
    no_message = client.start(path, end=True)
    assert await client.outcome(no_message) == (
        "3", "malformed request message: no request message")
    cut_prefix = client.start(path)
    client.h2.send_data(cut_prefix, b"\0\0\0", end_stream=True)
    client.flush()
    assert await client.outcome(cut_prefix) == (
        "3", "malformed request message: the body ended early")
    await assert_serves(client)


ONE_MESSAGE = "malformed request message: a unary call carries one request message, got more"
HEALTH_CHECK = "/grpc.health.v1.Health/Check"
CHECK = HealthCheckRequest(service="crypto.CryptoService").SerializeToString()
DEPOSIT = "/crypto.CryptoService/Deposit"


def deposit(amount: str) -> bytes:
    return bytes(pb.DepositRequest(user_id=1, symbol="BTC", amount=amount))


async def balance() -> Decimal:
    return (await Wallet.get(user_id=1)).balance


async def test_a_deposit_with_a_second_message_is_refused_before_it_moves_money(client):
    assert await client.outcome(client.call(DEPOSIT, deposit("1"))) == ("0", "")
    transactions = await LedgerTransaction.all().count()
    apart = client.start(DEPOSIT)
    client.send(apart, deposit("5"), end=False)
    client.send(apart, deposit("7"))
    together = client.start(DEPOSIT)
    client.h2.send_data(together, framed(deposit("5")) + framed(deposit("7")), end_stream=True)
    client.flush()
    assert await client.outcome(apart) == ("3", ONE_MESSAGE)
    assert await client.outcome(together) == ("3", ONE_MESSAGE)
    assert await balance() == Decimal(1)
    assert await LedgerTransaction.all().count() == transactions


@pytest.mark.parametrize("path, message", [
    (GET_COIN, BTC), (HEALTH_CHECK, CHECK), (PRICES, bytes(pb.StreamPricesRequest()))])
async def test_a_single_request_call_with_more_is_invalid_argument(client, path, message):
    second_message = client.start(path)
    client.send(second_message, message, end=False)
    client.send(second_message, message)
    stray_bytes = client.start(path)
    client.h2.send_data(stray_bytes, framed(message) + b"\0", end_stream=True)
    client.flush()
    assert await client.outcome(second_message) == ("3", ONE_MESSAGE)
    assert await client.outcome(stray_bytes) == ("3", ONE_MESSAGE)
    assert not client.data_of(second_message) and not client.data_of(stray_bytes)
    await assert_serves(client)


@pytest.mark.parametrize("path, message", [(GET_COIN, BTC), (HEALTH_CHECK, CHECK)])
async def test_end_stream_after_the_message_in_a_later_empty_frame_is_served(client, path,
                                                                             message):
    stream_id = client.start(path)
    client.send(stream_id, message, end=False)
    client.h2.send_data(stream_id, b"")  # an empty DATA frame that does not end the body
    client.flush()
    with pytest.raises(asyncio.TimeoutError):  # the server waits for the end to answer
        await client.until(lambda e: getattr(e, "stream_id", None) == stream_id, timeout=0.3)
    client.h2.send_data(stream_id, b"", end_stream=True)
    client.flush()
    assert await client.outcome(stream_id) == ("0", "")
    assert client.data_of(stream_id)


async def test_a_thousand_price_streams_and_unary_calls_share_one_grpcio_channel(port):
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stream_prices = channel.unary_stream(
            PRICES, request_serializer=bytes,
            response_deserializer=pb.PriceUpdate.parse)
        get_coin = channel.unary_unary(GET_COIN, request_serializer=bytes,
                                       response_deserializer=pb.CoinResponse.parse)
        streams = [stream_prices(pb.StreamPricesRequest(symbols=["BTC"], interval_seconds=3600))
                   for _ in range(1000)]
        firsts = await asyncio.wait_for(asyncio.gather(*(s.read() for s in streams)), 60)
        assert {update.symbol for update in firsts} == {"BTC"}

        coin = await get_coin(pb.GetCoinRequest(symbol="BTC"), timeout=10)
        assert coin.coin.symbol == "BTC"
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await get_coin(pb.GetCoinRequest(symbol="BTC"), timeout=10,
                           metadata=[("x-big", "a" * 1024 * 1024)])
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "exceeds the limit" in refused.value.details()
        assert (await get_coin(pb.GetCoinRequest(symbol="BTC"), timeout=10)).success
        assert not any(s.done() for s in streams)  # every stream still open
        for s in streams:
            s.cancel()


@pytest.mark.parametrize("limits", [{"http2_idle_timeout_seconds": 0.2}])
async def test_clients_carry_on_after_an_idle_close(port, caplog):
    caplog.set_level(logging.INFO, logger="crypto_service.http2")
    grpclib_channel = Channel("127.0.0.1", port)
    stub = pb.CryptoServiceStub(grpclib_channel)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as grpcio_channel:
        get_coin = grpcio_channel.unary_unary(GET_COIN, request_serializer=bytes,
                                              response_deserializer=pb.CoinResponse.parse)
        try:
            for _ in range(2):  # the second round comes after the idle GOAWAYs
                assert (await stub.get_coin(pb.GetCoinRequest(symbol="BTC"))).success
                assert (await get_coin(pb.GetCoinRequest(symbol="BTC"), timeout=10)).success
                await asyncio.sleep(0.6)
        finally:
            grpclib_channel.close()
    idle_closes = [r for r in caplog.records
                   if r.name == "crypto_service.http2" and r.getMessage().endswith(": idle")]
    assert len(idle_closes) >= 2  # both clients' connections were closed in between


async def test_calls_refused_before_a_handler_carry_a_grpc_content_type(client):
    """Trailers-Only answers must say `content-type: application/grpc`: grpclib's client and
    grpc-go (grpcurl) report UNKNOWN "Missing content-type header" without it."""
    unknown = client.start("/crypto.CryptoService/NoSuchMethod", end=True)
    bad_timeout = client.start(GET_COIN, [("grpc-timeout", "soon")], end=True)
    assert await client.outcome(unknown) == ("12", "Method not found")
    assert await client.outcome(bad_timeout) == ("2", "Invalid grpc-timeout header")
    for stream_id in (unknown, bad_timeout):
        response = next(e for e in client.events
                        if isinstance(e, ResponseReceived) and e.stream_id == stream_id)
        assert dict(response.headers)["content-type"] == "application/grpc"
    await assert_serves(client)
