"""Ledger invariants as properties: any sequence of deposits, withdrawals and transfers among
a few users keeps each balance equal to its ledger sum and non-negative, and the coin's total
equal to deposits minus withdrawals."""

import asyncio
import itertools
from decimal import Decimal

from hypothesis import HealthCheck, given, settings as hypothesis_settings
from hypothesis import strategies as st

from crypto_service.db import connect
from crypto_service.db.models import Coin, Wallet
from crypto_service.domain import ledger
from crypto_service.domain.audit import audit
from crypto_service.domain.catalog import CatalogCache
from crypto_service.domain.errors import InsufficientFunds, NotFound
from tests.conftest import make_coin

USERS = 3
amounts = st.decimals(min_value=Decimal("0.000000000000000001"), max_value=Decimal("1000"),
                      places=18, allow_nan=False, allow_infinity=False)
operations = st.lists(st.one_of(
    st.tuples(st.just("deposit"), st.integers(0, USERS - 1), amounts),
    st.tuples(st.just("withdraw"), st.integers(0, USERS - 1), amounts),
    st.tuples(st.just("transfer"), st.integers(0, USERS - 1), amounts, st.integers(1, USERS - 1)),
), max_size=25)

# Each example gets users of its own, so examples need no clean database between them.
user_blocks = itertools.count(1)


@hypothesis_settings(max_examples=30, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_any_sequence_keeps_the_ledger_invariants(settings, ops):
    base = next(user_blocks) * 10

    async def run():
        async with connect.database(settings):
            if not await Coin.exists(symbol="BTC"):
                await make_coin("BTC")
            coin = (await CatalogCache().current()).by_symbol["BTC"]
            deposited = withdrawn = Decimal(0)
            for op in ops:
                kind, user, amount = op[0], base + op[1], op[2]
                try:
                    if kind == "deposit":
                        await ledger.deposit(user, coin, amount, None)
                        deposited += amount
                    elif kind == "withdraw":
                        await ledger.withdraw(user, coin, amount, "dest", None)
                        withdrawn += amount
                    else:
                        other = base + (op[1] + op[3]) % USERS
                        await ledger.transfer(user, other, coin, amount, "", None)
                except (InsufficientFunds, NotFound):
                    pass
            balances = [w.balance for w in await Wallet.filter(user_id__gte=base,
                                                               user_id__lt=base + USERS)]
            assert all(b >= 0 for b in balances)
            assert sum(balances, Decimal(0)) == deposited - withdrawn
            report = await audit()
            assert report.clean, report.problems

    asyncio.run(run())

