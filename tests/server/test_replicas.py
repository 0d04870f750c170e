"""Two `crypto serve` replicas on one PostgreSQL database: concurrent transfers through both
keep every ledger invariant."""

import asyncio
import os
import random
import signal
from decimal import Decimal

import pytest
from grpclib.client import Channel
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from crypto_service.generated import crypto as pb
from crypto_service.settings import Settings
from tests.server.test_process import run_cli, spawn_server

USERS = 10
DEPOSIT = Decimal(100)


@pytest.fixture
def replicas(settings: Settings):
    if not settings.database_url.startswith("postgres"):
        pytest.skip("replicas share one PostgreSQL database")
    env = {**os.environ, "CRYPTO_DATABASE_URL": settings.database_url,
           "CRYPTO_GRACE_PERIOD_SECONDS": "2", "CRYPTO_SIMULATE": "false"}
    assert run_cli("seed", env=env).returncode == 0
    started = [spawn_server(env) for _ in range(2)]
    yield env, started
    for process, _ in started:
        if process.poll() is None:
            process.kill()
            process.wait()


async def transfer_through_both(ports: list[int]) -> list:
    channels = [Channel("127.0.0.1", port) for port in ports]
    stubs = [pb.CryptoServiceStub(channel) for channel in channels]
    try:
        for user in range(1, USERS + 1):
            await stubs[user % 2].deposit(pb.DepositRequest(user_id=user, symbol="BTC",
                                                            amount=str(DEPOSIT)))
        rng = random.Random(6)

        async def one(index: int):
            sender, recipient = rng.sample(range(1, USERS + 1), 2)
            # Up to 40 of a 100 balance: some transfers must find too little and fail.
            amount = f"{rng.randint(1, 4000) / 100:.2f}"
            try:
                return await stubs[index % 2].transfer(pb.TransferRequest(
                    from_user_id=sender, to_user_id=recipient, symbol="BTC", amount=amount),
                    timeout=60)
            except GRPCError as error:
                return error.status

        results = []
        for _ in range(4):  # 4 rounds of 50 concurrent callers, half on each replica
            results += await asyncio.gather(*(one(i) for i in range(50)))
        balances = []
        for user in range(1, USERS + 1):
            listed = await stubs[user % 2].list_wallets(pb.ListWalletsRequest(user_id=user))
            balances += [Decimal(w.balance) for w in listed.wallets]
        return results, balances
    finally:
        for channel in channels:
            channel.close()


def test_concurrent_transfers_through_two_replicas_keep_the_ledger(replicas):
    env, servers = replicas
    results, balances = asyncio.run(transfer_through_both([port for _, port in servers]))
    failures = [r for r in results if not isinstance(r, pb.TransferResponse)]
    assert set(failures) <= {Status.FAILED_PRECONDITION}, failures
    assert len(failures) < len(results)  # most moved money
    assert sum(balances) == DEPOSIT * USERS and min(balances) >= 0
    audit = run_cli("audit", env=env)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    for process, _ in servers:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
        assert process.returncode == 0, output
