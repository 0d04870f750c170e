"""Ledger and auth tools: audit, token."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

import typer

from .base import DatabaseOption, app, fail, load_settings, run_on_database

DURATION = re.compile(r"^(\d+)([smhd])$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@app.command()
def audit(database_url: DatabaseOption = None) -> None:
    """Check every balance against the ledger (exit 1 on a mismatch)."""
    from ..db import connect
    from ..domain.audit import audit as run_audit

    settings = load_settings(database_url=database_url)

    async def run():
        async with connect.database(settings, require_migrated=True):
            return await run_audit()

    report = run_on_database(run())
    typer.echo(f"{report.transactions} transactions, {report.entries} entries, "
               f"{report.wallets} wallets, {report.coins} coins")
    for problem in report.problems:
        typer.secho(f"MISMATCH {problem}", fg=typer.colors.RED, err=True)
    if not report.clean:
        raise typer.Exit(1)
    typer.echo("ledger is consistent: balances match, every coin sums to zero, none negative")


# The shortest HMAC keys RFC 7518 allows (the hash's size); PyJWT only warns below them.
MIN_SECRET_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}


def parse_ttl(text: str | timedelta) -> timedelta:
    if isinstance(text, timedelta):
        return text
    match = DURATION.match(text.strip())
    if not match or int(match[1]) == 0:
        raise typer.BadParameter(f"{text!r} is not a lifetime: use a number and a unit, "
                                 "e.g. 90s, 15m, 1h, 7d")
    return timedelta(seconds=int(match[1]) * UNIT_SECONDS[match[2]])


@app.command()
def token(
    user: Annotated[int, typer.Option("--user", metavar="ID", min=1,
                                      help="User id (the token's sub).")],
    admin: Annotated[bool, typer.Option("--admin", help="Add the admin scope.")] = False,
    ttl: Annotated[timedelta, typer.Option("--ttl", metavar="DURATION", parser=parse_ttl,
                                           help="Lifetime, e.g. 15m, 1h, 7d [default: 1h].",
                                           show_default=False)] = timedelta(hours=1),
) -> None:
    """Print a signed development token (needs CRYPTO_JWT_SECRET)."""
    from ..auth import Authenticator

    settings = load_settings()
    if not settings.jwt_secret:
        fail("set CRYPTO_JWT_SECRET to sign tokens")
    needed = MIN_SECRET_BYTES.get(settings.jwt_algorithm.upper(), 0)
    if len(settings.jwt_secret.encode()) < needed:
        fail(f"CRYPTO_JWT_SECRET is {len(settings.jwt_secret.encode())} bytes; "
             f"{settings.jwt_algorithm} needs at least {needed} (try: openssl rand -hex 32)")
    authenticator = Authenticator.from_settings(settings)
    typer.echo(authenticator.issue(user, admin=admin, ttl=ttl))
