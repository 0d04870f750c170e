"""Making a client: the package's lazy exports, addresses, and an async client made before
its event loop exists."""

import asyncio
import subprocess
import sys

import pytest

from crypto_service.client import AsyncCryptoClient, CryptoClient, CryptoError, InvalidAddress
from crypto_service.client.requests import host_and_port


def test_importing_the_package_does_not_import_generated_code():
    # `crypto gen` and setup.py import crypto_service before crypto_service/generated exists.
    check = ("import sys, crypto_service; "
             "assert not [m for m in sys.modules if m.startswith('crypto_service.generated')]; "
             "from crypto_service import CryptoClient, AsyncCryptoClient; "
             "assert 'crypto_service.generated' in sys.modules; print(CryptoClient.__name__)")
    done = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                          check=False)
    assert (done.returncode, done.stdout) == (0, "CryptoClient\n"), done.stderr
    with pytest.raises(AttributeError):
        import crypto_service

        crypto_service.NoSuchThing  # noqa: B018


@pytest.mark.parametrize("address, expected", [
    ("localhost:50051", ("localhost", 50051)),
    ("10.0.0.7", ("10.0.0.7", 50051)),
    ("[::1]:6000", ("::1", 6000)),
    ("::1", ("::1", 50051)),
    (" crypto.example.com:443 ", ("crypto.example.com", 443)),
])
def test_addresses(address, expected):
    assert host_and_port(address) == expected


@pytest.mark.parametrize("address", ["localhost:http", ":50051", "[::1]:x", "127.0.0.1:99999",
                                     "127.0.0.1:0", "localhost:-1", "localhost:٣"])
def test_bad_addresses_are_the_clients_own_error(address):
    with pytest.raises(InvalidAddress, match="address") as raised:
        CryptoClient(address)
    assert isinstance(raised.value, CryptoError)
    assert str(raised.value).startswith("INVALID_ARGUMENT: address")


def test_an_async_client_made_before_its_loop_connects_inside_it(fake_in_thread):
    client = AsyncCryptoClient(fake_in_thread)  # no loop runs yet: the channel waits

    async def use() -> str:
        async with client:
            return (await client.get_coin("ETH")).name

    assert asyncio.run(use()) == "Ethereum"
