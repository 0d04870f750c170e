"""A server killed with SIGKILL in the middle of a transfer storm leaves a consistent ledger."""

import asyncio
import signal
import subprocess

from grpclib.client import Channel
from grpclib.exceptions import GRPCError, StreamTerminatedError

from crypto_service.generated import crypto as pb
from tests.server.test_process import run_cli, spawn_server

USERS = 4


async def storm(port: int, process: subprocess.Popen) -> int:
    """Transfers in a ring until the server dies; kills it once 50 have succeeded."""
    channel = Channel("127.0.0.1", port)
    stub = pb.CryptoServiceStub(channel)
    for user in range(1, USERS + 1):
        await stub.deposit(pb.DepositRequest(user_id=user, symbol="BTC", amount="100"))
    succeeded = 0

    async def transfer(i: int) -> None:
        nonlocal succeeded
        sender = i % USERS + 1
        try:
            await stub.transfer(pb.TransferRequest(from_user_id=sender,
                                                   to_user_id=sender % USERS + 1,
                                                   symbol="BTC", amount="0.01"), timeout=5)
        except (GRPCError, StreamTerminatedError, ConnectionError, OSError, asyncio.TimeoutError):
            return
        succeeded += 1
        if succeeded == 50:
            process.send_signal(signal.SIGKILL)

    await asyncio.gather(*(transfer(i) for i in range(2000)), return_exceptions=True)
    channel.close()
    return succeeded


def test_sigkill_during_a_transfer_storm_then_audit_is_clean(env):
    env = {**env, "CRYPTO_LOG_LEVEL": "WARNING"}
    assert run_cli("seed", env=env).returncode == 0
    process, port = spawn_server(env)
    succeeded = asyncio.run(storm(port, process))
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert 50 <= succeeded < 2000  # killed mid-storm

    audit = run_cli("audit", env=env)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "ledger is consistent" in audit.stdout

    restarted, port = spawn_server(env)  # and it comes back
    restarted.send_signal(signal.SIGTERM)
    assert restarted.wait(timeout=30) == 0
