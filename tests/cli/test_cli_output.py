"""Every client command against the real service holding the bundled coins and some wallet
activity: at 80 and 120 columns no value is ever cut (no `…`, no line wider than the
terminal, and each value the command is about shown whole) and no line ends in the blanks
tables pad their cells with, and `--json` is always the whole
response, which protobuf parses back as that response type."""

from decimal import Decimal

import pytest
from google.protobuf import json_format

from crypto_service.cli import format as f
from crypto_service.client import AsyncCryptoClient
from crypto_service.domain.coingecko import load_snapshot, upsert_coins
from crypto_service.generated import crypto as pb
from crypto_service.messages import google_class, to_google

DESTINATION = "0x9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"


@pytest.fixture
async def address(app_address):
    await upsert_coins(load_snapshot().coins)
    async with AsyncCryptoClient(app_address) as client:
        await client.deposit(1, "BTC", "0.5", transaction_id="ext-1")
        await client.deposit(1, "ETH", "3.25")
        await client.deposit(1, "SHIB", "12345678.123456789012345678")
        await client.transfer(1, 2, "BTC", "0.1", note="lunch")
        await client.withdraw(1, "ETH", "0.25", DESTINATION)
    return app_address


def coin_values(coins):
    return [text for c in coins for text in (c.symbol, f.usd(c.current_price_usd))]


# command line; the client call whose result the table must show; the values it must show
# whole (from that result); the response type --json prints
COMMANDS = [
    (["health"], None, lambda _: ["SERVING"], None),
    (["coin", "BTC"], lambda c: c.get_coin("BTC"),
     lambda r: [f.usd(r.current_price_usd), f.usd(r.market_cap_usd), r.website],
     pb.CoinResponse),
    (["coin", "shiba-inu"], lambda c: c.get_coin(slug="shiba-inu"),
     lambda r: [f.usd(r.current_price_usd), "Shiba Inu (SHIB)"], pb.CoinResponse),
    (["coins", "--page-size", "20"], lambda c: c.list_coins(page_size=20),
     lambda r: coin_values(r.coins) + ["page 1 of 7, 126 coins"], pb.ListCoinsResponse),
    (["coins", "--sort", "price", "--page", "7", "--page-size", "20"],
     lambda c: c.list_coins(page=7, page_size=20, sort_by="price"),
     lambda r: coin_values(r.coins), pb.ListCoinsResponse),
    (["top", "10"], lambda c: c.list_top_coins(10), coin_values, pb.ListCoinsResponse),
    (["search", "bit"], lambda c: c.search_coins("bit"), coin_values, pb.ListCoinsResponse),
    (["trending", "gainers"], lambda c: c.get_trending_coins("gainers"), coin_values,
     pb.TrendingCoinsResponse),
    (["trending", "traded", "--limit", "3"], lambda c: c.get_trending_coins("traded", 3),
     coin_values, pb.TrendingCoinsResponse),
    (["market"], lambda c: c.get_market_stats(),
     lambda r: [f.usd(r.total_market_cap_usd), str(r.active_coins_count)],
     pb.MarketStatsResponse),
    (["wallet", "1", "SHIB"], lambda c: c.get_wallet(1, "SHIB"),
     lambda r: ["12,345,678.123456789012345678", f.usd(r.value_usd), r.address],
     pb.WalletResponse),
    (["wallets", "1"], lambda c: c.list_wallets(1),
     lambda r: [f.amount(w.balance) for w in r.wallets] + [f.usd(r.total_value_usd)],
     pb.ListWalletsResponse),
    (["portfolio", "1"], lambda c: c.get_portfolio(1),
     lambda r: [f.usd(r.total_value_usd)] + [f.usd(h.value_usd) for h in r.holdings],
     pb.PortfolioResponse),
    (["history", "1"], lambda c: c.list_transactions(1),
     lambda r: [f.when(t.created_at) for t in r.transactions]
     + ["+12,345,678.123456789012345678", "-0.25", "withdrawal"],
     pb.ListTransactionsResponse),
    (["deposit", "1", "BTC", "0.5", "--transaction-id", "ext-1"], None,
     lambda _: ["replay of transaction", "nothing moved again"], pb.WalletResponse),
    (["withdraw", "2", "BTC", "0.01", DESTINATION], None,
     lambda _: ["withdrew 0.01 BTC (transaction", "0.09"], pb.WalletResponse),
    (["transfer", "1", "2", "SHIB", "0.000000000000000001"], None,
     lambda _: ["transferred 0.000000000000000001 SHIB", "12,345,678.123456789012345677"],
     pb.TransferResponse),
]
IDS = [" ".join(c[0][:2]) for c in COMMANDS]


