"""The Typer app and the helpers every command module shares.

Every failure the user sees is one line on stderr, `error: ...`: exit 2 for a command line
that does not parse (or a setting that does not validate), 1 for anything that went wrong
while running. Help is plain text, as `git` and `kubectl` print it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from collections.abc import Coroutine, Sequence
from contextlib import nullcontext
from typing import Annotated, Any, ContextManager, NoReturn, Optional, TypeVar

import typer
from typer.core import TyperCommand, TyperGroup

from ..db.internals import expect

# Typer vendors click; its exception classes are not exported. `BadParameter` is, and it is a
# `UsageError`, which is a `ClickException`: reach them through it, and check at import.
UsageError: Any = typer.BadParameter.__mro__[1]
ClickException: Any = typer.BadParameter.__mro__[2]
expect((UsageError.__name__, ClickException.__name__) == ("UsageError", "ClickException"),
       "typer", "BadParameter is no longer a UsageError(ClickException), which the CLI's "
       "one-line errors catch")

USAGE_EXIT = 2

# pydantic's wording, which Typer passes through for numbers, in a command line's words.
PLAIN_WORDS = [
    (re.compile(r"Input should be a valid integer.*"), "must be a whole number"),
    (re.compile(r"Input should be a valid number.*"), "must be a number"),
    (re.compile(r"Input should be "), "must be "),
    (re.compile(r"Value error, "), ""),
]


def plain(message: str) -> str:
    for pattern, words in PLAIN_WORDS:
        message = pattern.sub(words, message)
    return " ".join(message.split())  # one line, whatever the text held


class OneLineErrors(TyperGroup):
    """Usage errors as one line with a pointer to --help, instead of Usage + Try + Error."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             windows_expand_args: bool = True, **extra: Any) -> Any:
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False,
                                  windows_expand_args=windows_expand_args, **extra)
            code = result if isinstance(result, int) else 0
        except UsageError as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # `crypto` alone: its help
                typer.echo(exc.format_message())
                code = 0
            else:
                code = self._usage_error(exc)
        except ClickException as exc:
            code = _print_error(plain(exc.format_message()), getattr(exc, "exit_code", 1))
        except typer.Abort:
            code = _print_error("aborted", 1)
        if not standalone_mode:
            return code
        sys.exit(code)

    @staticmethod
    def _usage_error(exc: Any) -> int:
        ctx = getattr(exc, "ctx", None)
        where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        return _print_error(plain(exc.format_message()) + where, USAGE_EXIT)


class Command(TyperCommand):
    """Help shows an argument's metavar (FILE) without Typer's type label (`<path>`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.param_type_name == "argument" and param.metavar:
                setattr(param, "display_type", lambda ctx: "")


def _print_error(message: str, code: int) -> int:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return code


def show_version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"crypto-service {__version__}")
        raise typer.Exit()


app = typer.Typer(cls=OneLineErrors, name="crypto", help="crypto-service: gRPC market data and wallets.",
                  no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  add_completion=False)


@app.callback()
def crypto(version: Annotated[bool, typer.Option(
        "--version", callback=show_version, is_eager=True,
        help="Print the version and exit.")] = False) -> None:
    """crypto-service: gRPC market data and wallets."""


T = TypeVar("T")

DatabaseOption = Annotated[Optional[str], typer.Option(
    "--database-url", metavar="URL", envvar="CRYPTO_DATABASE_URL", show_default=False,
    help="Database URL [default: sqlite://./crypto.db].")]


def load_settings(**overrides: Any) -> Any:
    """The settings, with the flags given; a setting that does not validate is a usage
    error naming its variable."""
    from pydantic import ValidationError

    from ..settings import get_settings

    try:
        return get_settings().with_overrides(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "_".join(str(part) for part in first["loc"])
        _print_error(f"setting {name} (CRYPTO_{name.upper()}): {plain(first['msg'])}",
                     USAGE_EXIT)
        raise typer.Exit(USAGE_EXIT) from None


def fail(message: str) -> NoReturn:
    """One readable line on stderr and exit code 1."""
    _print_error(plain(message), 1)
    raise typer.Exit(1)


# Libraries that log at INFO what a command's user need not see (each HTTP request,
# the ORM's start and shutdown): their warnings and errors still show.
CHATTY_LOGGERS = ("httpx", "httpcore", "tortoise", "aiosqlite", "asyncio")


def quiet_library_logs() -> None:
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def progress(text: str) -> ContextManager[object]:
    """A transient status line on stderr while slow work runs (nothing when stderr is not a
    terminal, so pipes and logs stay clean)."""
    from rich.console import Console

    console = Console(stderr=True)
    return console.status(text) if console.is_terminal else nullcontext()


def run_on_database(main: Coroutine[Any, Any, T]) -> T:
    """Runs a command's coroutine; a database it cannot open (bad URL, unreachable, past the
    connect timeout) or that is not migrated is one error line and exit 1."""
    from ..db.connect import CannotOpenDatabase, DatabaseNotReady

    try:
        return asyncio.run(main)
    except (CannotOpenDatabase, DatabaseNotReady) as exc:
        fail(str(exc))
