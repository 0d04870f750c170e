"""Loading CoinGecko /coins/markets data: the bundled snapshot, a user's file, bad files."""

import json
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from crypto_service.cli import app as cli
from crypto_service.db.models import Coin
from crypto_service.domain.coingecko import load_snapshot, parse_snapshot, upsert_coins
from crypto_service.domain.errors import InvalidArgument

ROW = {"id": "bitcoin", "symbol": "btc", "name": "Bitcoin", "image": "https://img/btc.png",
       "current_price": 94123.45, "market_cap": 1864000000000, "market_cap_rank": 1,
       "total_volume": 31000000000.5, "price_change_percentage_24h": 1.2345,
       "price_change_percentage_24h_in_currency": 1.2345,
       "price_change_percentage_7d_in_currency": -3.5,
       "price_change_percentage_30d_in_currency": 12.75}


def test_bundled_snapshot_has_at_least_100_real_coins_with_an_as_of_date():
    snapshot = load_snapshot()
    assert snapshot.as_of and snapshot.as_of.startswith("20")
    assert len(snapshot.coins) >= 100
    symbols = {c.symbol for c in snapshot.coins}
    assert {"BTC", "ETH", "USDT", "SOL", "DOGE"} <= symbols
    btc = next(c for c in snapshot.coins if c.symbol == "BTC")
    assert btc.slug == "bitcoin" and btc.rank == 1 and btc.current_price_usd > 1000
    assert all(c.current_price_usd > 0 and c.rank > 0 for c in snapshot.coins)


def test_rows_map_onto_our_fields_exactly():
    coin = parse_snapshot([ROW]).coins[0]
    assert (coin.symbol, coin.slug, coin.name, coin.rank) == ("BTC", "bitcoin", "Bitcoin", 1)
    assert coin.current_price_usd == Decimal("94123.45")  # the float's shortest repr, not binary
    assert coin.volume_24h_usd == Decimal("31000000000.5")
    assert coin.price_change_24h_percent == Decimal("1.2345")
    assert coin.price_change_7d_percent == Decimal("-3.5")
    assert coin.price_change_30d_percent == Decimal("12.75")
    assert coin.logo_url == "https://img/btc.png" and coin.is_price_up_24h


@pytest.mark.parametrize("change, field, problem", [
    ({"current_price": "abc"}, "current_price", "must be a number"),
    ({"current_price": None}, "current_price", "is required"),
    ({"current_price": -1}, "current_price", "must not be negative"),
    ({"market_cap": True}, "market_cap", "must be a number"),
    ({"symbol": ""}, "symbol", "non-empty string"),
    ({"name": 7}, "name", "non-empty string"),
    ({"market_cap_rank": "one"}, "market_cap_rank", "positive integer"),
    ({"total_volume": "1e400"}, "total_volume", "out of range"),
])
def test_a_malformed_row_names_the_row_and_the_field(change, field, problem):
    rows = [ROW, {**ROW, "id": "other", "symbol": "oth", **change}]
    with pytest.raises(InvalidArgument) as info:
        parse_snapshot(rows)
    message = str(info.value)
    assert message.startswith("row 2 (other)") and repr(field) in message and problem in message


def test_duplicate_symbols_in_one_file_are_rejected():
    with pytest.raises(InvalidArgument, match=r"row 2 \(bitcoin-2\): field 'symbol': duplicates row 1"):
        parse_snapshot([ROW, {**ROW, "id": "bitcoin-2"}])


async def test_upsert_is_idempotent_and_updates_changed_rows(db):
    first = await upsert_coins(parse_snapshot([ROW]).coins)
    assert (first.created, first.updated, first.unchanged) == (1, 0, 0)
    stamp = (await Coin.get(symbol="BTC")).updated_at
    again = await upsert_coins(parse_snapshot([ROW]).coins)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    assert (await Coin.get(symbol="BTC")).updated_at == stamp
    moved = await upsert_coins(parse_snapshot([{**ROW, "current_price": 95000}]).coins)
    assert (moved.created, moved.updated) == (0, 1)
    assert (await Coin.get(symbol="BTC")).current_price_usd == Decimal("95000")
    assert await Coin.all().count() == 1


def test_cli_seed_loads_the_bundled_data_once(settings):
    runner = CliRunner()
    url = ["--database-url", settings.database_url]
    first = runner.invoke(cli, ["seed", *url])
    assert first.exit_code == 0, first.output
    count = len(load_snapshot().coins)
    assert f"{count} created" in first.output
    second = runner.invoke(cli, ["seed", *url])
    assert second.exit_code == 0 and f"{count} unchanged" in second.output
    skipped = runner.invoke(cli, ["seed", "--if-empty", *url])
    assert skipped.exit_code == 0 and "nothing loaded" in skipped.output


def test_cli_seed_with_a_bad_file_writes_nothing(settings, tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps([ROW, {**ROW, "id": "eth", "symbol": "eth", "total_volume": "x"}]))
    result = CliRunner().invoke(cli, ["seed", "--file", str(path),
                                      "--database-url", settings.database_url])
    assert result.exit_code == 1
    assert "row 2 (eth): field 'total_volume'" in result.output
    good = tmp_path / "good.json"
    good.write_text(json.dumps([ROW]))
    loaded = CliRunner().invoke(cli, ["seed", "--file", str(good),
                                      "--database-url", settings.database_url])
    assert loaded.exit_code == 0 and "1 coins: 1 created" in loaded.output


def test_cli_seed_rejects_a_file_that_is_not_json(settings, tmp_path):
    path = tmp_path / "export.json"
    path.write_text("[{")
    result = CliRunner().invoke(cli, ["seed", "--file", str(path),
                                      "--database-url", settings.database_url])
    assert result.exit_code == 1 and "not valid JSON" in result.output


async def test_a_row_failing_against_the_database_rolls_back_the_whole_file(db):
    await upsert_coins(parse_snapshot([ROW]).coins)
    rows = [{**ROW, "id": "ethereum", "symbol": "eth"},
            {**ROW, "id": "bitcoin", "symbol": "xbt"}]  # bitcoin's slug, another symbol
    with pytest.raises(InvalidArgument, match=r"row 2 \(bitcoin\): field 'id'.*belongs to BTC"):
        await upsert_coins(parse_snapshot(rows).coins)
    assert [c.symbol for c in await Coin.all()] == ["BTC"]
