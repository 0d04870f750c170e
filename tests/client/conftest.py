"""Client fixtures: the fake service over every kind of channel, the real app on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from grpclib.testing import ChannelFor

from crypto_service.client import AsyncCryptoClient, RetryPolicy
from crypto_service.server.app import App
from tests.client.fake_service import FakeService
from tests.client.servers import loopback, loopback_in_thread

# Retries without waiting, so tests of retry behaviour take no wall-clock time.
NO_WAIT = RetryPolicy(attempts=4, initial_backoff=0, max_backoff=0)


@pytest.fixture
def fake() -> FakeService:
    return FakeService()


@pytest.fixture
async def fake_client(fake: FakeService) -> AsyncIterator[AsyncCryptoClient]:
    """The async client over grpclib's in-memory channel to the fake service."""
    async with ChannelFor([fake]) as channel, \
            AsyncCryptoClient(token="t0k3n", retry=NO_WAIT, channel=channel) as client:
        yield client


@pytest.fixture
async def fake_address(fake: FakeService) -> AsyncIterator[str]:
    async with loopback([fake]) as address:
        yield address


@pytest.fixture
def fake_in_thread(fake: FakeService) -> Iterator[str]:
    """The fake on its own loop and thread: for blocking clients called from the test."""
    with loopback_in_thread([fake]) as address:
        yield address


@pytest.fixture
async def app_address(app: App) -> AsyncIterator[str]:
    """The real app (migrated database, both backends) on a loopback socket."""
    async with loopback(app.services, app.codec) as address:
        yield address
