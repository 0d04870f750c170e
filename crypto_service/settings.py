"""Every knob of the service: command-line flags > `CRYPTO_*` environment > defaults."""

from __future__ import annotations

import enum
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class AuthMode(enum.StrEnum):
    """`CRYPTO_REQUIRE_AUTH`: whether wallet RPCs need a bearer token."""

    AUTO = "auto"  # a token from every peer but a loopback one (like Redis's protected mode)
    REQUIRED = "true"
    OFF = "false"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRYPTO_", extra="ignore")

    database_url: str = "sqlite://./crypto.db"
    db_pool_size: int = Field(default=10, ge=1, le=1000)
    sqlite_busy_timeout_ms: int = Field(default=5000, ge=0)
    # How long a PostgreSQL statement waits for a row lock another session holds before the
    # ledger counts it as a lost race (retried, then UNAVAILABLE); 0 waits for ever.
    postgres_lock_timeout_ms: int = Field(default=5000, ge=0)
    # Bounds every connect (the pool's, LISTEN's, the writer lock's): an unreachable database
    # is an error after this long, never a hang.
    database_connect_timeout_seconds: float = Field(default=10.0, gt=0)
    # The most Deposit/Withdraw/Transfer requests one database transaction posts together
    # (domain/group_commit.py); 1 posts each request alone.
    ledger_batch_max: int = Field(default=100, ge=1, le=1000)

    host: str = "[::]"
    port: int = Field(default=50051, ge=0, le=65535)
    grace_period_seconds: float = Field(default=10.0, ge=0)
    max_message_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    # Connections one server process holds open, TLS handshakes included; one more gets a
    # GOAWAY and is closed (server/connection_cap.py). Each needs a file descriptor.
    max_connections: int = Field(default=10_000, ge=1, le=1_000_000)
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

    # TLS: a certificate and key turn it on; a client CA also requires client certificates.
    # Re-read on SIGHUP (server/tls.py).
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None

    require_auth: AuthMode = AuthMode.AUTO
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

    @field_validator("require_auth", mode="before")
    @classmethod
    def _auth_mode(cls, value: Any) -> Any:
        """Booleans and their usual spellings (`1`, `yes`, `on`, ...) as `true` or `false`,
        so a boolean setting written before `auto` existed keeps its meaning."""
        if isinstance(value, bool):
            return AuthMode.REQUIRED if value else AuthMode.OFF
        if isinstance(value, str):
            word = value.strip().lower()
            if word in ("1", "yes", "on", "true"):
                return AuthMode.REQUIRED
            if word in ("0", "no", "off", "false"):
                return AuthMode.OFF
            return word
        return value

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with the flags a user gave (None means the flag was not given), validated
        as the environment is."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return self.model_validate({**self.model_dump(), **given}) if given else self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
