"""A storm of writes (and reads) whose calls are cut short (deadlines of 1-20 ms, clients
cancelling) leaves the server answering: no connection stuck in a transaction, totals conserved, and a
retry with the same idempotency key gives the right answer whatever became of the first try."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError, StreamTerminatedError

from crypto_service.db import ledger_rows, writes
from crypto_service.db.models import LedgerTransaction, TransactionKind, Wallet
from crypto_service.domain.audit import audit
from crypto_service.generated import crypto as pb
from tests.conftest import make_coin
from tests.faults.conftest import stuck_transactions

USERS = 4
CALLS = 300
CALLERS = 8
SEED = 20


def is_write(i: int) -> bool:
    return i % 5 < 3


def is_keyed(i: int) -> bool:
    return is_write(i) and i % 2 == 0


def storm_call(stub: pb.CryptoServiceStub, i: int, *, timeout: float | None):
    """The i-th call of the storm: a deposit, withdrawal, transfer or one of two reads; every
    other write carries an idempotency key (a deposit's transaction_id, the others'
    metadata)."""
    user = i % USERS + 1
    key = f"storm-{i}" if is_keyed(i) else None
    metadata = {"idempotency-key": key} if key else None
    match i % 5:
        case 0:
            return stub.deposit(pb.DepositRequest(user_id=user, symbol="BTC", amount="1.25",
                                                  transaction_id=key or ""), timeout=timeout)
        case 1:
            return stub.withdraw(pb.WithdrawRequest(user_id=user, symbol="BTC", amount="0.5",
                                                    destination_address="bc1qstorm"),
                                 timeout=timeout, metadata=metadata)
        case 2:
            return stub.transfer(pb.TransferRequest(from_user_id=user,
                                                    to_user_id=user % USERS + 1,
                                                    symbol="BTC", amount="0.75"),
                                 timeout=timeout, metadata=metadata)
        case 3:
            return stub.get_wallet(pb.GetWalletRequest(user_id=user, symbol="BTC"),
                                   timeout=timeout)
        case _:
            return stub.list_transactions(pb.ListTransactionsRequest(user_id=user),
                                          timeout=timeout)


@pytest.fixture
def hold_writes(monkeypatch) -> Callable[[], tuple[asyncio.Event, asyncio.Event]]:
    """From the call of `hold_writes()` on, ledger writes stop inside their transaction, just
    before writing the balances, and set `inside`; they go on once `release` is set."""

    def hold() -> tuple[asyncio.Event, asyncio.Event]:
        inside, release = asyncio.Event(), asyncio.Event()
        real_write_batch = ledger_rows.write_batch

        async def held_write_batch(*args, **kwargs):
            inside.set()
            await release.wait()
            return await real_write_batch(*args, **kwargs)

        monkeypatch.setattr(ledger_rows, "write_batch", held_write_batch)
        return inside, release

    return hold


async def outcome(call) -> str:
    try:
        await call
        return "OK"
    except GRPCError as exc:
        return exc.status.name
    except asyncio.TimeoutError:
        return "client deadline"
    except asyncio.CancelledError:
        return "client cancel"
    except StreamTerminatedError:
        return "stream reset"


async def storm(stub: pb.CryptoServiceStub, rng: random.Random) -> Counter:
    """Deadlines of 1 to 20 ms; one call in four is cancelled by the client instead, at a
    random moment within 20 ms (the client resets its stream)."""
    callers = asyncio.Semaphore(CALLERS)

    async def one(i: int) -> str:
        async with callers:
            if i % 4 != 3:
                return await outcome(storm_call(stub, i, timeout=rng.uniform(0.001, 0.020)))
            task = asyncio.ensure_future(storm_call(stub, i, timeout=10))
            await asyncio.wait([task], timeout=rng.uniform(0.0, 0.020))
            task.cancel()
            return await outcome(task)

    return Counter(await asyncio.gather(*(one(i) for i in range(CALLS))))


async def test_a_storm_of_cut_short_writes_leaves_the_server_answering(served, db):
    stub = served.stub
    await make_coin("BTC")
    for user in range(1, USERS + 1):
        await stub.deposit(pb.DepositRequest(user_id=user, symbol="BTC", amount="1000"))

    statuses = await storm(stub, random.Random(SEED))
    ended = time.monotonic()
    # Every later call answers, reads and writes alike, with an ordinary deadline.
    first = await stub.get_wallet(pb.GetWalletRequest(user_id=1, symbol="BTC"), timeout=10)
    recovered = time.monotonic() - ended
    assert first.success
    for user in range(1, USERS + 1):
        await stub.list_wallets(pb.ListWalletsRequest(user_id=user), timeout=10)
        await stub.transfer(pb.TransferRequest(from_user_id=user, to_user_id=user % USERS + 1,
                                               symbol="BTC", amount="0.01"), timeout=10)
    assert sum(statuses.values()) == CALLS
    assert set(statuses) <= {"OK", "DEADLINE_EXCEEDED", "CANCELLED", "client deadline",
                             "client cancel", "stream reset"}, statuses
    assert statuses["OK"] < CALLS  # the storm did cut calls short

    # Writes whose callers went away finish by themselves and leave nothing open.
    assert await writes.wait_in_flight(timeout=30)
    assert await stuck_transactions(db) == 0
    committed = await LedgerTransaction.all().count() - 2 * USERS  # the funding, the checks
    print(f"\nstorm: {CALLS} calls, {dict(statuses)}; {committed} of its "
          f"{sum(map(is_write, range(CALLS)))} writes committed; first answer after it in "
          f"{recovered * 1000:.1f} ms")

    # Retrying every keyed call with its key: each applies exactly once in all.
    retried = [i for i in range(CALLS) if is_keyed(i)]
    for i in retried:
        await storm_call(stub, i, timeout=10)
    keyed = await LedgerTransaction.filter(idempotency_key__startswith="storm-") \
        .values_list("idempotency_key", flat=True)
    assert sorted(keyed) == sorted(f"storm-{i}" for i in retried)

    # Totals conserved: the balances are what came in minus what went out.
    moved = {kind: sum((tx.amount for tx in await LedgerTransaction.filter(kind=kind)),
                       Decimal(0)) for kind in (TransactionKind.DEPOSIT, TransactionKind.WITHDRAWAL)}
    balances = sum((w.balance for w in await Wallet.all()), Decimal(0))
    assert balances == moved[TransactionKind.DEPOSIT] - moved[TransactionKind.WITHDRAWAL]
    report = await audit()
    assert report.clean, report.problems


async def test_a_write_cancelled_by_its_client_still_commits_once(served, db, hold_writes):
    """The client gives up while the transaction is open; it commits anyway, and the retry
    with the same key is answered as a replay."""
    await make_coin("BTC")
    await served.stub.deposit(pb.DepositRequest(user_id=1, symbol="BTC", amount="10"))
    inside, release = hold_writes()
    request = pb.TransferRequest(from_user_id=1, to_user_id=2, symbol="BTC", amount="4")
    call = asyncio.ensure_future(served.stub.transfer(
        request, timeout=10, metadata={"idempotency-key": "cut-short"}))
    await inside.wait()
    call.cancel()
    assert await outcome(call) == "client cancel"
    assert writes.in_flight() == 1  # the handler is gone, its write is not
    release.set()
    assert await writes.wait_in_flight(timeout=10)

    replay = await served.stub.transfer(request, timeout=10,
                                        metadata={"idempotency-key": "cut-short"})
    assert "already applied" in replay.message
    assert replay.from_wallet.balance == "6" and replay.to_wallet.balance == "4"
    assert await LedgerTransaction.filter(idempotency_key="cut-short").count() == 1
    assert await stuck_transactions(db) == 0


async def test_a_write_past_its_deadline_finishes_and_the_caller_gets_deadline_exceeded(
        served, db, hold_writes):
    await make_coin("BTC")
    inside, release = hold_writes()
    call = asyncio.ensure_future(served.stub.deposit(
        pb.DepositRequest(user_id=1, symbol="BTC", amount="3", transaction_id="chain-1"),
        timeout=0.2))
    await inside.wait()
    assert await outcome(call) in ("DEADLINE_EXCEEDED", "client deadline")
    release.set()
    assert await writes.wait_in_flight(timeout=10)
    wallet = await served.stub.get_wallet(pb.GetWalletRequest(user_id=1, symbol="BTC"))
    assert wallet.wallet.balance == "3"
    assert await stuck_transactions(db) == 0


async def test_drain_ends_a_call_past_the_grace_period_but_waits_for_its_write(
        served, db, hold_writes):
    await make_coin("BTC")
    await served.stub.deposit(pb.DepositRequest(user_id=1, symbol="BTC", amount="10"))
    inside, release = hold_writes()
    call = asyncio.ensure_future(served.stub.withdraw(
        pb.WithdrawRequest(user_id=1, symbol="BTC", amount="2.5", destination_address="bc1q"),
        metadata={"idempotency-key": "at-shutdown"}))
    await inside.wait()
    drain = asyncio.ensure_future(served.app.drain(grace_seconds=1.0))
    assert await outcome(call) == "UNAVAILABLE"  # ended once the grace period was over
    assert not drain.done()  # still waiting for the write
    release.set()
    await drain
    assert writes.in_flight() == 0
    assert (await Wallet.get(user_id=1)).balance == Decimal("7.5")
    assert await LedgerTransaction.filter(idempotency_key="at-shutdown").count() == 1
