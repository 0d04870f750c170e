"""Decimal columns hold 38 digits with 18 fractional digits, exactly, on every backend."""

from decimal import Decimal

import pytest

from crypto_service.db.models import Coin, Wallet
from crypto_service.domain.money import format_decimal
from tests.conftest import make_coin

TINY = Decimal("0.000000000000000001")
HUGE = Decimal("123456789012345678.123456789012345678")
LARGEST = Decimal("99999999999999999999.999999999999999999")


pytestmark = pytest.mark.bypasses_ledger  # wallets are written directly to test storage


@pytest.mark.parametrize("value", [TINY, HUGE, LARGEST, Decimal("0")])
async def test_coin_and_wallet_decimals_round_trip_exactly(db, value):
    coin = await make_coin("RT", current_price_usd=value, market_cap_usd=value)
    await Wallet.create(user_id=1, coin=coin, balance=value, locked_balance=value, address="a")
    stored = await Coin.get(symbol="RT")
    wallet = await Wallet.get(user_id=1)
    assert stored.current_price_usd == value and stored.market_cap_usd == value
    assert wallet.balance == value and wallet.locked_balance == value
    assert format_decimal(wallet.balance) == format(value, "f").rstrip("0").rstrip(".") or "0"


async def test_sums_of_stored_values_are_exact(db):
    coin = await make_coin("SUM")
    for user, balance in enumerate([TINY, HUGE, TINY, HUGE], start=1):
        await Wallet.create(user_id=user, coin=coin, balance=balance, address=f"a{user}")
    balances = [w.balance for w in await Wallet.all()]
    assert sum(balances, Decimal(0)) == Decimal("246913578024691356.246913578024691358")
    assert format_decimal(sum(balances, Decimal(0))) == "246913578024691356.246913578024691358"
