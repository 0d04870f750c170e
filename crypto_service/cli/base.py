"""The Typer app and the helpers every command module shares."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

app = typer.Typer(help="crypto-service: gRPC market data and wallets.", no_args_is_help=True,
                  pretty_exceptions_enable=False)

DatabaseOption = Annotated[Optional[str], typer.Option(
    "--database-url", help="Database URL (env CRYPTO_DATABASE_URL).", show_default=False)]


def load_settings(**overrides):
    """The settings with the command's flags, or one error line naming what is out of range."""
    from pydantic import ValidationError

    from ..settings import InvalidSettings, get_settings

    try:
        return get_settings().with_overrides(**overrides)
    except InvalidSettings as exc:
        fail(str(exc))
    except ValidationError as exc:
        fail(str(InvalidSettings.from_error(exc)))


def fail(message: str) -> None:
    """One readable line on stderr and exit code 1."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)
