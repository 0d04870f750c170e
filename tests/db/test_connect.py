"""Database set-up: SQLite pragmas, settings precedence, URL redaction."""

import pytest
from tortoise import Tortoise

from crypto_service.db import connect
from crypto_service.server.app import redact
from crypto_service.settings import Settings
from tests.conftest import BACKENDS


async def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    settings = Settings(database_url=f"sqlite://{tmp_path / 'p.db'}", sqlite_busy_timeout_ms=4321)
    async with connect.database(settings):
        conn = Tortoise.get_connection("default")
        assert (await conn.execute_query_dict("PRAGMA journal_mode"))[0]["journal_mode"] == "wal"
        assert (await conn.execute_query_dict("PRAGMA busy_timeout"))[0]["timeout"] == 4321


def test_flags_override_environment_which_overrides_defaults(monkeypatch):
    assert Settings().port == 50051 and Settings().database_url == "sqlite://./crypto.db"
    monkeypatch.setenv("CRYPTO_PORT", "6000")
    monkeypatch.setenv("CRYPTO_DATABASE_URL", "postgres://u:secret@db:5432/crypto")
    from_env = Settings()
    assert from_env.port == 6000
    assert from_env.with_overrides(port=7000, host=None).port == 7000
    assert from_env.with_overrides(port=7000).database_url == "postgres://u:secret@db:5432/crypto"


def test_logged_urls_hide_the_password():
    assert redact("postgres://u:secret@db:5432/crypto") == "postgres://u:***@db:5432/crypto"
    assert redact("sqlite://./crypto.db") == "sqlite://./crypto.db"


@pytest.mark.parametrize("settings", BACKENDS[1:], indirect=True)
@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "asyncpg"])
async def test_every_postgres_scheme_opens_the_pool_and_a_dedicated_connection(settings, scheme):
    url = settings.model_copy(update={
        "database_url": f"{scheme}://{settings.database_url.partition('://')[2]}"})
    name = settings.database_url.rpartition("/")[2]
    async with connect.database(url, require_migrated=True):
        conn = Tortoise.get_connection("default")
        assert (await conn.execute_query_dict("SELECT current_database() AS db"))[0]["db"] == name
    dedicated = await connect.connect_dedicated(url, "test")
    try:
        assert await dedicated.fetchval("SELECT current_database()") == name
        assert await dedicated.fetchval("SELECT current_setting('application_name')") == \
            "crypto-service test"
    finally:
        await connect.close_dedicated(dedicated)
