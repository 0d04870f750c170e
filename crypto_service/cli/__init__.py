"""The `crypto` command. Each module here adds one group of commands to `app`; imports
inside commands stay lazy, since `crypto gen` must run before the generated package exists."""

from __future__ import annotations

from .base import app
from . import client_commands  # noqa: F401  (registers coin, coins, ..., wallet, transfer)
from . import admin  # noqa: F401  (registers serve, migrate, seed, gen)
from . import ledger  # noqa: F401  (registers audit, token)
from . import prices  # noqa: F401  (registers prices import|sync)


def main() -> None:
    app()
