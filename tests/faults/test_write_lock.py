"""Another process holds a write lock past the lock timeout (on SQLite: `crypto seed`, a price
import or a second worker holding the database's write lock; on PostgreSQL: a session holding
the wallet rows): writes answer UNAVAILABLE meanwhile, reads keep answering, and everything
answers normally once the lock is released."""

from __future__ import annotations

import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from crypto_service.generated import crypto as pb
from tests.conftest import make_coin
from tests.faults.conftest import stuck_transactions, write_lock_held_outside


@pytest.fixture
def db(busy_db):
    """A short lock timeout: the ledger's retries run out quickly."""
    return busy_db


async def test_a_write_lock_held_from_outside_gives_unavailable_then_normal_answers(served, db):
    stub = served.stub
    await make_coin("BTC")
    await stub.deposit(pb.DepositRequest(user_id=1, symbol="BTC", amount="10"))
    transfer = pb.TransferRequest(from_user_id=1, to_user_id=2, symbol="BTC", amount="4")

    async with write_lock_held_outside(db):
        for _ in range(2):  # on SQLite, the second finds the engine's own lock given back
            with pytest.raises(GRPCError) as refused:
                await stub.transfer(transfer, timeout=20)
            assert refused.value.status is Status.UNAVAILABLE
            assert refused.value.message == "the ledger is busy: try again"
        wallet = await stub.get_wallet(pb.GetWalletRequest(user_id=1, symbol="BTC"), timeout=20)
        assert wallet.wallet.balance == "10"  # reads do not wait for writers

    moved = await stub.transfer(transfer, timeout=20)
    assert (moved.from_wallet.balance, moved.to_wallet.balance) == ("6", "4")
    assert await stuck_transactions(db) == 0
