"""A balance that would pass what NUMERIC(38,18) holds is refused before anything is written,
the same way on SQLite and PostgreSQL, and the client does not retry the refusal."""

from __future__ import annotations

import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from crypto_service.client import AsyncCryptoClient, InsufficientFunds, RetryPolicy
from crypto_service.db.models import LedgerTransaction
from crypto_service.generated import crypto as pb
from tests.conftest import make_coin

LARGEST = "99999999999999999999.999999999999999999"


async def test_three_deposits_of_the_largest_amount(served, db):
    stub = served.stub
    await make_coin("BTC")
    deposit = pb.DepositRequest(user_id=1, symbol="BTC", amount=LARGEST)
    assert (await stub.deposit(deposit)).wallet.balance == LARGEST
    for _ in range(2):
        with pytest.raises(GRPCError) as refused:
            await stub.deposit(deposit)
        assert refused.value.status is Status.FAILED_PRECONDITION
        assert refused.value.message == (
            f"BTC balance of user 1 would exceed {LARGEST}, the most a wallet can hold: "
            f"it has {LARGEST}")
    wallet = await stub.get_wallet(pb.GetWalletRequest(user_id=1, symbol="BTC"))
    assert wallet.wallet.balance == LARGEST
    assert await LedgerTransaction.all().count() == 1


async def test_a_transfer_into_a_full_wallet_is_refused_and_moves_nothing(served, db):
    stub = served.stub
    await make_coin("BTC")
    await stub.deposit(pb.DepositRequest(user_id=1, symbol="BTC", amount="1"))
    await stub.deposit(pb.DepositRequest(user_id=2, symbol="BTC", amount=LARGEST))
    with pytest.raises(GRPCError) as refused:
        await stub.transfer(pb.TransferRequest(from_user_id=1, to_user_id=2, symbol="BTC",
                                               amount="0.000000000000000001"))
    assert refused.value.status is Status.FAILED_PRECONDITION
    assert "the most a wallet can hold" in refused.value.message
    balances = [(await stub.get_wallet(pb.GetWalletRequest(user_id=u, symbol="BTC")))
                .wallet.balance for u in (1, 2)]
    assert balances == ["1", LARGEST]


async def test_the_client_does_not_retry_a_refused_deposit(served, db):
    await make_coin("BTC")
    retrying = RetryPolicy(attempts=4, initial_backoff=0, max_backoff=0)
    async with AsyncCryptoClient(served.address, retry=retrying) as client:
        await client.deposit(1, "BTC", LARGEST, transaction_id="whale-1")
        with pytest.raises(InsufficientFunds, match="the most a wallet can hold"):
            await client.deposit(1, "BTC", LARGEST, transaction_id="whale-2")
    assert served.methods.count("Deposit") == 2
