"""What arrives on the wire is checked before a handler trusts it: malformed bytes, oversized
messages, several members of one oneof and unknown enum values get a clear status."""

import pytest
from grpclib.const import Cardinality, Status
from grpclib.exceptions import GRPCError

from crypto_service.client.raw import RawCodec
from crypto_service.generated import crypto as pb
from crypto_service.server.codec import MALFORMED, ONE_MESSAGE
from tests.channels import LOCAL_PEER, ChannelFrom
from tests.conftest import make_coin


@pytest.fixture
async def raw_call(app):
    async with ChannelFrom(app.services, codec=app.codec, peer=LOCAL_PEER) as channel:
        # The server side uses the app's codec; this client side sends raw bytes.
        channel._codec = RawCodec()
        yield lambda method, *payloads: _unary(channel, method, payloads)


async def _unary(channel, method: str, payloads: tuple[bytes, ...]) -> bytes:
    """The call with each payload as a request message (a unary call should have one; the
    client side streams, or grpclib's client would refuse to send a second)."""
    async with channel.request(f"/crypto.CryptoService/{method}", Cardinality.STREAM_UNARY,
                               bytes, bytes) as stream:
        for payload in payloads[:-1]:
            await stream.send_message(payload)
        await stream.send_message(payloads[-1], end=True)
        return await stream.recv_message()


@pytest.mark.parametrize("payload", [
    b"\xff\xff\xff",                 # a varint cut short
    b"\x12\x05ab",                   # a string claiming 5 bytes with 2
    b"\x0a\xff\xff\xff\xff\xff",     # a length cut short
    b"\x12\x02\xff\xfe",             # a string field that is not UTF-8
])
async def test_malformed_requests_are_invalid_argument(raw_call, payload):
    with pytest.raises(GRPCError) as info:
        await raw_call("GetCoin", payload)
    assert info.value.status == Status.INVALID_ARGUMENT
    assert "malformed" in info.value.message


async def test_a_request_over_the_size_limit_is_resource_exhausted(raw_call, db):
    too_big = bytes(pb.SearchCoinsRequest(query="x" * (db.max_message_bytes + 1)))
    with pytest.raises(GRPCError) as info:
        await raw_call("SearchCoins", too_big)
    assert info.value.status == Status.RESOURCE_EXHAUSTED
    assert "exceeds the limit" in info.value.message


async def test_the_last_member_of_a_oneof_on_the_wire_wins(raw_call, db):
    btc = await make_coin("BTC", rank=1)
    await make_coin("ETH", rank=2)
    payload = bytes(pb.GetCoinRequest(symbol="ETH")) + bytes(pb.GetCoinRequest(id=btc.id))
    response = pb.CoinResponse.parse(await raw_call("GetCoin", payload))
    assert response.coin.symbol == "BTC"


async def test_a_second_request_message_is_invalid_argument(raw_call, db):
    await make_coin("BTC", rank=1)
    btc = bytes(pb.GetCoinRequest(symbol="BTC"))
    assert pb.CoinResponse.parse(await raw_call("GetCoin", btc)).coin.symbol == "BTC"
    with pytest.raises(GRPCError) as info:
        await raw_call("GetCoin", btc, btc)
    assert info.value.status == Status.INVALID_ARGUMENT
    assert info.value.message == f"{MALFORMED}: {ONE_MESSAGE}"


async def test_an_unknown_sort_value_is_invalid_argument(raw_call, db):
    payload = b"\xa0\x01\x63"  # field 20 (sort_by), varint 99
    with pytest.raises(GRPCError) as info:
        await raw_call("ListCoins", payload)
    assert info.value.status == Status.INVALID_ARGUMENT
    assert "sort_by" in info.value.message


@pytest.mark.parametrize("payload", [
    "090000000000000000",  # field 1 (id, a varint) sent as a 64-bit value
    "0d00000000",          # ... as a 32-bit value
    "0a00",                # ... as a length-delimited value
    "1001",                # field 2 (symbol, a string) sent as a varint
    "1801",                # field 3 (slug) sent as a varint
])
async def test_a_known_field_with_the_wrong_wire_type_is_invalid_argument(raw_call, payload):
    with pytest.raises(GRPCError) as info:
        await raw_call("GetCoin", bytes.fromhex(payload))
    assert info.value.status == Status.INVALID_ARGUMENT
    assert info.value.message.startswith("malformed request message: ")
    assert "wrong wire type" in info.value.message


async def test_unknown_fields_are_ignored(raw_call, db):
    await make_coin("BTC", rank=1)
    payload = bytes(pb.GetCoinRequest(symbol="BTC")) + bytes.fromhex("f80701")  # field 127
    assert pb.CoinResponse.parse(await raw_call("GetCoin", payload)).coin.symbol == "BTC"


@pytest.mark.parametrize("path, cardinality", [
    ("/grpc.health.v1.Health/Check", Cardinality.UNARY_UNARY),
    ("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", Cardinality.STREAM_STREAM),
    ("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
     Cardinality.STREAM_STREAM),
])
@pytest.mark.parametrize("payload", ["0801", "0aff", "ffffff"])
async def test_health_and_reflection_decode_strictly_too(app, path, cardinality, payload):
    async with ChannelFrom(app.services, codec=app.codec, peer=LOCAL_PEER) as channel:
        channel._codec = RawCodec()
        async with channel.request(path, cardinality, bytes, bytes) as stream:
            await stream.send_message(bytes.fromhex(payload), end=True)
            with pytest.raises(GRPCError) as info:
                await stream.recv_message()
    assert info.value.status == Status.INVALID_ARGUMENT
    assert "malformed request message" in info.value.message


async def test_an_unknown_method_is_unimplemented_for_grpclib_clients(raw_call):
    with pytest.raises(GRPCError) as info:
        await raw_call("NoSuchMethod", b"")
    assert (info.value.status, info.value.message) == (Status.UNIMPLEMENTED, "Method not found")
