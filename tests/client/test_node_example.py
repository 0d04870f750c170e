"""examples/node/client.js (grpc-js + proto-loader, from the .proto) against live servers."""

import asyncio
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from tests.conftest import make_coin

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "node"
NODE, NPM = shutil.which("node"), shutil.which("npm")
pytestmark = pytest.mark.skipif(not (NODE and NPM), reason="node and npm are not installed")


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """The example's locked dependencies, installed by `npm ci` unless already current."""
    installed = EXAMPLE / "node_modules" / ".package-lock.json"
    lock = EXAMPLE / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        done = subprocess.run([NPM, "ci", "--no-audit", "--no-fund"], cwd=EXAMPLE,
                              capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, f"npm ci failed:\n{done.stderr}"
    return installed.parent


async def run_node(address: str) -> tuple[int, list[str], str]:
    process = await asyncio.create_subprocess_exec(
        NODE, "client.js", address, cwd=EXAMPLE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, out.decode().splitlines(), err.decode()


async def test_gets_coins_from_the_real_service(node_modules, app_address):
    await make_coin("BTC", rank=1, current_price_usd=Decimal("94000.5"),
                    volume_24h_usd=Decimal("3E10"), market_cap_usd=Decimal("1.8E12"))
    await make_coin("ETH", rank=2, current_price_usd=Decimal("3300"))
    await make_coin("SHIB", rank=15, current_price_usd=Decimal("0.00000001"))
    code, lines, err = await run_node(app_address)
    assert code == 0, err
    assert lines[:4] == ["BTC Price: $94000.5 (24h volume $30000000000)",
                         "#1 BTC: $94000.5", "#2 ETH: $3300", "#15 SHIB: $0.00000001"]


async def test_reads_a_few_stream_updates_then_cancels(node_modules, fake, fake_address):
    fake.endless = True
    code, lines, err = await run_node(fake_address)
    assert code == 0, err
    assert lines[-4:] == ["stream BTC: $94000.5 (1.5%)", "stream ETH: $3300 (-2.25%)"] * 2
    assert await asyncio.to_thread(fake.stream_closed.wait, 10)


async def test_reports_a_stream_the_server_lacks(node_modules, fake, fake_address, monkeypatch):
    async def unimplemented(message):
        raise GRPCError(Status.UNIMPLEMENTED, "no price hub")
        yield  # an async generator, as the real handler is

    monkeypatch.setattr(fake, "stream_prices", unimplemented)
    code, lines, err = await run_node(fake_address)
    assert code == 0, err
    assert lines[-1] == "StreamPrices: not offered by this server yet (UNIMPLEMENTED)"


async def test_errors_are_one_line_and_exit_non_zero(node_modules, fake, fake_address):
    fake.coins = []  # GetCoin BTC: NOT_FOUND
    code, lines, err = await run_node(fake_address)
    assert (code, lines, err) == (1, [], "error: NOT_FOUND: coin BTC not found\n")
