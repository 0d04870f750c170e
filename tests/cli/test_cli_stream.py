"""`crypto stream`: a table of the latest price per symbol (JSON lines with --json), until
the stream ends or Ctrl-C, which exits cleanly and cancels the call on the server."""

import asyncio
import json
import os
import signal
import sys

from google.protobuf import json_format

from crypto_service.generated import crypto as pb
from crypto_service.messages import google_class


async def test_piped_it_prints_a_line_per_update(invoke, fake, fake_address):
    result = await invoke("stream", "BTC", "ETH", "--interval", "2", "--address", fake_address)
    assert result.exit_code == 0, result.output
    assert fake.calls[-1].request == pb.StreamPricesRequest(symbols=["BTC", "ETH"],
                                                            interval_seconds=2)
    rows = result.stdout.splitlines()
    assert len(rows) == 2 * fake.stream_rounds
    assert rows[0].split()[:3] == ["BTC", "$94,000.50", "+1.50%"]
    assert rows[1].split()[:3] == ["ETH", "$3,300.00", "-2.25%"]


async def test_json_is_one_parseable_update_per_line(invoke, fake, fake_address):
    result = await invoke("stream", "BTC", "ETH", "--json", "--address", fake_address)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2 * fake.stream_rounds
    updates = [json_format.Parse(line, google_class(pb.PriceUpdate)()) for line in lines]
    assert [(u.symbol, u.price_usd) for u in updates[:2]] == [("BTC", "94000.5"),
                                                             ("ETH", "3300")]
    assert json.loads(lines[1])["change24hPercent"] == "-2.25"


async def test_ctrl_c_exits_cleanly_and_cancels_the_stream(fake, fake_address):
    fake.endless = True
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from crypto_service.cli import main; main()",
        "stream", "BTC", "--json", "--address", fake_address, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    first = await asyncio.wait_for(process.stdout.readline(), 30)
    assert json.loads(first)["symbol"] == "BTC"
    process.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert (process.returncode, err.decode()) == (0, "")
    assert await asyncio.to_thread(fake.stream_closed.wait, 10)
