"""Every knob of the service: command-line flags > `CRYPTO_*` environment > defaults."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from pydantic import Field, ValidationError
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
    # HTTP/2 limits per connection (server/http2.py; docs/API.md states each and its status).
    # Streams: StreamPrices subscribers are multiplexed, so far more than h2's 100.
    http2_max_concurrent_streams: int = Field(default=10_000, ge=1, le=2**31 - 1)
    # Request metadata (the decoded header list) over this: RESOURCE_EXHAUSTED on the stream.
    http2_max_header_list_bytes: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024)
    # Rapid reset (CVE-2023-44487): more client resets than this in the window: GOAWAY.
    http2_max_resets: int = Field(default=1000, ge=1)
    http2_reset_window_seconds: float = Field(default=10.0, gt=0)
    # No client preface (and SETTINGS) within this: closed.
    http2_handshake_timeout_seconds: float = Field(default=5.0, gt=0)
    # No stream open for this long: GOAWAY and closed.
    http2_idle_timeout_seconds: float = Field(default=300.0, gt=0)
    # gRPC's keepalive enforcement: client pings closer together than this (2 hours when no
    # stream is open, unless permitted) are strikes; the third strike: GOAWAY too_many_pings.
    keepalive_min_ping_interval_seconds: float = Field(default=300.0, ge=0)
    keepalive_permit_without_calls: bool = False
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

    # Live prices (domain/prices): the simulator, cross-process relay, stream limits, sync.
    simulate: bool = True
    simulate_interval_seconds: float = Field(default=1.0, gt=0)
    price_poll_seconds: float = Field(default=1.0, gt=0)
    max_price_streams: int = Field(default=20_000, ge=1)
    stream_stuck_seconds: float = Field(default=30.0, gt=0)
    coingecko_url: str = "https://api.coingecko.com/api/v3"

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the flags a user gave (None means the flag was not given), validated
        like the environment is."""
        given = {k: v for k, v in overrides.items() if v is not None}
        if not given:
            return self
        return type(self).model_validate({**self.model_dump(), **given})


class InvalidSettings(ValueError):
    """Settings out of range, as one line naming each setting, its variable and its value."""

    @classmethod
    def from_error(cls, error: ValidationError) -> InvalidSettings:
        problems = []
        for item in error.errors():
            name = ".".join(str(part) for part in item["loc"])
            problems.append(f"{name} (CRYPTO_{name.upper()}) = {item.get('input')!r}: "
                            f"{item['msg'].lower()}")
        return cls("invalid settings: " + "; ".join(problems))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise InvalidSettings.from_error(exc) from None
