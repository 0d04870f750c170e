"""Servers on real loopback sockets: in the test's own event loop (for async clients and
subprocesses), or on a loop in a background thread (for blocking callers such as
`CryptoClient` called from the test's thread, and Typer's CliRunner)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from grpclib.server import Server


@asynccontextmanager
async def loopback(services: list[Any], codec: Any = None,
                   ssl: Any = None) -> AsyncIterator[str]:
    """Serves `services` on 127.0.0.1 (a free port) and yields the address."""
    server = Server(services, codec=codec)
    await server.start("127.0.0.1", 0, ssl=ssl)
    try:
        yield f"127.0.0.1:{server._server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


@contextmanager
def loopback_in_thread(services: list[Any], ssl: Any = None) -> Iterator[str]:
    """`loopback`, on an event loop of its own in a daemon thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    serving = loopback(services, ssl=ssl)
    try:
        yield asyncio.run_coroutine_threadsafe(serving.__aenter__(), loop).result()
    finally:
        asyncio.run_coroutine_threadsafe(serving.__aexit__(None, None, None), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
