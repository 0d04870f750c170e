"""Running the service: serve, migrate, seed, gen."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .base import (
    DatabaseOption,
    app,
    fail,
    load_settings,
    progress,
    quiet_library_logs,
    run_on_database,
)


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

    applied = run_on_database(run())
    typer.echo(f"applied {', '.join(applied)}" if applied else "database is up to date")


@app.command()
def seed(
    file: Annotated[Optional[Path], typer.Option(
        "--file", metavar="PATH", show_default=False,
        help="A CoinGecko /coins/markets JSON export [default: the bundled coins].")] = None,
    if_empty: Annotated[bool, typer.Option(
        "--if-empty", help="Only when the database has no coins yet.")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Load coins (the bundled ones, or a CoinGecko export).

    Upserts by symbol: loading the same data twice changes nothing."""
    from ..db import connect
    from ..db.models import Coin
    from ..domain.coingecko import load_snapshot, upsert_coins
    from ..domain.errors import DomainError

    settings = load_settings(database_url=database_url)

    async def run() -> str:
        snapshot = load_snapshot(file)
        async with connect.database(settings, require_migrated=True):
            if if_empty and await Coin.exists():
                return "database already has coins: nothing loaded"
            with progress(f"loading {len(snapshot.coins)} coins…"):
                result = await upsert_coins(snapshot.coins)
        as_of = f" (as of {snapshot.as_of})" if snapshot.as_of else ""
        return (f"{len(snapshot.coins)} coins{as_of}: {result.created} created, "
                f"{result.updated} updated, {result.unchanged} unchanged")

    quiet_library_logs()
    try:
        typer.echo(run_on_database(run()))
    except DomainError as exc:
        fail(f"{file or 'bundled data'}: {exc}")


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(
        metavar="HOST", show_default=False,
        help="Address to listen on [default: [::], every interface].")] = None,
    port: Annotated[Optional[int], typer.Option(
        metavar="PORT", show_default=False, help="Port to listen on [default: 50051].")] = None,
    database_url: DatabaseOption = None,
    simulate: Annotated[Optional[bool], typer.Option(
        "--simulate/--no-simulate", show_default=False,
        help="Run the market simulator, one writer per database [default: on].")] = None,
    workers: Annotated[Optional[int], typer.Option(
        metavar="N", min=1, max=64, show_default=False,
        help="Server processes sharing the port (SO_REUSEPORT), each with its own event "
        "loop and database pool [default: 1].")] = None,
    tls_cert: Annotated[Optional[Path], typer.Option(
        metavar="PATH", show_default=False,
        help="Serve TLS with this PEM certificate chain (needs --tls-key); re-read on "
        "SIGHUP.")] = None,
    tls_key: Annotated[Optional[Path], typer.Option(
        metavar="PATH", show_default=False,
        help="The certificate's unencrypted PEM private key.")] = None,
    tls_client_ca: Annotated[Optional[Path], typer.Option(
        metavar="PATH", show_default=False,
        help="Require client certificates signed by this PEM CA (mTLS).")] = None,
    metrics_port: Annotated[Optional[int], typer.Option(
        metavar="PORT", min=0, max=65535, show_default=False,
        help="Serve Prometheus /metrics, /healthz and /readyz over HTTP on this port "
        "[default: none].")] = None,
    metrics_host: Annotated[Optional[str], typer.Option(
        metavar="HOST", show_default=False,
        help="Address of the metrics port [default: the --host].")] = None,
) -> None:
    """Serve the API until SIGINT or SIGTERM.

    Serves crypto.CryptoService with reflection and grpc.health.v1; SIGHUP re-reads the TLS
    files."""
    from ..db.connect import CannotOpenDatabase, DatabaseNotReady
    from ..server.app import UnsafeSettings, serve as run_server
    from ..server.ops_http import MetricsPortUnavailable
    from ..server.tls import TLSConfigError
    from ..server.workers import PortRequired, run_loop, serve_workers
    from ..telemetry.logs import configure_logging
    from ..telemetry.tracing import TracingUnavailable

    settings = load_settings(host=host, port=port, database_url=database_url, simulate=simulate,
                             workers=workers, tls_cert=tls_cert, tls_key=tls_key,
                             tls_client_ca=tls_client_ca, metrics_port=metrics_port,
                             metrics_host=metrics_host)
    configure_logging(settings.log_level, settings.log_format)
    try:
        if settings.workers == 1:
            run_loop(run_server(settings), settings.event_loop)
        elif serve_workers(settings, settings.workers) != 0:
            raise typer.Exit(1)
    except (CannotOpenDatabase, DatabaseNotReady, UnsafeSettings, PortRequired,
            TLSConfigError, MetricsPortUnavailable, TracingUnavailable) as exc:
        fail(str(exc))
    except ImportError as exc:
        fail(f"CRYPTO_EVENT_LOOP=uvloop but {exc}: pip install 'crypto-service[uvloop]'")
    except OSError as exc:
        fail(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}")
