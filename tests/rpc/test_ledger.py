"""Deposit, Withdraw, Transfer and ListTransactions: rules, idempotency, nothing written on error."""

from decimal import Decimal

import pytest
from grpclib.const import Status

from crypto_service.db.models import LedgerEntry, LedgerTransaction, Wallet
from crypto_service.domain.audit import audit
from crypto_service.generated import crypto as pb
from tests.conftest import make_coin
from tests.rpc.test_coins import expect_error


@pytest.fixture
async def btc(db):
    await make_coin("ETH", rank=2, current_price_usd=Decimal("2000"))
    return await make_coin("BTC", rank=1, current_price_usd=Decimal("50000"))


async def ledger_state():
    """Everything a request could have written."""
    return (await LedgerTransaction.all().count(), await LedgerEntry.all().count(),
            sorted(await Wallet.all().values_list("user_id", "coin_id", "balance")))


async def fund(stub, user_id: int, amount: str, symbol: str = "BTC"):
    return await stub.deposit(pb.DepositRequest(user_id=user_id, symbol=symbol, amount=amount))


async def test_deposit_creates_the_wallet_and_writes_a_balanced_transaction(stub, btc):
    response = await fund(stub, 1, "0.5")
    assert response.success and "deposited 0.5 BTC" in response.message
    assert response.wallet.balance == "0.5" and response.wallet.value_usd == "25000"
    tx = await LedgerTransaction.get()
    assert (tx.kind, tx.amount, tx.from_user_id, tx.to_user_id) == ("deposit", Decimal("0.5"),
                                                                    None, 1)
    entries = sorted(await LedgerEntry.filter(transaction=tx).values_list("user_id", "amount"),
                     key=str)
    assert entries == [(1, Decimal("0.5")), (None, Decimal("-0.5"))]
    assert (await audit()).clean


async def test_a_replayed_deposit_credits_once_and_answers_the_original(stub, btc):
    request = pb.DepositRequest(user_id=1, symbol="BTC", amount="0.5", transaction_id="tx123")
    first = await stub.deposit(request)
    again = await stub.deposit(request)
    assert again.success and again.wallet.balance == "0.5"
    original = str((await LedgerTransaction.get()).id)
    assert original in first.message and original in again.message and "already" in again.message
    assert [(r.transaction_id, r.replayed) for r in (first, again)] == \
        [(original, False), (original, True)]
    assert await LedgerTransaction.all().count() == 1


@pytest.mark.parametrize("change", [{"user_id": 2}, {"symbol": "ETH"}, {"amount": "0.6"}])
async def test_a_deposit_key_reused_for_another_payload_is_already_exists(stub, btc, change):
    request = dict(user_id=1, symbol="BTC", amount="0.5", transaction_id="tx123")
    await stub.deposit(pb.DepositRequest(**request))
    before = await ledger_state()
    message = await expect_error(stub.deposit(pb.DepositRequest(**{**request, **change})),
                                 Status.ALREADY_EXISTS)
    assert "tx123" in message
    assert await ledger_state() == before


BAD_AMOUNTS = ["abc", "NaN", "Infinity", "-1", "0", "1e400", "", "0.0000000000000000001",
               "1" * 100]


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
async def test_bad_amounts_are_invalid_argument_and_write_nothing(stub, btc, amount):
    await fund(stub, 1, "10")
    before = await ledger_state()
    calls = [
        stub.deposit(pb.DepositRequest(user_id=1, symbol="BTC", amount=amount)),
        stub.withdraw(pb.WithdrawRequest(user_id=1, symbol="BTC", amount=amount,
                                         destination_address="bc1q")),
        stub.transfer(pb.TransferRequest(from_user_id=1, to_user_id=2, symbol="BTC",
                                         amount=amount)),
    ]
    for call in calls:
        assert "amount" in await expect_error(call, Status.INVALID_ARGUMENT)
    assert await ledger_state() == before


