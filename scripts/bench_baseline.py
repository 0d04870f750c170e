"""The benchmark's baseline: a bare grpclib + betterproto2 server answering GetCoin with one
prebuilt coin (no database, no validation, no logging), in N processes sharing the port.

    python scripts/bench_baseline.py PORT WORKERS COIN_RESPONSE_FILE [asyncio|uvloop]
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
import sys

from grpclib.server import Server

from crypto_service.generated import crypto as pb
from crypto_service.server.workers import run_loop


class Baseline(pb.CryptoServiceBase):
    def __init__(self, response: pb.CoinResponse) -> None:
        self.response = response

    async def get_coin(self, message: pb.GetCoinRequest) -> pb.CoinResponse:
        return self.response  # encoded by betterproto2 on every call, as a plain server does


async def serve(port: int, response_bytes: bytes) -> None:
    server = Server([Baseline(pb.CoinResponse.parse(response_bytes))])
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await server.start("127.0.0.1", port, reuse_port=True)
    await stop.wait()
    server.close()
    await server.wait_closed()


def worker(port: int, response_bytes: bytes, loop: str) -> None:
    run_loop(serve(port, response_bytes), loop)  # the loop our server runs on, for a fair ratio


def main() -> None:
    port, workers, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    loop = sys.argv[4] if len(sys.argv) > 4 else "asyncio"
    with open(path, "rb") as file:
        response_bytes = file.read()
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=worker, args=(port, response_bytes, loop))
                 for _ in range(workers)]
    signal.signal(signal.SIGTERM, lambda *_: [p.terminate() for p in processes])
    for process in processes:
        process.start()
    for process in processes:
        process.join()


if __name__ == "__main__":
    main()
