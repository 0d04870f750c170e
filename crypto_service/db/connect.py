"""Opening and closing the database, and applying migrations."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.api import migrate as tortoise_migrate

from ..settings import Settings

MODELS_MODULE = "crypto_service.db.models"
MIGRATIONS_PACKAGE = "crypto_service.db.migrations"
APPLICATION_NAME = "crypto-service"


def is_sqlite(database_url: str) -> bool:
    return database_url.startswith("sqlite:")


def tortoise_config(settings: Settings) -> dict[str, Any]:
    connection = expand_db_url(settings.database_url)
    credentials = connection["credentials"]
    if is_sqlite(settings.database_url):
        connection["engine"] = "crypto_service.db.sqlite_engine"
        credentials.setdefault("journal_mode", "WAL")
        credentials.setdefault("busy_timeout", settings.sqlite_busy_timeout_ms)
        credentials.setdefault("synchronous", "NORMAL")
    else:
        connection["engine"] = "crypto_service.db.asyncpg_engine"
        credentials.setdefault("minsize", 1)
        credentials.setdefault("maxsize", settings.db_pool_size)
        # Operators find the service's sessions in pg_stat_activity by this name.
        credentials.setdefault("application_name", APPLICATION_NAME)
        server_settings = credentials.setdefault("server_settings", {})
        server_settings.setdefault("lock_timeout", f"{settings.postgres_lock_timeout_ms}ms")
    return {
        "connections": {"default": connection},
        "apps": {
            "models": {
                "models": [MODELS_MODULE],
                "default_connection": "default",
                "migrations": MIGRATIONS_PACKAGE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def pending_migrations(settings: Settings) -> list[str]:
    """Names of the migrations not yet applied to the database."""
    names: list[str] = []

    def collect(_connection: str, steps: list, _fake: bool, _dry_run: bool) -> None:
        names.extend(f"{step.migration.app_label}.{step.migration.name}" for step in steps
                     if not step.backward)

    try:
        await tortoise_migrate(config=tortoise_config(settings), reporter=collect, dry_run=True)
    finally:
        await close_database()
    return names


async def apply_migrations(settings: Settings) -> None:
    try:
        await tortoise_migrate(config=tortoise_config(settings))
    finally:
        await close_database()


async def open_database(settings: Settings) -> None:
    await Tortoise.init(config=tortoise_config(settings))


async def close_database() -> None:
    await Tortoise.close_connections()


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[None]:
    await open_database(settings)
    try:
        yield
    finally:
        await close_database()
