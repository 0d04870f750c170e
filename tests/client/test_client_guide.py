"""The seed guide's Python examples and `python -m crypto_service.client`, each run as a
separate process against a server, as a user would run them."""

import asyncio
import os
import sys
from pathlib import Path

from grpclib.const import Status
from grpclib.exceptions import GRPCError

from crypto_service.generated.crypto import CryptoServiceBase
from tests.client.servers import loopback

GUIDE_EXAMPLES = Path(__file__).with_name("guide_examples.py")


async def run_python(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, *args, env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, out.decode(), err.decode()


async def test_the_guide_examples_run_unchanged(fake, fake_address):
    script = GUIDE_EXAMPLES.read_text().replace("localhost:50051", fake_address)
    code, out, err = await run_python("-c", script)
    assert code == 0, err
    assert out.splitlines() == [
        "BTC Price: $94000.5",
        "#1 BTC: $94000.5",
        "#2 ETH: $3300",
        "BTC: $94000.5",
        "Total: $47000.25",
        *["BTC: $94000.5", "ETH: $3300"] * fake.stream_rounds,
    ]
    assert "SearchCoins" in fake.methods()


async def test_the_demo_module_takes_the_address_from_the_environment(fake, fake_address):
    code, out, err = await run_python("-m", "crypto_service.client",
                                      env={"CRYPTO_ADDRESS": fake_address})
    assert code == 0, err
    lines = out.splitlines()
    assert lines[:4] == ["BTC Price: $94000.5", "#1 BTC: $94000.5", "#2 ETH: $3300",
                         "Search 'bitcoin': BTC"]
    assert lines[4:] == ["Portfolio of user 1: $47000.25", "BTC: $94000.5", "ETH: $3300",
                         "BTC: $94000.5", "ETH: $3300"]


async def test_the_demo_skips_what_the_server_does_not_offer_yet(fake, fake_address,
                                                                  monkeypatch):
    async def unimplemented(message):
        raise GRPCError(Status.UNIMPLEMENTED, "no wallets here")

    monkeypatch.setattr(fake, "get_portfolio", unimplemented)
    code, out, err = await run_python("-m", "crypto_service.client", fake_address)
    assert code == 0, err
    assert out.splitlines()[-1] == \
        "(this server does not offer it yet: UNIMPLEMENTED: no wallets here)"
    assert "StreamPrices" not in fake.methods()


async def test_the_demo_exits_non_zero_with_one_line_on_an_error():
    async with loopback([CryptoServiceBase()]) as address:
        code, out, err = await run_python("-m", "crypto_service.client", address)
    assert (code, out, err) == (1, "", "error: UNIMPLEMENTED\n")
