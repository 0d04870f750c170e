"""The Typer app and the helpers every command module shares."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Annotated, Any, NoReturn, Optional, TypeVar

import typer

app = typer.Typer(help="crypto-service: gRPC market data and wallets.", no_args_is_help=True,
                  pretty_exceptions_enable=False)

T = TypeVar("T")

DatabaseOption = Annotated[Optional[str], typer.Option(
    "--database-url", help="Database URL (env CRYPTO_DATABASE_URL).", show_default=False)]


def load_settings(**overrides):
    from ..settings import get_settings

    return get_settings().with_overrides(**overrides)


def fail(message: str) -> NoReturn:
    """One readable line on stderr and exit code 1."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def run_on_database(main: Coroutine[Any, Any, T]) -> T:
    """Runs a command's coroutine; a database it cannot open (bad URL, unreachable, past the
    connect timeout) or that is not migrated is one error line and exit 1."""
    from ..db.connect import CannotOpenDatabase, DatabaseNotReady

    try:
        return asyncio.run(main)
    except (CannotOpenDatabase, DatabaseNotReady) as exc:
        fail(str(exc))
