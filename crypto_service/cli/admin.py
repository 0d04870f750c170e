"""Running the service: serve, migrate, seed, gen."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Optional

import typer

from .base import DatabaseOption, app, fail, load_settings


@app.command()
def gen() -> None:
    """Generate crypto_service/generated/ from proto/."""
    from ..codegen import CodegenError, DEFAULT_OUT_DIR, generate

    try:
        files = generate()
    except CodegenError as exc:
        fail(str(exc))
    typer.echo(f"generated {len(files)} files in {DEFAULT_OUT_DIR}")


@app.command()
def migrate(database_url: DatabaseOption = None) -> None:
    """Apply the database migrations that are not applied yet."""
    from ..db import connect

    settings = load_settings(database_url=database_url)

    async def run() -> list[str]:
        pending = await connect.pending_migrations(settings)
        if pending:
            await connect.apply_migrations(settings)
        return pending

    applied = asyncio.run(run())
    typer.echo(f"applied {', '.join(applied)}" if applied else "database is up to date")


@app.command()
def seed(
    file: Annotated[Optional[Path], typer.Option(
        "--file", help="A CoinGecko /coins/markets JSON export (default: the bundled one).",
        show_default=False)] = None,
    if_empty: Annotated[bool, typer.Option(
        "--if-empty", help="Only when the database has no coins yet.")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Load coins, upserting by symbol: loading the same data twice changes nothing."""
    from ..db import connect
    from ..db.models import Coin
    from ..domain.coingecko import load_snapshot, upsert_coins
    from ..domain.errors import DomainError

    settings = load_settings(database_url=database_url)

    async def run() -> str:
        snapshot = load_snapshot(file)
        async with connect.database(settings):
            if if_empty and await Coin.exists():
                return "database already has coins: nothing loaded"
            result = await upsert_coins(snapshot.coins)
        as_of = f" (as of {snapshot.as_of})" if snapshot.as_of else ""
        return (f"{len(snapshot.coins)} coins{as_of}: {result.created} created, "
                f"{result.updated} updated, {result.unchanged} unchanged")

    try:
        typer.echo(asyncio.run(run()))
    except DomainError as exc:
        fail(f"{file or 'bundled data'}: {exc}")


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="Address to listen on [default: [::]].",
                                                 show_default=False)] = None,
    port: Annotated[Optional[int], typer.Option(help="Port [default: 50051].",
                                                 show_default=False)] = None,
    database_url: DatabaseOption = None,
    simulate: Annotated[Optional[bool], typer.Option(
        "--simulate/--no-simulate", help="Run the market simulator (one writer per database) "
        "[default: on].", show_default=False)] = None,
    workers: Annotated[Optional[int], typer.Option(
        min=1, max=64, help="Server processes sharing the port (SO_REUSEPORT), each with its "
        "own event loop and database pool [default: 1].", show_default=False)] = None,
    metrics_port: Annotated[Optional[int], typer.Option(
        min=0, max=65535, help="Serve Prometheus /metrics, /healthz and /readyz over HTTP on "
        "this port [default: none].", show_default=False)] = None,
    metrics_host: Annotated[Optional[str], typer.Option(
        help="Address of the metrics port [default: the --host].", show_default=False)] = None,
) -> None:
    """Serve crypto.CryptoService with reflection and grpc.health.v1 until SIGINT/SIGTERM."""
    from ..server.app import DatabaseNotReady, UnsafeSettings, serve as run_server
    from ..server.ops_http import MetricsPortUnavailable
    from ..server.workers import PortRequired, run_loop, serve_workers
    from ..telemetry.logs import configure_logging
    from ..telemetry.tracing import TracingUnavailable

    settings = load_settings(host=host, port=port, database_url=database_url, simulate=simulate,
                             workers=workers, metrics_port=metrics_port,
                             metrics_host=metrics_host)
    configure_logging(settings.log_level, settings.log_format)
    try:
        if settings.workers == 1:
            run_loop(run_server(settings), settings.event_loop)
        elif serve_workers(settings, settings.workers) != 0:
            raise typer.Exit(1)
    except (DatabaseNotReady, UnsafeSettings, PortRequired, MetricsPortUnavailable,
            TracingUnavailable) as exc:
        fail(str(exc))
    except ImportError as exc:
        fail(f"CRYPTO_EVENT_LOOP=uvloop but {exc}: pip install 'crypto-service[uvloop]'")
    except OSError as exc:
        fail(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}")
