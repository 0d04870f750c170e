"""Every knob of the service: command-line flags > `CRYPTO_*` environment > defaults."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRYPTO_", extra="ignore")

    database_url: str = "sqlite://./crypto.db"
    db_pool_size: int = Field(default=10, ge=1, le=1000)
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)

    host: str = "[::]"
    port: int = Field(default=50051, ge=0, le=65535)
    grace_period_seconds: float = Field(default=10.0, ge=0)
    max_message_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    auto_migrate: bool = True
    # Server processes on the port (`crypto serve --workers`); each has its own loop and pool.
    workers: int = Field(default=1, ge=1, le=64)
    # "auto": uvloop when installed (the `uvloop` extra), else asyncio's loop.
    event_loop: Literal["auto", "asyncio", "uvloop"] = "auto"

    require_auth: bool = False
    jwt_secret: str | None = None
    jwt_algorithm: str = "HS256"
    jwt_issuer: str | None = None
    jwt_audience: str | None = None

    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    # The operations port: Prometheus /metrics, /healthz, /readyz (none when unset); its host
    # is the serving host unless given.
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_host: str | None = None

    # Live prices (domain/prices): the simulator, cross-process relay, stream limits, sync.
    simulate: bool = True
    simulate_interval_seconds: float = Field(default=1.0, gt=0)
    price_poll_seconds: float = Field(default=1.0, gt=0)
    max_price_streams: int = Field(default=20_000, ge=1)
    stream_stuck_seconds: float = Field(default=30.0, gt=0)
    coingecko_url: str = "https://api.coingecko.com/api/v3"

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the flags a user gave (None means the flag was not given)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return self.model_copy(update=given) if given else self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
