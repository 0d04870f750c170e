"""Write transactions that run to completion whatever happens to the call that started them.

grpclib cancels a handler's task when its deadline passes, when the client resets the stream
or drops the connection, and when the server closes. A cancellation that lands inside an open
transaction interrupts the driver mid-statement: asyncpg's pooled connection is left
`idle in transaction` (or mid-protocol) and handed out again broken, and the SQLite engine's
transaction lock can stay taken. Either way every later call waits for good.

So a write runs in a task of its own and the caller awaits it through `asyncio.shield`: a
cancelled caller stops waiting, but the transaction finishes (commits, or rolls back on its
own errors) and its connection goes back to the pool idle. A client that gave up learns the
outcome by retrying with the same idempotency key: the ledger answers a committed write as a
replay and runs one that never committed. `wait_in_flight` lets the server's drain wait for
writes whose callers are gone before it closes the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

_in_flight: set[asyncio.Task[Any]] = set()


async def run_to_completion(write: Coroutine[Any, Any, T],
                            expected: tuple[type[BaseException], ...] = ()) -> T:
    """Runs `write` in its own task and returns its result; cancelling the caller does not
    cancel the write. `expected` errors (answers to the caller, such as insufficient funds)
    are not logged when the caller has gone."""
    task = asyncio.ensure_future(write)
    _in_flight.add(task)
    task.add_done_callback(_in_flight.discard)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.done():
            task.add_done_callback(lambda done: _report_orphan(done, expected))
        raise


def _report_orphan(task: asyncio.Task[Any], expected: tuple[type[BaseException], ...]) -> None:
    """Collects the result of a write nobody awaits any more (so asyncio does not report it as
    never retrieved), and logs a failure that no caller will see."""
    if task.cancelled():
        return
    error = task.exception()
    if error is not None and not isinstance(error, expected):
        log.warning("a write whose caller went away failed: %r", error)


def in_flight() -> int:
    return len(_in_flight)


async def wait_in_flight(timeout: float | None) -> bool:
    """True when every write in flight finished within `timeout` seconds (None: no limit)."""
    pending = set(_in_flight)
    if not pending:
        return True
    _, still_running = await asyncio.wait(pending, timeout=timeout)
    return not still_running
