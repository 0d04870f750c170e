"""Shared fixtures: a migrated database on every backend, and a real client over grpclib.

Every database test runs on SQLite; it runs on PostgreSQL too when CRYPTO_TEST_POSTGRES_URL
names a server (`.ci/run` sets it). A throwaway database is created there for the session.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import AsyncIterator, Iterator

import asyncpg
import pytest
from tortoise.backends.base.executor import EXECUTOR_CACHE

from crypto_service.db import connect
from crypto_service.db.models import Coin
from crypto_service.domain.audit import audit
from crypto_service.generated import crypto as pb
from crypto_service.server.app import App, build_app
from crypto_service.settings import Settings
from tests.channels import LOCAL_PEER, ChannelFrom

POSTGRES_URL = os.environ.get("CRYPTO_TEST_POSTGRES_URL", "")
BACKENDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.skipif(
        not POSTGRES_URL, reason="PostgreSQL tests need CRYPTO_TEST_POSTGRES_URL "
                                 "(e.g. postgres://postgres@127.0.0.1:5432/crypto_test)")),
]


def _server_and_name(url: str) -> tuple[str, str]:
    base, _, name = url.rpartition("/")
    return base, name or "crypto_test"


def postgres_admin(sql: str) -> None:
    """One statement (CREATE or DROP DATABASE) on the test server's `postgres` database."""
    base, _ = _server_and_name(POSTGRES_URL)

    async def admin() -> None:
        conn = await asyncpg.connect(f"{base}/postgres")
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin())


@pytest.fixture(scope="session")
def postgres_database_url() -> str:
    """A fresh database on the test server for this session, dropped at the end."""
    base, name = _server_and_name(POSTGRES_URL)
    database = f"{name}_{uuid.uuid4().hex[:8]}"
    postgres_admin(f'CREATE DATABASE "{database}"')
    url = f"{base}/{database}"
    asyncio.run(connect.apply_migrations(Settings(database_url=url)))
    yield url
    postgres_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def settings(request, tmp_path: Path) -> Iterator[Settings]:
    """Settings for a migrated, empty database of one backend. After the test, the ledger it
    leaves behind must pass `crypto audit` (unless the test breaks it on purpose)."""
    # Tortoise caches each table's SQL per connection name, not per dialect: tests that switch
    # between SQLite and PostgreSQL in one process must drop it.
    EXECUTOR_CACHE.clear()
    if request.param == "sqlite":
        url = f"sqlite://{tmp_path / 'test.db'}"
        asyncio.run(connect.apply_migrations(Settings(database_url=url)))
    else:
        url = request.getfixturevalue("postgres_database_url")
        asyncio.run(_truncate_all(url))
    settings = Settings(database_url=url, max_message_bytes=64 * 1024)
    yield settings
    if request.node.get_closest_marker("bypasses_ledger") is None:
        report = asyncio.run(_audit(settings))
        assert report.clean, f"the test left an inconsistent ledger: {report.problems}"


async def _audit(settings: Settings):
    EXECUTOR_CACHE.clear()
    async with connect.database(settings):
        return await audit()


async def _truncate_all(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                  "AND tablename NOT LIKE 'tortoise%'")
        names = ", ".join(f'"{row["tablename"]}"' for row in tables)
        await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@pytest.fixture
def env(settings: Settings) -> dict:
    """The environment for a `crypto` process on the test's database."""
    return {**os.environ, "CRYPTO_DATABASE_URL": settings.database_url,
            "CRYPTO_GRACE_PERIOD_SECONDS": "2"}


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Settings]:
    """An open, migrated and empty database."""
    await connect.open_database(settings)
    try:
        yield settings
    finally:
        await connect.close_database()


@pytest.fixture
async def busy_db(settings: Settings) -> AsyncIterator[Settings]:
    """`db` waiting 50 ms for a lock held elsewhere (SQLite's busy timeout, PostgreSQL's
    lock_timeout) before a statement fails."""
    settings = settings.with_overrides(sqlite_busy_timeout_ms=50, postgres_lock_timeout_ms=50)
    await connect.open_database(settings)
    try:
        yield settings
    finally:
        await connect.close_database()


@pytest.fixture
async def app(db: Settings) -> App:
    return build_app(db)


@pytest.fixture
async def stub(app: App) -> AsyncIterator[pb.CryptoServiceStub]:
    """A generated client over grpclib's in-memory channel to the app's services, calling as
    a local (loopback) client would."""
    async with ChannelFrom(app.services, codec=app.codec, peer=LOCAL_PEER) as channel:
        yield pb.CryptoServiceStub(channel)


async def make_coin(symbol: str, **fields) -> Coin:
    """A coin with plausible defaults; fields override them."""
    values = dict(
        symbol=symbol.upper(),
        name=fields.pop("name", f"{symbol.title()} Coin"),
        slug=fields.pop("slug", f"{symbol.lower()}-coin"),
        current_price_usd=Decimal("1"),
        market_cap_usd=Decimal("1000"),
        volume_24h_usd=Decimal("100"),
        price_change_24h_percent=Decimal("0"),
        rank=0,
    )
    values.update(fields)
    values["is_price_up_24h"] = values["price_change_24h_percent"] > 0
    return await Coin.create(**values)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)
