"""`crypto serve --workers N`: N server processes on one port.

Python runs one thread of bytecode at a time, so a second core takes a second process. Each
worker is a whole server (its own event loop, database pool, catalog, price hub and relay)
listening with SO_REUSEPORT, and the kernel spreads new connections among them. The parent
migrates once (workers racing to migrate would collide), starts the workers, forwards SIGINT
and SIGTERM to them and waits: each drains as a single server does. SIGHUP is forwarded too,
once the parent has checked that the TLS files load, so a bad file is one error line from
the parent rather than one per worker.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import tempfile
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client.multiprocess import mark_process_dead

from ..settings import Settings
from ..telemetry.logs import configure_logging
from ..telemetry.metrics import MULTIPROCESS_DIR_ENV
from .app import check_settings, migrate_or_refuse, serve
from .tls import TLSFiles, reloaded_context, server_context

log = logging.getLogger("crypto_service.server")


class PortRequired(RuntimeError):
    pass


def run_loop(main: Coroutine[Any, Any, None], event_loop: str) -> None:
    """Runs `main` on uvloop when asked, or when `auto` and uvloop is installed (it is an
    optional extra, `pip install crypto-service[uvloop]`); on asyncio's own loop otherwise."""
    if event_loop != "asyncio":
        try:
            import uvloop
        except ImportError:
            if event_loop == "uvloop":
                main.close()
                raise
        else:
            uvloop.run(main)
            return
    asyncio.run(main)


def _worker(settings: Settings) -> None:
    # Its own process group: a terminal's Ctrl-C reaches the parent only, which forwards it
    # once, instead of every worker getting it twice.
    os.setpgrp()
    configure_logging(settings.log_level, settings.log_format)
    run_loop(serve(settings, reuse_port=True), settings.event_loop)


# Memory, not disk: every count is a write into a memory-mapped file there, and on a disk the
# kernel's writeback of those pages can hold the writer (the serving loop) up.
SHARED_MEMORY = "/dev/shm"


@contextmanager
def shared_metrics(enabled: bool) -> Iterator[str | None]:
    """With metrics on, a fresh directory for prometheus-client's multiprocess mode, named in
    the environment the workers inherit (it must be set before they import the library) and
    removed at the end: counts from an earlier run must not add to this one's."""
    if not enabled:
        yield None
        return
    in_memory = os.path.isdir(SHARED_MEMORY) and os.access(SHARED_MEMORY, os.W_OK)
    directory = tempfile.mkdtemp(prefix="crypto-metrics-",
                                 dir=SHARED_MEMORY if in_memory else None)
    previous = os.environ.get(MULTIPROCESS_DIR_ENV)
    os.environ[MULTIPROCESS_DIR_ENV] = directory
    try:
        yield directory
    finally:
        if previous is None:
            del os.environ[MULTIPROCESS_DIR_ENV]
        else:
            os.environ[MULTIPROCESS_DIR_ENV] = previous
        shutil.rmtree(directory, ignore_errors=True)


def serve_workers(settings: Settings, workers: int) -> int:
    """Starts `workers` processes on the configured port and returns once all have stopped:
    0 when every one stopped cleanly, 1 otherwise. One failing stops the others."""
    if settings.port == 0:
        raise PortRequired("--workers needs a fixed port: with port 0 each would get its own")
    if settings.metrics_port == 0:
        raise PortRequired("--workers needs a fixed --metrics-port: with port 0 each would "
                           "get its own")
    check_settings(settings)
    tls = TLSFiles.from_settings(settings)
    if tls is not None:
        server_context(tls)  # refuse bad files before starting anything
    asyncio.run(migrate_or_refuse(settings))
    # spawn, not fork: a child gets no copy of the parent's loop, connections or threads.
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_worker, args=(settings,),
                                 name=f"crypto-worker-{index}")
                 for index in range(1, workers + 1)]

    def forward(signum: int, _frame: Any = None) -> None:
        for process in processes:
            if process.pid is not None and process.exitcode is None:
                os.kill(process.pid, signum)

    def forward_reload(signum: int, _frame: Any = None) -> None:
        if tls is None or reloaded_context(tls) is not None:
            forward(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    # Ignored while the workers start, and inherited so: until a worker's serve() has its own
    # handler, a SIGHUP (the default action ends the process) must not end it.
    previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with shared_metrics(settings.metrics_port is not None) as metrics_dir:
            for process in processes:
                process.start()
            signal.signal(signal.SIGHUP, forward_reload)
            log.info("started %d workers on port %d: pids %s", workers, settings.port,
                     " ".join(str(p.pid) for p in processes))
            running = {p.sentinel: p for p in processes}
            while running:
                for sentinel in multiprocessing.connection.wait(list(running)):
                    stopped = running.pop(sentinel)
                    stopped.join()
                    if metrics_dir is not None:  # its streams and pool leave the gauges
                        mark_process_dead(stopped.pid, metrics_dir)
                    if stopped.exitcode != 0:
                        log.error("worker %d exited with %s: stopping the others",
                                  stopped.pid, stopped.exitcode)
                        forward(signal.SIGTERM)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if all(p.exitcode == 0 for p in processes) else 1
