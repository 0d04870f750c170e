"""GetMarketStats and GetTrendingCoins through a real client."""

from decimal import Decimal

import pytest
from grpclib.const import Status

from crypto_service.generated import crypto as pb
from crypto_service.generated.google import protobuf as pb_google
from tests.conftest import make_coin
from tests.rpc.test_coins import expect_error


async def test_market_stats_on_an_empty_database_are_zeros(stub, db):
    stats = await stub.get_market_stats(pb_google.Empty())
    assert stats.success
    assert (stats.total_market_cap_usd, stats.total_volume_24h_usd, stats.average_change_24h) == \
        ("0", "0", "0")
    assert (stats.active_coins_count, stats.coins_up_24h, stats.coins_down_24h) == (0, 0, 0)
    assert stats.calculated_at is not None


async def test_market_stats_are_exact_over_active_coins(stub, db):
    # Floats would lose the tiny parts of these sums; SQLite's SUM would.
    await make_coin("A", market_cap_usd=Decimal("123456789012345678.123456789012345678"),
                    volume_24h_usd=Decimal("0.000000000000000001"),
                    price_change_24h_percent=Decimal("1.1"))
    await make_coin("B", market_cap_usd=Decimal("0.000000000000000001"),
                    volume_24h_usd=Decimal("0.000000000000000002"),
                    price_change_24h_percent=Decimal("-0.2"))
    await make_coin("C", market_cap_usd=Decimal("1"), volume_24h_usd=Decimal("1"),
                    price_change_24h_percent=Decimal("0"))
    await make_coin("GONE", market_cap_usd=Decimal("1000"), is_active=False,
                    price_change_24h_percent=Decimal("50"))
    stats = await stub.get_market_stats(pb_google.Empty())
    assert stats.total_market_cap_usd == "123456789012345679.123456789012345679"
    assert stats.total_volume_24h_usd == "1.000000000000000003"
    assert (stats.active_coins_count, stats.coins_up_24h, stats.coins_down_24h) == (3, 1, 1)
    assert stats.average_change_24h == "0.3"


async def test_market_stats_average_is_rounded_to_18_places(stub, db):
    for symbol, change in [("A", "1"), ("B", "1"), ("C", "0")]:
        await make_coin(symbol, price_change_24h_percent=Decimal(change))
    stats = await stub.get_market_stats(pb_google.Empty())
    assert stats.average_change_24h == "0.666666666666666667"


@pytest.fixture
async def movers():
    for symbol, change, volume in [("UP1", "5", "10"), ("UP2", "12.5", "30"), ("FLAT", "0", "50"),
                                   ("DN1", "-3", "20"), ("DN2", "-9.75", "5")]:
        await make_coin(symbol, price_change_24h_percent=Decimal(change),
                        volume_24h_usd=Decimal(volume))
    await make_coin("OFF", price_change_24h_percent=Decimal("99"), volume_24h_usd=Decimal("999"),
                    is_active=False)


@pytest.mark.parametrize("kind, expected", [
    (pb.TrendingType.TOP_GAINERS, ["UP2", "UP1"]),
    (pb.TrendingType.TOP_LOSERS, ["DN2", "DN1"]),
    (pb.TrendingType.MOST_TRADED, ["FLAT", "UP2", "DN1", "UP1", "DN2"]),
])
async def test_trending(stub, db, movers, kind, expected):
    response = await stub.get_trending_coins(pb.GetTrendingCoinsRequest(type=kind))
    assert response.success and response.type == kind
    assert [c.symbol for c in response.coins] == expected


async def test_trending_limit(stub, db, movers):
    response = await stub.get_trending_coins(
        pb.GetTrendingCoinsRequest(type=pb.TrendingType.MOST_TRADED, limit=2))
    assert [c.symbol for c in response.coins] == ["FLAT", "UP2"]
    await expect_error(stub.get_trending_coins(
        pb.GetTrendingCoinsRequest(type=pb.TrendingType.MOST_TRADED, limit=-3)),
        Status.INVALID_ARGUMENT)


async def test_trending_without_type_is_invalid_argument(stub, db, movers):
    message = await expect_error(stub.get_trending_coins(pb.GetTrendingCoinsRequest()),
                                 Status.INVALID_ARGUMENT)
    assert "type" in message
