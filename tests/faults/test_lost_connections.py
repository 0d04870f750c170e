"""PostgreSQL terminates every connection of the server (`pg_terminate_backend`, as a restart,
a failover or an operator would), twice, in the middle of a mixed load: calls answer OK or
UNAVAILABLE, never INTERNAL or a hang, the pool recovers by itself, the ledger stays clean."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import asyncpg
import pytest
from grpclib.exceptions import GRPCError

from crypto_service.db import writes
from crypto_service.domain.audit import audit
from crypto_service.generated import crypto as pb
from tests.conftest import BACKENDS, make_coin
from tests.faults.conftest import stuck_transactions

USERS = 4
WORKERS = 6
OKS_BETWEEN_FAULTS = 30
RECOVERY_BOUND_SECONDS = 10


class Load:
    """Deposits, withdrawals, transfers and reads from several workers until stopped; counts
    statuses and wakes whoever waits for a number of successes."""

    def __init__(self, stub: pb.CryptoServiceStub) -> None:
        self.stub = stub
        self.statuses: Counter[str] = Counter()
        self.stopped = asyncio.Event()
        self.progress = asyncio.Condition()
        self.serial = 0

    def call(self):
        self.serial += 1
        i, user = self.serial, self.serial % USERS + 1
        key = {"idempotency-key": f"load-{i}"}
        return [
            lambda: self.stub.deposit(pb.DepositRequest(
                user_id=user, symbol="BTC", amount="2", transaction_id=f"load-{i}"), timeout=10),
            lambda: self.stub.transfer(pb.TransferRequest(
                from_user_id=user, to_user_id=user % USERS + 1, symbol="BTC", amount="0.5"),
                timeout=10, metadata=key),
            lambda: self.stub.withdraw(pb.WithdrawRequest(
                user_id=user, symbol="BTC", amount="0.25", destination_address="bc1qload"),
                timeout=10, metadata=key),
            lambda: self.stub.get_wallet(pb.GetWalletRequest(user_id=user, symbol="BTC"),
                                         timeout=10),
            lambda: self.stub.list_transactions(pb.ListTransactionsRequest(user_id=user),
                                                timeout=10),
        ][i % 5]()

    async def worker(self) -> None:
        while not self.stopped.is_set():
            try:
                await self.call()
                status = "OK"
            except GRPCError as exc:
                status = exc.status.name
            except asyncio.TimeoutError:
                status = "client deadline"
            async with self.progress:
                self.statuses[status] += 1
                self.progress.notify_all()

    async def until_more_oks(self, count: int) -> None:
        target = self.statuses["OK"] + count
        async with self.progress:
            await self.progress.wait_for(lambda: self.statuses["OK"] >= target)


async def terminate_server_connections(database_url: str) -> int:
    admin = await asyncpg.connect(database_url)
    try:
        return await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    finally:
        await admin.close()


@pytest.mark.parametrize("settings", [BACKENDS[1]], indirect=True)
async def test_terminated_connections_twice_under_load_give_only_ok_or_unavailable(served, db):
    await make_coin("BTC")
    for user in range(1, USERS + 1):
        await served.stub.deposit(pb.DepositRequest(user_id=user, symbol="BTC", amount="500"))
    load = Load(served.stub)
    workers = [asyncio.ensure_future(load.worker()) for _ in range(WORKERS)]
    recoveries = []
    try:
        await asyncio.wait_for(load.until_more_oks(OKS_BETWEEN_FAULTS), RECOVERY_BOUND_SECONDS)
        for _ in range(2):
            assert await terminate_server_connections(db.database_url) >= 1
            killed_at = time.monotonic()
            await asyncio.wait_for(load.until_more_oks(1), RECOVERY_BOUND_SECONDS)
            recoveries.append(time.monotonic() - killed_at)
            await asyncio.wait_for(load.until_more_oks(OKS_BETWEEN_FAULTS),
                                   RECOVERY_BOUND_SECONDS)
    finally:
        load.stopped.set()
        await asyncio.gather(*workers)
    print(f"\nterminated twice: {dict(load.statuses)}; first OK after each in "
          f"{', '.join(f'{r * 1000:.0f} ms' for r in recoveries)}")
    assert set(load.statuses) <= {"OK", "UNAVAILABLE"}, load.statuses

    assert await writes.wait_in_flight(timeout=30)
    assert await stuck_transactions(db) == 0
    report = await audit()
    assert report.clean, report.problems
