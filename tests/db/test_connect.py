"""Database set-up: SQLite pragmas, settings precedence, URL redaction."""

from tortoise import Tortoise

from crypto_service.db import connect
from crypto_service.server.app import redact
from crypto_service.settings import Settings


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
