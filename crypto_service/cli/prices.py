"""Price updates from CoinGecko data: `crypto prices import FILE`, `crypto prices sync`."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Annotated, Optional

import typer

from .base import (
    Command,
    DatabaseOption,
    app,
    fail,
    load_settings,
    progress,
    quiet_library_logs,
    run_on_database,
)

prices = typer.Typer(help="Update coin prices from CoinGecko /coins/markets data.",
                     no_args_is_help=True)
app.add_typer(prices, name="prices")

DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")
UNIT_SECONDS = {None: 1, "s": 1, "m": 60, "h": 3600}


def parse_duration(text: str) -> float:
    """`60`, `60s`, `5m`, `1h` as seconds."""
    match = DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise typer.BadParameter(f"expected a duration like 60s, 5m or 1h, got {text!r}")
    return float(match.group(1)) * UNIT_SECONDS[match.group(2)]


def _summary(result) -> str:
    unknown = (f"; {len(result.unknown)} unknown symbols skipped: {', '.join(result.unknown)}"
               if result.unknown else "")
    return f"{len(result.updated)} updated, {result.unchanged} unchanged{unknown}"


@prices.command("import", cls=Command)
def import_(file: Annotated[Path, typer.Argument(metavar="FILE",
                                                 help="A /coins/markets JSON export.")],
            database_url: DatabaseOption = None) -> None:
    """Apply an export's prices to known coins, all or nothing.

    Symbols not in the database are skipped and listed (`crypto seed --file` adds coins)."""
    from ..db import connect
    from ..domain.errors import DomainError
    from ..domain.prices.coingecko_feed import import_file

    settings = load_settings(database_url=database_url)

    async def run():
        async with connect.database(settings, require_migrated=True):
            return await import_file(file)

    quiet_library_logs()
    try:
        with progress(f"applying {file}…"):
            result = run_on_database(run())
        typer.echo(_summary(result))
    except DomainError as exc:
        fail(f"{file}: {exc}")


@prices.command()
def sync(
    url: Annotated[Optional[str], typer.Option(
        metavar="URL", envvar="CRYPTO_COINGECKO_URL", show_default=False,
        help="CoinGecko-compatible API base URL [default: the public API].")] = None,
    every: Annotated[str, typer.Option(metavar="DURATION",
                                       help="Time between polls: 60s, 5m, 1h.")] = "60s",
    once: Annotated[bool, typer.Option("--once", help="Poll once and exit.")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Poll /coins/markets and apply each good answer.

    Bad or slow answers are retried, then logged and skipped."""
    import httpx

    from ..db import connect
    from ..domain.errors import DomainError
    from ..domain.prices.coingecko_feed import TIMEOUT, sync_forever, sync_once

    settings = load_settings(database_url=database_url)
    base_url = url or settings.coingecko_url
    interval = parse_duration(every)
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet_library_logs()

    async def run_once():
        async with (connect.database(settings, require_migrated=True),
                    httpx.AsyncClient(timeout=TIMEOUT) as client):
            return await sync_once(client, base_url)

    async def run_forever():
        async with connect.database(settings, require_migrated=True):
            await sync_forever(base_url, interval)

    try:
        if once:
            with progress(f"fetching {base_url}…"):
                result = run_on_database(run_once())
            typer.echo(_summary(result))
        else:
            run_on_database(run_forever())
    except (DomainError, httpx.HTTPError) as exc:
        fail(f"{base_url}: {exc}")
    except KeyboardInterrupt:
        pass
