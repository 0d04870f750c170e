"""`crypto coin|coins|top|search|trending|market` against the real service, as tables and as
canonical JSON that Google protobuf parses back into exactly what the client returns."""

from decimal import Decimal

import pytest
from google.protobuf import json_format

from crypto_service.cli.client_commands import Sort
from crypto_service.client import AsyncCryptoClient
from crypto_service.generated import crypto as pb
from crypto_service.messages import google_class, to_google
from tests.cli.conftest import json_output
from tests.conftest import make_coin


@pytest.fixture
async def address(app_address):
    await make_coin("BTC", name="Bitcoin", slug="bitcoin", rank=1,
                    current_price_usd=Decimal("94000.5"), market_cap_usd=Decimal("1.8E12"),
                    volume_24h_usd=Decimal("3E10"), price_change_24h_percent=Decimal("1.5"))
    await make_coin("ETH", name="Ethereum", slug="ethereum", rank=2,
                    current_price_usd=Decimal("3300"), market_cap_usd=Decimal("4E11"),
                    volume_24h_usd=Decimal("2E10"), price_change_24h_percent=Decimal("-2.25"))
    return app_address


# command line, the client call it must match, what the table shows
CASES = [
    (["coin", "BTC"], lambda c: c.get_coin("BTC"),
     ["current price usd", "94000.5", "volume 24h usd", "30000000000", "Bitcoin"]),
    (["coins", "--sort", "price", "--desc", "--page-size", "1", "--page", "2"],
     lambda c: c.list_coins(page=2, page_size=1, sort_by="price", descending=True),
     ["ETH", "3300", "total pages", "2"]),
    (["coins", "--sort", "change_24h", "--desc"],
     lambda c: c.list_coins(sort_by="change_24h", descending=True), ["BTC", "ETH"]),
    (["top", "1"], lambda c: c.list_top_coins(1), ["Bitcoin", "94000.5"]),
    (["search", "ether"], lambda c: c.search_coins("ether"), ["ETH", "Ethereum"]),
    (["trending", "losers", "--limit", "1"], lambda c: c.get_trending_coins("losers", 1),
     ["ETH", "-2.25"]),
    (["market"], lambda c: c.get_market_stats(),
     ["total market cap usd", "2200000000000", "active coins count"]),
]


@pytest.mark.parametrize("args, call, shown", CASES, ids=[" ".join(c[0]) for c in CASES])
async def test_table_shows_the_values(invoke, address, args, call, shown):
    result = await invoke(*args, "--address", address)
    assert result.exit_code == 0, result.output
    for text in shown:
        assert text in result.stdout


@pytest.mark.parametrize("args, call, shown", CASES, ids=[" ".join(c[0]) for c in CASES])
async def test_json_parses_back_into_what_the_client_returns(invoke, address, args, call, shown):
    data = json_output(await invoke(*args, "--json", env={"CRYPTO_ADDRESS": address}))
    async with AsyncCryptoClient(address) as client:
        expected = await call(client)
    if isinstance(expected, list):
        assert len(data) == len(expected) > 0
        pairs = zip(data, expected)
    else:
        pairs = [(data, expected)]
    for item, message in pairs:
        parsed, direct = json_format.ParseDict(item, google_class(type(message))()), \
            to_google(message)
        for stamped in (parsed, direct):  # market stats are stamped at each call
            if "calculated_at" in stamped.DESCRIPTOR.fields_by_name:
                stamped.ClearField("calculated_at")
        assert parsed == direct


async def test_json_uses_protobufs_field_names(invoke, address):
    result = await invoke("coin", "BTC", "--json", "--address", address)
    parsed = json_format.Parse(result.stdout, google_class(pb.Coin)())
    assert parsed.volume_24h_usd == "30000000000"
    coin = json_output(result)
    assert coin["volume24hUsd"] == "30000000000"
    assert coin["priceChange24hPercent"] == "1.5"
    assert coin["isPriceUp24h"] is True
    # betterproto2's own JSON has a spelling that protobuf, grpcurl and buf cannot read:
    assert "volume24HUsd" in pb.Coin(volume_24h_usd="1").to_dict()
    assert "volume24HUsd" not in coin


async def test_server_errors_are_one_line_on_stderr(invoke, address):
    result = await invoke("coin", "NOPE", "--address", address)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: NOT_FOUND: ") and "NOPE" in result.stderr
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr


async def test_an_unreachable_server_is_one_line_too(invoke, address):
    result = await invoke("market", "--address", "127.0.0.1:1", "--timeout", "2")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: UNAVAILABLE: connection failed")


def test_sort_choices_are_the_protos_sort_keys():
    assert [s.value.upper() for s in Sort] == [m.name for m in pb.SortBy if m.value]
