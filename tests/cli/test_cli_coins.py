"""`crypto coin` against the real service: by symbol or slug, and JSON in protobuf's own
field names (tests/cli/test_cli_output.py runs every command at every width)."""

from decimal import Decimal

import pytest
from google.protobuf import json_format

from crypto_service.cli.client_commands import Sort
from crypto_service.generated import crypto as pb
from crypto_service.messages import google_class
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


async def test_json_uses_protobufs_field_names(invoke, address):
    result = await invoke("coin", "BTC", "--json", "--address", address)
    parsed = json_format.Parse(result.stdout, google_class(pb.CoinResponse)())
    assert parsed.coin.volume_24h_usd == "30000000000"
    coin = json_output(result)["coin"]
    assert coin["volume24hUsd"] == "30000000000"
    assert coin["priceChange24hPercent"] == "1.5"
    assert coin["isPriceUp24h"] is True
    # betterproto2's own JSON has a spelling that protobuf, grpcurl and buf cannot read:
    assert "volume24HUsd" in pb.Coin(volume_24h_usd="1").to_dict()
    assert "volume24HUsd" not in coin


@pytest.mark.parametrize("identifier", ["BTC", "btc", "bitcoin"])
async def test_coin_by_symbol_or_slug(invoke, address, identifier):
    result = await invoke("coin", identifier, "--address", address)
    assert result.exit_code == 0, result.output
    assert "Bitcoin (BTC)" in result.stdout and "$94,000.50" in result.stdout


def test_sort_choices_are_the_protos_sort_keys():
    assert [s.value.upper() for s in Sort] == [m.name for m in pb.SortBy if m.value]