@pytest.mark.parametrize("call, status, words", [
    (lambda s: s.deposit(pb.DepositRequest(user_id=1, symbol="NOPE", amount="1")),
     Status.NOT_FOUND, "NOPE"),
    (lambda s: s.deposit(pb.DepositRequest(user_id=-4, symbol="BTC", amount="1")),
     Status.INVALID_ARGUMENT, "user_id"),
    (lambda s: s.deposit(pb.DepositRequest(user_id=1, symbol="BTC", amount="1",
                                           transaction_id="t" * 129)),
     Status.INVALID_ARGUMENT, "transaction_id"),
    (lambda s: s.deposit(pb.DepositRequest(user_id=1, symbol="B" * 5000, amount="1")),
     Status.INVALID_ARGUMENT, "symbol"),
    (lambda s: s.withdraw(pb.WithdrawRequest(user_id=1, symbol="BTC", amount="1")),
     Status.INVALID_ARGUMENT, "destination_address"),
    (lambda s: s.withdraw(pb.WithdrawRequest(user_id=1, symbol="BTC", amount="1",
                                             destination_address="has space")),
     Status.INVALID_ARGUMENT, "destination_address"),
    (lambda s: s.withdraw(pb.WithdrawRequest(user_id=1, symbol="BTC", amount="1",
                                             destination_address="x" * 129)),
     Status.INVALID_ARGUMENT, "destination_address"),
    (lambda s: s.withdraw(pb.WithdrawRequest(user_id=77, symbol="BTC", amount="1",
                                             destination_address="bc1q")),
     Status.NOT_FOUND, "user 77 has no BTC wallet"),
    (lambda s: s.withdraw(pb.WithdrawRequest(user_id=1, symbol="BTC", amount="10.5",
                                             destination_address="bc1q")),
     Status.FAILED_PRECONDITION, "available 10"),
    (lambda s: s.transfer(pb.TransferRequest(from_user_id=1, to_user_id=1, symbol="BTC",
                                             amount="1")),
     Status.INVALID_ARGUMENT, "differ"),
    (lambda s: s.transfer(pb.TransferRequest(from_user_id=0, to_user_id=2, symbol="BTC",
                                             amount="1")),
     Status.INVALID_ARGUMENT, "from_user_id"),
    (lambda s: s.transfer(pb.TransferRequest(from_user_id=1, to_user_id=-2, symbol="BTC",
                                             amount="1")),
     Status.INVALID_ARGUMENT, "to_user_id"),
    (lambda s: s.transfer(pb.TransferRequest(from_user_id=1, to_user_id=2, symbol="BTC",
                                             amount="1", note="n" * 257)),
     Status.INVALID_ARGUMENT, "note"),
    (lambda s: s.transfer(pb.TransferRequest(from_user_id=3, to_user_id=2, symbol="BTC",
                                             amount="1")),
     Status.NOT_FOUND, "user 3 has no BTC wallet"),
    (lambda s: s.transfer(pb.TransferRequest(from_user_id=1, to_user_id=2, symbol="BTC",
                                             amount="11")),
     Status.FAILED_PRECONDITION, "available 10"),
    (lambda s: s.transfer(pb.TransferRequest(from_user_id=1, to_user_id=2, symbol="ETH",
                                             amount="1")),
     Status.NOT_FOUND, "user 1 has no ETH wallet"),
])
async def test_rejected_writes_get_their_status_and_change_nothing(stub, btc, call, status, words):
    await fund(stub, 1, "10")
    before = await ledger_state()
    assert words in await expect_error(call(stub), status)
    assert await ledger_state() == before


async def test_withdraw_debits_and_records_the_destination(stub, btc):
    await fund(stub, 1, "10")
    response = await stub.withdraw(pb.WithdrawRequest(user_id=1, symbol="BTC", amount="2.5",
                                                      destination_address="bc1qdest"))
    assert response.wallet.balance == "7.5"
    tx = await LedgerTransaction.get(kind="withdrawal")
    assert (tx.from_user_id, tx.to_user_id, tx.destination_address) == (1, None, "bc1qdest")
    assert (await audit()).clean


