"""Retries with a fault injected: the fake answers UNAVAILABLE a number of times first."""

import asyncio
import socket

import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError
from grpclib.testing import ChannelFor

from crypto_service.client import AsyncCryptoClient, Internal, RetryPolicy, Unavailable


def fail_next(fake, times: int) -> None:
    fake.failures = [GRPCError(Status.UNAVAILABLE, "try again")] * times


async def test_reads_are_retried_until_they_succeed(fake, fake_client):
    fail_next(fake, 3)
    assert (await fake_client.get_coin("BTC")).symbol == "BTC"
    assert fake.methods() == ["GetCoin"] * 4


async def test_reads_give_up_after_the_policy_attempts(fake, fake_client):
    fail_next(fake, 4)
    with pytest.raises(Unavailable, match="try again"):
        await fake_client.get_portfolio(1)
    assert fake.methods() == ["GetPortfolio"] * 4


async def test_other_errors_are_not_retried(fake, fake_client):
    fake.failures = [GRPCError(Status.INTERNAL, "bug")]
    with pytest.raises(Internal):
        await fake_client.list_top_coins()
    assert fake.methods() == ["GetTopCoins"]


async def test_deposit_without_transaction_id_is_never_retried(fake, fake_client):
    fail_next(fake, 1)
    with pytest.raises(Unavailable):
        await fake_client.deposit(1, "BTC", "1")
    assert fake.methods() == ["Deposit"]


async def test_deposit_with_transaction_id_is_retried(fake, fake_client):
    fail_next(fake, 2)
    posted = await fake_client.deposit(1, "BTC", "1", transaction_id="ext-1")
    assert posted.wallet.balance == 1
    assert fake.methods() == ["Deposit"] * 3


@pytest.mark.parametrize("write", [
    lambda client: client.withdraw(1, "BTC", "0.5", "bc1qdest"),
    lambda client: client.transfer(1, 2, "BTC", "0.5"),
])
async def test_withdraw_and_transfer_retry_with_one_idempotency_key(fake, fake_client, write):
    fail_next(fake, 2)
    await write(fake_client)
    keys = {call.metadata["idempotency-key"] for call in fake.calls}
    assert len(fake.calls) == 3 and len(keys) == 1


async def test_no_retry_starts_that_would_end_past_the_callers_deadline(fake):
    # A backoff of a minute against a deadline of a second: the first failure is final,
    # and the caller hears it at once rather than after the backoff.
    slow = RetryPolicy(attempts=4, initial_backoff=60, max_backoff=60)
    fail_next(fake, 3)
    async with ChannelFor([fake]) as channel, \
            AsyncCryptoClient(timeout=1, retry=slow, channel=channel) as client:
        with pytest.raises(Unavailable, match="try again"):
            await asyncio.wait_for(client.get_coin("BTC"), 30)
    assert fake.methods() == ["GetCoin"]


async def test_a_stopped_server_is_unavailable_within_the_deadline():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    slow = RetryPolicy(attempts=10, initial_backoff=60, max_backoff=60)
    async with AsyncCryptoClient(address, timeout=1, retry=slow) as client:
        with pytest.raises(Unavailable, match="connection failed"):
            await asyncio.wait_for(client.list_top_coins(), 30)
