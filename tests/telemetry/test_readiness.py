"""/readyz when the database goes away under a running server (PostgreSQL: its database is
dropped, connections and all)."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
import pytest
from tortoise.backends.base.executor import EXECUTOR_CACHE

from crypto_service.db import connect
from crypto_service.server.app import build_app
from crypto_service.server.ops_http import OpsEndpoint
from crypto_service.settings import Settings
from tests.conftest import POSTGRES_URL, _server_and_name
from tests.telemetry.scrape import eventually

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL, reason="needs PostgreSQL: set CRYPTO_TEST_POSTGRES_URL "
                             "(e.g. postgres://postgres@127.0.0.1:5432/crypto_test)")


async def admin(sql: str) -> None:
    base, _ = _server_and_name(POSTGRES_URL)
    connection = await asyncpg.connect(f"{base}/postgres")
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def test_readyz_is_503_once_the_database_is_gone_and_healthz_stays_200():
    base, name = _server_and_name(POSTGRES_URL)
    database = f"{name}_ready_{uuid.uuid4().hex[:8]}"
    await admin(f'CREATE DATABASE "{database}"')
    settings = Settings(database_url=f"{base}/{database}", metrics_port=0)
    EXECUTOR_CACHE.clear()
    await connect.apply_migrations(settings)
    await connect.open_database(settings)
    app = build_app(settings)
    ops = OpsEndpoint(app.metrics, app.guard, settings.db_pool_size)
    await ops.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ops.port}") as client:
            assert (await client.get("/readyz")).status_code == 200
            await admin(f'DROP DATABASE "{database}" WITH (FORCE)')

            async def not_ready() -> bool:
                return (await client.get("/readyz")).status_code == 503

            await eventually(not_ready, timeout=15)
            assert (await client.get("/readyz")).text.startswith(
                "not ready: database unreachable")
            assert (await client.get("/healthz")).status_code == 200
    finally:
        await ops.close()
        await asyncio.wait_for(connect.close_database(), 15)
        await admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
