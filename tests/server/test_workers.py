"""`crypto serve --workers 2`: two processes answer on one port and both stop on SIGTERM."""

import asyncio
import re
import signal
import subprocess

from grpclib.client import Channel

from crypto_service.generated import crypto as pb
from tests.server.test_process import BIN, free_port, run_cli

ACCESS_LINE = re.compile(r"\[(\d+)\] crypto_service\.access: /crypto\.CryptoService/GetCoin OK")


async def get_coin_on_new_connections(port: int, count: int) -> list[str]:
    """Each call on its own connection: the kernel picks a worker per connection."""
    names = []
    for _ in range(count):
        channel = Channel("127.0.0.1", port)
        try:
            response = await pb.CryptoServiceStub(channel).get_coin(
                pb.GetCoinRequest(symbol="BTC"), timeout=10)
            names.append(response.coin.name)
        finally:
            channel.close()
    return names


def test_two_workers_share_the_port_and_stop_cleanly(env):
    assert run_cli("seed", env=env).returncode == 0
    port = free_port()
    process = subprocess.Popen([str(BIN / "crypto"), "serve", "--port", str(port),
                                "--workers", "2"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        # Until both workers listen (each logs its own line), the first answers alone.
        head = []
        while sum("serving crypto.CryptoService" in line for line in head) < 2:
            line = process.stdout.readline()
            assert line, "".join(head)
            head.append(line)
        names = asyncio.run(get_coin_on_new_connections(port, 40))
        assert names == ["Bitcoin"] * 40
        process.send_signal(signal.SIGTERM)
        output = "".join(head) + process.communicate(timeout=30)[0]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    answered_by = set(ACCESS_LINE.findall(output))
    assert len(answered_by) == 2, output
    assert output.count("serving crypto.CryptoService") == 2, output
    assert output.count("] crypto_service.server: stopped") == 2, output
