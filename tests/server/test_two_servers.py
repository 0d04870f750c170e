"""Two server processes on one database: concurrent transfers through both keep every ledger
invariant, and contention never reaches clients as 'database is locked' or INTERNAL."""

import asyncio
import signal
from decimal import Decimal

from grpclib.client import Channel
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from crypto_service.generated import crypto as pb
from tests.server.test_process import run_cli, spawn_server

USERS = 4
TRANSFERS = 600
DEPOSIT = 100  # each user sends 150 x 0.75: at least 133 of them succeed in any order


async def storm_then_balances(ports: list[int]) -> tuple[list, Decimal]:
    """Transfers both ways around a ring of users, alternating servers; then the sum of all
    balances as the second server reports it."""
    channels = [Channel("127.0.0.1", port) for port in ports]
    stubs = [pb.CryptoServiceStub(channel) for channel in channels]

    async def transfer(i: int):
        sender = i % USERS + 1
        neighbour = sender % USERS + 1 if i % 2 else (sender - 2) % USERS + 1
        try:
            return await stubs[i % 2].transfer(pb.TransferRequest(
                from_user_id=sender, to_user_id=neighbour, symbol="BTC", amount="0.75"),
                timeout=60)
        except GRPCError as exc:
            return exc.status

    try:
        for user in range(1, USERS + 1):
            await stubs[user % 2].deposit(pb.DepositRequest(user_id=user, symbol="BTC",
                                                            amount=str(DEPOSIT)))
        results = await asyncio.gather(*(transfer(i) for i in range(TRANSFERS)))
        wallets = [await stubs[1].get_wallet(pb.GetWalletRequest(user_id=u, symbol="BTC"))
                   for u in range(1, USERS + 1)]
        return results, sum(Decimal(w.wallet.balance) for w in wallets)
    finally:
        for channel in channels:
            channel.close()


def test_concurrent_transfers_through_two_servers_keep_the_ledger(env):
    env = {**env, "CRYPTO_LOG_LEVEL": "WARNING"}
    assert run_cli("seed", env=env).returncode == 0
    servers = [spawn_server(env) for _ in range(2)]
    try:
        results, total = asyncio.run(storm_then_balances([port for _, port in servers]))
    finally:
        for process, _ in servers:
            process.send_signal(signal.SIGTERM)
        outputs = [process.communicate(timeout=30)[0] for process, _ in servers]

    failures = [r for r in results if not isinstance(r, pb.TransferResponse)]
    assert set(failures) <= {Status.FAILED_PRECONDITION}, failures
    assert len(failures) <= USERS * 17  # the money did move
    assert total == Decimal(DEPOSIT * USERS)
    assert all("database is locked" not in output and "Traceback" not in output
               for output in outputs)
    audit = run_cli("audit", env=env)
    assert audit.returncode == 0, audit.stdout + audit.stderr