@pytest.mark.parametrize("columns", [80, 120])
async def test_no_value_is_ever_cut(invoke, address, columns):
    async with AsyncCryptoClient(address) as client:
        for args, call, values, _ in COMMANDS:
            result = await invoke(*args, "--address", address, env={"COLUMNS": str(columns)})
            shown = f"`crypto {' '.join(args)}` at {columns} columns:\n{result.stdout}"
            assert result.exit_code == 0, shown + result.stderr
            assert "…" not in result.stdout, shown
            assert max(map(len, result.stdout.splitlines())) <= columns, shown
            padded = [line for line in result.stdout.splitlines() if line != line.rstrip()]
            assert not padded, f"lines ending in blanks: {padded}\n{shown}"
            expected = values(await call(client) if call else None)
            for text in expected:
                assert text in result.stdout, f"{text!r} not whole in {shown}"


async def test_wide_shows_every_column_at_full_precision(invoke, address):
    narrow = await invoke("top", "10", "--address", address, env={"COLUMNS": "80"})
    wide = await invoke("top", "10", "--wide", "--address", address, env={"COLUMNS": "80"})
    assert "$1.84T" in narrow.stdout or "$1.85T" in narrow.stdout  # compact where short
    assert "Volume 24h" in wide.stdout and "$25,501,760,141.00" in wide.stdout
    assert "…" not in wide.stdout


@pytest.mark.parametrize("args, call, values, response_type",
                         [c for c in COMMANDS if c[3]], ids=[i for i, c in zip(IDS, COMMANDS)
                                                             if c[3]])
async def test_json_is_the_whole_response(invoke, address, args, call, values,
                                          response_type):
    result = await invoke(*args, "--json", "--address", address)
    assert result.exit_code == 0, result.output
    parsed = json_format.Parse(result.stdout, google_class(response_type)())
    assert parsed.success and parsed.message
    if call is not None:
        async with AsyncCryptoClient(address) as client:
            expected = to_google((await call(client)).wire)
        for stamped in (parsed, expected):  # market stats and portfolios are stamped per call
            if "calculated_at" in stamped.DESCRIPTOR.fields_by_name:
                stamped.ClearField("calculated_at")
        assert parsed == expected


async def test_health_json_is_grpc_health_v1s_response(invoke, address):
    result = await invoke("health", "--json", "--address", address)
    assert (result.exit_code, result.stdout) == (0, '{\n  "status": "SERVING"\n}\n')


async def test_an_empty_page_says_so_on_stderr(invoke, address):
    result = await invoke("history", "3", "--address", address)
    assert result.exit_code == 0
    assert result.stderr == "no transactions on page 1\n"
    data = await invoke("search", "zzzz", "--json", "--address", address)
    assert json_format.Parse(data.stdout, google_class(pb.ListCoinsResponse)()).coins == []


async def test_replays_say_so_in_both_modes(invoke, address):
    again = ["deposit", "1", "BTC", "0.5", "--transaction-id", "ext-1", "--address", address]
    table = await invoke(*again, env={"COLUMNS": "80"})
    data = json_format.Parse((await invoke(*again, "--json")).stdout,
                             google_class(pb.WalletResponse)())
    assert data.replayed and data.message.startswith("already applied as transaction ")
    assert Decimal(data.wallet.balance) == Decimal("0.4")  # credited once, 0.1 sent on
    # From the field, on one line at 80 columns
    assert table.stdout.splitlines()[0] == \
        f"replay of transaction {data.transaction_id}: nothing moved again"

    send = ["transfer", "1", "2", "BTC", "0.1", "--idempotency-key", "k-9", "--address", address]
    first, second = [json_format.Parse((await invoke(*send, "--json")).stdout,
                                       google_class(pb.TransferResponse)()) for _ in range(2)]
    assert (first.replayed, second.replayed) == (False, True)
    table = await invoke(*send, env={"COLUMNS": "80"})
    assert table.stdout.splitlines()[0] == \
        f"replay of transaction {first.transaction_id}: nothing moved again"
