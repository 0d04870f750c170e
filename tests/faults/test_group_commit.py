"""Group commit on a bad day: requests that queue while a batch is committing go out together
in the next one, a caller cancelled while its request waits in the queue still has it
posted, and a keyed retry whose money has moved on since is answered as the replay it is."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from crypto_service.db import ledger_rows, writes
from crypto_service.db.models import LedgerTransaction, Wallet
from crypto_service.domain import ledger
from crypto_service.domain.catalog import CatalogCache
from crypto_service.domain.errors import DomainError
from crypto_service.domain.group_commit import GroupCommit
from crypto_service.generated import crypto as pb
from tests.conftest import make_coin
from tests.faults.conftest import stuck_transactions
from tests.faults.test_cancelled_writes import outcome


async def test_a_cancelled_callers_queued_request_is_posted_in_the_next_batch(
        served, db, monkeypatch):
    stub = served.stub
    await make_coin("BTC")
    await stub.deposit(pb.DepositRequest(user_id=1, symbol="BTC", amount="10"))
    inside, release = asyncio.Event(), asyncio.Event()
    real_write_batch = ledger_rows.write_batch

    async def held_once(*args, **kwargs):
        if not inside.is_set():
            inside.set()
            await release.wait()
        return await real_write_batch(*args, **kwargs)

    monkeypatch.setattr(ledger_rows, "write_batch", held_once)
    queued_requests, all_queued = [], asyncio.Event()
    real_post = GroupCommit.post

    async def counted_post(self, request):
        queued_requests.append(request)
        if len(queued_requests) == 4:
            all_queued.set()  # the test resumes once this request is in the queue too
        return await real_post(self, request)

    monkeypatch.setattr(GroupCommit, "post", counted_post)
    before = ledger.batch_stats().batches
    first = asyncio.ensure_future(stub.transfer(
        pb.TransferRequest(from_user_id=1, to_user_id=2, symbol="BTC", amount="1"),
        timeout=10))
    await inside.wait()  # the first batch is committing: what comes now waits in the queue
    queued = [asyncio.ensure_future(stub.withdraw(
        pb.WithdrawRequest(user_id=1, symbol="BTC", amount="2", destination_address="bc1q"),
        timeout=10, metadata={"idempotency-key": f"queued-{i}"})) for i in range(3)]
    await all_queued.wait()  # every handler has queued its request
    queued[0].cancel()
    assert await outcome(queued[0]) == "client cancel"
    release.set()
    assert await outcome(first) == "OK"
    assert [await outcome(call) for call in queued[1:]] == ["OK", "OK"]
    assert await writes.wait_in_flight(timeout=10)

    # One batch for the first transfer, one for the three queued withdrawals.
    assert ledger.batch_stats().batches - before == 2
    assert await LedgerTransaction.filter(idempotency_key__startswith="queued-").count() == 3
    assert (await Wallet.get(user_id=1)).balance == Decimal("3")
    replay = await stub.withdraw(
        pb.WithdrawRequest(user_id=1, symbol="BTC", amount="2", destination_address="bc1q"),
        timeout=10, metadata={"idempotency-key": "queued-0"})
    assert "already applied" in replay.message and replay.wallet.balance == "3"
    assert await stuck_transactions(db) == 0


async def test_a_keyed_retry_after_the_money_moved_on_is_a_replay_not_a_refusal(served, db):
    stub = served.stub
    await make_coin("BTC")
    await stub.deposit(pb.DepositRequest(user_id=1, symbol="BTC", amount="5"))
    withdrawal = pb.WithdrawRequest(user_id=1, symbol="BTC", amount="5",
                                    destination_address="bc1q")
    await stub.withdraw(withdrawal, metadata={"idempotency-key": "all-of-it"})
    # The wallet is empty now: posted again, the withdrawal would be refused.
    replay = await stub.withdraw(withdrawal, metadata={"idempotency-key": "all-of-it"})
    assert "already applied" in replay.message and replay.wallet.balance == "0"
    assert await LedgerTransaction.filter(idempotency_key="all-of-it").count() == 1


async def test_a_request_that_breaks_its_batch_fails_alone(db):
    """An error that is no refusal and no lost race (here a note longer than its column,
    which the servicer never lets through) splits the batch: the others are posted."""
    await make_coin("BTC")
    coin = (await CatalogCache().current()).by_symbol["BTC"]
    await ledger.deposit(1, coin, Decimal("10"), None)
    notes = ["rent", "x" * 1000, "food", "fuel"]
    results = await asyncio.gather(
        *(ledger.transfer(1, 2, coin, Decimal("1"), note, None) for note in notes),
        return_exceptions=True)
    assert [isinstance(r, ledger.Posted) for r in results] == [True, False, True, True]
    assert not isinstance(results[1], DomainError)  # a bug, answered INTERNAL by the guard
    assert sorted(await LedgerTransaction.filter(kind="transfer").values_list("note", flat=True)) \
        == ["food", "fuel", "rent"]
    assert (await Wallet.get(user_id=2)).balance == Decimal("3")
