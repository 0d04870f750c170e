"""The wallet methods against the real service, where it has them (the ledger work): on a
server without them the module is skipped, saying so."""

from decimal import Decimal

import pytest

from crypto_service.client import (
    AlreadyExists, AsyncCryptoClient, InsufficientFunds, NotFound, Unimplemented,
)
from crypto_service.db.models import LedgerTransaction, Wallet
from crypto_service.generated import crypto as pb
from tests.conftest import make_coin


@pytest.fixture
async def client(app_address):
    await make_coin("BTC", rank=1, current_price_usd=Decimal("50000"))
    async with AsyncCryptoClient(app_address) as client:
        try:
            await client.get_portfolio(1)
        except Unimplemented:
            pytest.skip("this server has no wallet RPCs yet")
        yield client


async def test_deposit_credits_once_per_transaction_id(client):
    first = await client.deposit(1, "BTC", Decimal("1.5"), transaction_id="ext-1")
    replay = await client.deposit(1, "BTC", "1.5", transaction_id="ext-1")
    assert first.wallet.balance == replay.wallet.balance == Decimal("1.5")
    assert first.message.startswith("deposited 1.5 BTC (transaction ")
    assert replay.message.startswith("already applied as transaction ")
    with pytest.raises(AlreadyExists):
        await client.deposit(1, "BTC", "2", transaction_id="ext-1")
    assert (await client.get_wallet(1, "BTC")).balance == Decimal("1.5")


async def test_a_write_says_which_transaction_it_is_and_whether_it_was_a_replay(client):
    first = await client.deposit(1, "BTC", "2", transaction_id="ext-r")
    again = await client.deposit(1, "BTC", "2", transaction_id="ext-r")
    deposit = await LedgerTransaction.get(kind="deposit")
    assert (first.transaction_id, first.replayed) == (str(deposit.id), False)
    assert (again.transaction_id, again.replayed) == (str(deposit.id), True)
    assert (await Wallet.get(user_id=1)).balance == 2  # credited once
    assert await LedgerTransaction.all().count() == 1

    withdrawn = [await client.withdraw(1, "BTC", "0.5", "bc1qdest", idempotency_key="w-r")
                 for _ in range(2)]
    assert [(w.replayed, w.wallet.balance) for w in withdrawn] == \
        [(False, Decimal("1.5")), (True, Decimal("1.5"))]
    assert withdrawn[0].transaction_id == withdrawn[1].transaction_id != str(deposit.id)

    moved = [await client.transfer(1, 2, "BTC", "0.25", idempotency_key="t-r") for _ in range(2)]
    transfer = await LedgerTransaction.get(kind="transfer")
    assert [(t.transaction_id, t.replayed) for t in moved] == \
        [(str(transfer.id), False), (str(transfer.id), True)]
    assert sorted(await Wallet.all().values_list("user_id", "balance")) == \
        [(1, Decimal("1.25")), (2, Decimal("0.25"))]

    read = (await client.get_wallet(1, "BTC")).wire  # a read is no write: both unset
    assert (read.transaction_id, read.replayed) == ("", False)


async def test_withdraw_and_transfer_move_money_and_refuse_overdrafts(client):
    await client.deposit(1, "BTC", 2, transaction_id="ext-2")
    assert (await client.withdraw(1, "BTC", "0.5", "bc1qdest")).wallet.balance == Decimal("1.5")
    with pytest.raises(InsufficientFunds, match="available 1.5"):
        await client.withdraw(1, "BTC", "5", "bc1qdest")
    moved = await client.transfer(1, 2, "BTC", "0.25", note="lunch", idempotency_key="k-1")
    replay = await client.transfer(1, 2, "BTC", "0.25", note="lunch", idempotency_key="k-1")
    assert replay.transaction_id == moved.transaction_id
    assert (moved.from_wallet.balance, moved.to_wallet.balance) == (Decimal("1.25"), Decimal("0.25"))
    wallets = await client.list_wallets(2)
    assert [(w.symbol, w.balance) for w in wallets.wallets] == [("BTC", Decimal("0.25"))]


async def test_history_and_portfolio_of_the_moves(client):
    await client.deposit(1, "BTC", "1", transaction_id="ext-3")
    await client.transfer(1, 2, "BTC", "0.5")
    history = await client.list_transactions(1, "BTC")
    assert [(t.kind, t.balance_change) for t in history.transactions] == \
        [(pb.TransactionKind.TRANSFER, Decimal("-0.5")), (pb.TransactionKind.DEPOSIT, 1)]
    portfolio = await client.get_portfolio(2)
    assert (portfolio.total_value_usd, portfolio.coins_count) == (Decimal("25000"), 1)
    with pytest.raises(NotFound):
        await client.get_wallet(3, "BTC")
