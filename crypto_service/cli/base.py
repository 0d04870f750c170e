"""The Typer app and the helpers every command module shares."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

app = typer.Typer(help="crypto-service: gRPC market data and wallets.", no_args_is_help=True,
                  pretty_exceptions_enable=False)

DatabaseOption = Annotated[Optional[str], typer.Option(
    "--database-url", help="Database URL (env CRYPTO_DATABASE_URL).", show_default=False)]


def load_settings(**overrides):
    from ..settings import get_settings

    return get_settings().with_overrides(**overrides)


def fail(message: str) -> None:
    """One readable line on stderr and exit code 1."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)
