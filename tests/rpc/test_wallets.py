"""Wallet reads: GetWallet, ListWallets, GetPortfolio."""

from decimal import Decimal

import pytest
from grpclib.const import Status

from crypto_service.generated import crypto as pb
from tests.conftest import make_coin
from tests.rpc.test_coins import expect_error


@pytest.fixture
async def coins(db):
    btc = await make_coin("BTC", name="Bitcoin", rank=1, current_price_usd=Decimal("50000"),
                          price_change_24h_percent=Decimal("25"))
    eth = await make_coin("ETH", name="Ethereum", rank=2, current_price_usd=Decimal("2000"),
                          price_change_24h_percent=Decimal("-20"))
    doge = await make_coin("DOGE", name="Dogecoin", rank=3,
                           current_price_usd=Decimal("0.00000001"))
    return btc, eth, doge


async def deposit(stub, user_id: int, symbol: str, amount: str):
    return await stub.deposit(pb.DepositRequest(user_id=user_id, symbol=symbol, amount=amount))


async def test_get_wallet_by_symbol_or_coin_id(stub, coins):
    btc = coins[0]
    await deposit(stub, 7, "BTC", "0.25")
    for request in (pb.GetWalletRequest(user_id=7, symbol="btc"),
                    pb.GetWalletRequest(user_id=7, coin_id=btc.id)):
        wallet = (await stub.get_wallet(request)).wallet
        assert (wallet.user_id, wallet.coin_id, wallet.symbol, wallet.coin_name) == \
            (7, btc.id, "BTC", "Bitcoin")
        assert (wallet.balance, wallet.locked_balance, wallet.total_balance, wallet.value_usd) == \
            ("0.25", "0", "0.25", "12500")
        assert wallet.address.startswith("btc_") and len(wallet.address) > 20


async def test_get_wallet_errors(stub, coins):
    await deposit(stub, 7, "BTC", "1")
    message = await expect_error(stub.get_wallet(pb.GetWalletRequest(user_id=7)),
                                 Status.INVALID_ARGUMENT)
    assert "coin_id or symbol" in message
    await expect_error(stub.get_wallet(pb.GetWalletRequest(user_id=0, symbol="BTC")),
                       Status.INVALID_ARGUMENT)
    message = await expect_error(stub.get_wallet(pb.GetWalletRequest(user_id=7, symbol="ETH")),
                                 Status.NOT_FOUND)
    assert "user 7 has no ETH wallet" in message
    await expect_error(stub.get_wallet(pb.GetWalletRequest(user_id=7, symbol="NOPE")),
                       Status.NOT_FOUND)


async def test_list_wallets_largest_value_first_with_total(stub, coins):
    await deposit(stub, 3, "ETH", "10")          # 20000
    await deposit(stub, 3, "BTC", "1")           # 50000
    await deposit(stub, 3, "DOGE", "1")          # 0.00000001
    await stub.withdraw(pb.WithdrawRequest(user_id=3, symbol="DOGE", amount="1",
                                           destination_address="D123"))
    listed = await stub.list_wallets(pb.ListWalletsRequest(user_id=3))
    assert [w.symbol for w in listed.wallets] == ["BTC", "ETH", "DOGE"]
    assert listed.total_value_usd == "70000"
    non_zero = await stub.list_wallets(pb.ListWalletsRequest(user_id=3, exclude_zero_balance=True))
    assert [w.symbol for w in non_zero.wallets] == ["BTC", "ETH"]
    nobody = await stub.list_wallets(pb.ListWalletsRequest(user_id=99))
    assert nobody.wallets == [] and nobody.total_value_usd == "0"


async def test_portfolio_values_shares_and_24h_change(stub, coins):
    await deposit(stub, 5, "BTC", "1")   # 50000 now, +25%: 40000 a day ago
    await deposit(stub, 5, "ETH", "25")  # 50000 now, -20%: 62500 a day ago
    folio = await stub.get_portfolio(pb.GetPortfolioRequest(user_id=5))
    assert folio.total_value_usd == "100000" and folio.coins_count == 2
    assert [(h.symbol, h.value_usd, h.percentage) for h in folio.holdings] == \
        [("BTC", "50000", "50"), ("ETH", "50000", "50")]
    assert folio.total_change_24h_usd == "-2500"          # 100000 - (40000 + 62500)
    assert folio.total_change_24h_percent == "-2.439024390243902439"  # -2500 / 102500
    assert [h.change_24h_percent for h in folio.holdings] == ["25", "-20"]


async def test_portfolio_percentages_add_up_to_100_within_rounding(stub, coins):
    for symbol, amount in [("BTC", "0.3"), ("ETH", "7"), ("DOGE", "123456789")]:
        await deposit(stub, 9, symbol, amount)
    folio = await stub.get_portfolio(pb.GetPortfolioRequest(user_id=9))
    total = sum(Decimal(h.percentage) for h in folio.holdings)
    assert abs(total - 100) <= Decimal("0.0001") * len(folio.holdings)


async def test_portfolio_of_a_user_with_nothing_is_zeros(stub, coins):
    folio = await stub.get_portfolio(pb.GetPortfolioRequest(user_id=404))
    assert folio.success and folio.holdings == [] and folio.coins_count == 0
    assert (folio.total_value_usd, folio.total_change_24h_usd, folio.total_change_24h_percent) == \
        ("0", "0", "0")
