"""Concurrent calls never overdraw, lose an update, deadlock or double-credit."""

import asyncio
from decimal import Decimal

from grpclib.const import Status
from grpclib.exceptions import GRPCError

from crypto_service.db.models import LedgerTransaction, Wallet
from crypto_service.domain.audit import audit
from crypto_service.generated import crypto as pb
from tests.conftest import make_coin


async def outcomes(calls) -> list:
    """Each call's response, or the status it failed with."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, GRPCError):
            raise result
    return [r.status if isinstance(r, GRPCError) else r for r in results]


async def test_50_concurrent_withdrawals_of_10_from_100(stub, db):
    await make_coin("BTC")
    await stub.deposit(pb.DepositRequest(user_id=1, symbol="BTC", amount="100"))
    results = await outcomes(
        stub.withdraw(pb.WithdrawRequest(user_id=1, symbol="BTC", amount="10",
                                         destination_address=f"addr{i}"))
        for i in range(50))
    assert sum(1 for r in results if isinstance(r, pb.WalletResponse)) == 10
    assert results.count(Status.FAILED_PRECONDITION) == 40
    assert (await Wallet.get(user_id=1)).balance == 0
    assert (await audit()).clean


async def test_200_concurrent_transfers_each_way_conserve_the_total(stub, db):
    await make_coin("BTC")
    for user in (1, 2):
        await stub.deposit(pb.DepositRequest(user_id=user, symbol="BTC", amount="50"))
    calls = [stub.transfer(pb.TransferRequest(from_user_id=a, to_user_id=b, symbol="BTC",
                                              amount="1.5"))
             for _ in range(200) for a, b in ((1, 2), (2, 1))]
    results = await outcomes(calls)
    assert {r for r in results if not isinstance(r, pb.TransferResponse)} <= \
        {Status.FAILED_PRECONDITION}
    balances = [w.balance for w in await Wallet.all()]
    assert sum(balances) == Decimal("100") and min(balances) >= 0
    report = await audit()
    assert report.clean, report.problems


async def test_the_same_deposit_key_sent_20_times_at_once_credits_once(stub, db):
    await make_coin("BTC")
    request = pb.DepositRequest(user_id=1, symbol="BTC", amount="2.5", transaction_id="chain-tx")
    results = await outcomes(stub.deposit(request) for _ in range(20))
    assert all(isinstance(r, pb.WalletResponse) and r.wallet.balance == "2.5" for r in results)
    assert await LedgerTransaction.all().count() == 1
    assert (await Wallet.get(user_id=1)).balance == Decimal("2.5")


async def test_first_deposits_of_many_users_racing_to_create_wallets(stub, db):
    await make_coin("BTC")
    results = await outcomes(
        stub.transfer(pb.TransferRequest(from_user_id=1, to_user_id=2, symbol="BTC", amount="1"))
        for _ in range(5))
    assert set(results) == {Status.NOT_FOUND}
    await outcomes(stub.deposit(pb.DepositRequest(user_id=u % 5 + 1, symbol="BTC", amount="1"))
                   for u in range(40))
    assert await Wallet.all().count() == 5
    assert (await audit()).clean
