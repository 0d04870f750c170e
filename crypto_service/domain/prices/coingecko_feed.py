"""Prices from CoinGecko's `/coins/markets`: a file (`crypto prices import`) or a polled
endpoint (`crypto prices sync`). Rows are parsed by `domain.coingecko`, checked whole, and
written in one transaction: a bad or slow answer is skipped, never half-applied."""

from __future__ import annotations

import asyncio
import logging
from json import JSONDecodeError
from pathlib import Path

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from ..coingecko import Snapshot, load_snapshot, parse_snapshot
from ..errors import InvalidArgument
from .store import WriteResult, price_fields, write_prices

log = logging.getLogger("crypto_service.prices")

MARKETS_PATH = "/coins/markets"
MARKETS_QUERY = {"vs_currency": "usd", "order": "market_cap_desc", "per_page": "250",
                 "page": "1", "price_change_percentage": "24h,7d,30d"}
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


async def apply_snapshot(snapshot: Snapshot) -> WriteResult:
    return await write_prices({c.symbol: price_fields(c) for c in snapshot.coins})


async def import_file(path: Path) -> WriteResult:
    return await apply_snapshot(load_snapshot(path))


def _transient(error: BaseException) -> bool:
    if isinstance(error, httpx.HTTPStatusError):
        return error.response.status_code == 429 or error.response.status_code >= 500
    return isinstance(error, httpx.TransportError)


async def fetch_snapshot(client: httpx.AsyncClient, base_url: str, *, attempts: int = 3,
                         backoff_seconds: float = 1.0) -> Snapshot:
    """One `/coins/markets` page, retrying timeouts, connection errors, 429 and 5xx with
    exponential backoff; anything else fails at once."""
    url = base_url.rstrip("/") + MARKETS_PATH
    async for attempt in AsyncRetrying(
            stop=stop_after_attempt(attempts), reraise=True,
            wait=wait_exponential(multiplier=backoff_seconds, max=30 * backoff_seconds),
            retry=retry_if_exception(_transient), before_sleep=_say_retrying):
        with attempt:
            response = await client.get(url, params=MARKETS_QUERY)
            response.raise_for_status()
    try:
        return parse_snapshot(response.json())
    except JSONDecodeError as exc:
        raise InvalidArgument(f"not valid JSON: {exc}") from None


def _say_retrying(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    said = str(error).splitlines()[0] if error and str(error) else type(error).__name__
    log.warning("CoinGecko: %s; retrying in %.0f s (attempt %d)", said, state.upcoming_sleep,
                state.attempt_number + 1)


async def sync_once(client: httpx.AsyncClient, base_url: str, **retry: float) -> WriteResult:
    return await apply_snapshot(await fetch_snapshot(client, base_url, **retry))


async def sync_forever(base_url: str, every_seconds: float, **retry: float) -> None:
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        while True:
            try:
                result = await sync_once(client, base_url, **retry)
                log.info("synced: %d updated, %d unchanged, %d unknown symbols skipped",
                         len(result.updated), result.unchanged, len(result.unknown))
            except (httpx.HTTPError, InvalidArgument) as exc:
                log.warning("sync skipped: %s", exc or type(exc).__name__)
            await asyncio.sleep(every_seconds)