async def test_transfer_creates_the_recipient_wallet_and_returns_the_ledger_id(stub, btc):
    await fund(stub, 1, "10")
    response = await stub.transfer(pb.TransferRequest(from_user_id=1, to_user_id=2, symbol="BTC",
                                                      amount="0.000000000000000001",
                                                      note="rent"))
    assert response.from_wallet.balance == "9.999999999999999999"
    assert response.to_wallet.balance == "0.000000000000000001"
    assert response.to_wallet.address.startswith("btc_")
    tx = await LedgerTransaction.get(kind="transfer")
    assert response.transaction_id == str(tx.id) and tx.note == "rent"
    assert (await audit()).clean


async def test_withdraw_and_transfer_honour_the_idempotency_key_metadata(stub, btc):
    await fund(stub, 1, "10")
    key = {"idempotency-key": "w-1"}
    withdraw = pb.WithdrawRequest(user_id=1, symbol="BTC", amount="1", destination_address="d")
    await stub.withdraw(withdraw, metadata=key)
    again = await stub.withdraw(withdraw, metadata=key)
    assert again.wallet.balance == "9" and "already applied" in again.message
    transfer = pb.TransferRequest(from_user_id=1, to_user_id=2, symbol="BTC", amount="2")
    first = await stub.transfer(transfer, metadata={"idempotency-key": "t-1"})
    second = await stub.transfer(transfer, metadata={"idempotency-key": "t-1"})
    assert first.transaction_id == second.transaction_id
    assert (first.replayed, second.replayed) == (False, True)
    assert second.from_wallet.balance == "7" and second.to_wallet.balance == "2"
    await expect_error(stub.transfer(pb.TransferRequest(from_user_id=1, to_user_id=3, symbol="BTC",
                                                        amount="2"),
                                     metadata={"idempotency-key": "t-1"}),
                       Status.ALREADY_EXISTS)
    await expect_error(stub.withdraw(withdraw, metadata={"idempotency-key": "bad key"}),
                       Status.INVALID_ARGUMENT)
    assert await LedgerTransaction.all().count() == 3


async def test_list_transactions_newest_first_from_the_users_side(stub, btc):
    await fund(stub, 1, "10")
    await fund(stub, 1, "3", symbol="ETH")
    await stub.transfer(pb.TransferRequest(from_user_id=1, to_user_id=2, symbol="BTC", amount="4"))
    await stub.withdraw(pb.WithdrawRequest(user_id=2, symbol="BTC", amount="1",
                                           destination_address="d"))
    mine = await stub.list_transactions(pb.ListTransactionsRequest(user_id=1))
    assert [(t.kind, t.symbol, t.balance_change) for t in mine.transactions] == [
        (pb.TransactionKind.TRANSFER, "BTC", "-4"),
        (pb.TransactionKind.DEPOSIT, "ETH", "3"),
        (pb.TransactionKind.DEPOSIT, "BTC", "10"),
    ]
    assert mine.total_count == 3 and mine.page_size == 20
    theirs = await stub.list_transactions(pb.ListTransactionsRequest(user_id=2, symbol="btc"))
    assert [(t.kind, t.balance_change, t.from_user_id, t.to_user_id) for t in theirs.transactions] \
        == [(pb.TransactionKind.WITHDRAWAL, "-1", 2, 0), (pb.TransactionKind.TRANSFER, "4", 1, 2)]
    paged = await stub.list_transactions(pb.ListTransactionsRequest(user_id=1, page=2,
                                                                    page_size=2))
    assert [t.symbol for t in paged.transactions] == ["BTC"] and paged.total_pages == 2
    await expect_error(stub.list_transactions(pb.ListTransactionsRequest(user_id=1,
                                                                         symbol="NOPE")),
                       Status.NOT_FOUND)
