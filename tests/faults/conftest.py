"""The assembled app on a real loopback socket in the test's loop, and looks at the database
from outside it (a second connection, as an operator or another process would)."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import asyncpg
import pytest
from grpclib.client import Channel
from grpclib.events import RecvRequest, listen

from crypto_service.db.connect import APPLICATION_NAME, is_sqlite
from crypto_service.generated import crypto as pb
from crypto_service.server.app import App
from crypto_service.settings import Settings


@dataclass
class Served:
    app: App
    address: str
    channel: Channel
    stub: pb.CryptoServiceStub
    methods: list[str] = field(default_factory=list)  # every call the server received


@pytest.fixture
async def served(app: App) -> AsyncIterator[Served]:
    """The app's own server (so `App.drain` works on it) on a free loopback port."""
    server = app.server
    methods: list[str] = []

    async def received(event: RecvRequest) -> None:
        methods.append(event.method_name.rsplit("/", 1)[1])

    listen(server, RecvRequest, received)
    await server.start("127.0.0.1", 0)
    port = server._server.sockets[0].getsockname()[1]
    channel = Channel("127.0.0.1", port)
    try:
        yield Served(app, f"127.0.0.1:{port}", channel, pb.CryptoServiceStub(channel), methods)
    finally:
        channel.close()
        server.close()
        await server.wait_closed()


def sqlite_path(settings: Settings) -> str:
    return settings.database_url.removeprefix("sqlite://")


async def stuck_transactions(settings: Settings) -> int:
    """Connections of the server left inside a transaction: on PostgreSQL, its sessions `idle
    in transaction`; on SQLite, 1 when the write lock is held (another connection cannot take
    it at once)."""
    if is_sqlite(settings.database_url):
        outside = sqlite3.connect(sqlite_path(settings), timeout=0, isolation_level=None)
        try:
            outside.execute("BEGIN IMMEDIATE")
            outside.execute("ROLLBACK")
            return 0
        except sqlite3.OperationalError:
            return 1
        finally:
            outside.close()
    admin = await asyncpg.connect(settings.database_url)
    try:
        return await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state LIKE 'idle in transaction%' AND application_name = $1",
            APPLICATION_NAME)
    finally:
        await admin.close()


@asynccontextmanager
async def write_lock_held_outside(settings: Settings) -> AsyncIterator[None]:
    """Another process in the middle of a write: on SQLite it holds the database's write lock,
    on PostgreSQL every wallet row's lock."""
    if is_sqlite(settings.database_url):
        outside = sqlite3.connect(sqlite_path(settings), isolation_level=None)
        outside.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            outside.execute("ROLLBACK")
            outside.close()
        return
    outside = await asyncpg.connect(settings.database_url)
    try:
        async with outside.transaction():
            await outside.execute("SELECT id FROM wallet FOR UPDATE")
            yield
    finally:
        await outside.close()
