"""Every failure surfaces as one CryptoError subclass carrying the status and message."""

import asyncio

import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from crypto_service import client as api
from crypto_service.client import AsyncCryptoClient, RetryPolicy
from tests.client.servers import loopback

MAPPING = {
    Status.INVALID_ARGUMENT: api.InvalidArgument, Status.NOT_FOUND: api.NotFound,
    Status.FAILED_PRECONDITION: api.InsufficientFunds, Status.ALREADY_EXISTS: api.AlreadyExists,
    Status.UNAUTHENTICATED: api.Unauthenticated, Status.PERMISSION_DENIED: api.PermissionDenied,
    Status.RESOURCE_EXHAUSTED: api.ResourceExhausted, Status.UNAVAILABLE: api.Unavailable,
    Status.UNIMPLEMENTED: api.Unimplemented, Status.INTERNAL: api.Internal,
    Status.DEADLINE_EXCEEDED: api.DeadlineExceeded, Status.CANCELLED: api.Cancelled,
    Status.DATA_LOSS: api.CryptoError,  # no subclass of its own: the base class
}


@pytest.mark.parametrize("status, kind", MAPPING.items())
async def test_status_maps_to_its_exception_with_status_and_message(fake, fake_client,
                                                                     status, kind):
    fake.failures = [GRPCError(status, "balance is 0.5 BTC")] * 4  # outlasts any retry
    with pytest.raises(kind) as raised:
        await fake_client.transfer(1, 2, "BTC", "1")
    error = raised.value
    assert isinstance(error, api.CryptoError)
    assert (error.status, error.message) == (status, "balance is 0.5 BTC")
    assert str(error) == f"{status.name}: balance is 0.5 BTC"


async def test_nothing_listening_is_unavailable():
    async with loopback([]) as address:
        pass  # the port is free again once the server is closed
    async with AsyncCryptoClient(address, retry=RetryPolicy(attempts=1)) as client:
        with pytest.raises(api.Unavailable, match="connection failed"):
            await client.get_coin("BTC")


async def test_a_call_past_its_deadline_is_deadline_exceeded(fake, fake_address, monkeypatch):
    async def never_answers(message):
        await asyncio.Event().wait()

    monkeypatch.setattr(fake, "get_coin", never_answers)
    async with AsyncCryptoClient(fake_address, timeout=0.2) as client:
        with pytest.raises(api.DeadlineExceeded):
            await client.get_coin("BTC")
