"""The operations port (`--metrics-port`): Prometheus metrics and HTTP health over HTTP/1.1.

- `GET /metrics`: the Prometheus text format (OpenMetrics when the scraper asks for it).
- `GET /healthz`: 200 while the process runs and its event loop answers (a liveness probe).
- `GET /readyz`: 200 while it serves and its database answers; 503 with the reason while it
  drains or when the database does not answer (a readiness probe, a load balancer's check).

It runs on the event loop that serves gRPC, so a wedged loop fails the probes too. HTTP/1.1
is parsed by h11; connections are kept alive between scrapes and closed when idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from http import HTTPStatus

import h11

from ..db import health as db_health
from ..telemetry.metrics import Metrics
from .guard import CallGuard

log = logging.getLogger("crypto_service.server")

IDLE_SECONDS = 300.0  # longer than any sane scrape interval
SAMPLE_SECONDS = 1.0
READ_SIZE = 65536

Response = tuple[int, bytes, str]
TEXT = "text/plain; charset=utf-8"


class MetricsPortUnavailable(RuntimeError):
    pass


class OpsEndpoint:
    def __init__(self, metrics: Metrics, guard: CallGuard, pool_size: int) -> None:
        self.metrics = metrics
        self.guard = guard
        self.pool_size = pool_size
        self._server: asyncio.Server | None = None
        self._sampler: asyncio.Task | None = None
        self._connections: set[asyncio.Task] = set()

    async def start(self, host: str | None, port: int, *, reuse_port: bool = False) -> None:
        self._server = await asyncio.start_server(self._serve, host, port, reuse_address=True,
                                                  reuse_port=reuse_port or None)
        self._sampler = asyncio.create_task(self._sample_forever())

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._server is not None:
            await self._server.wait_closed()

    async def not_ready(self) -> str | None:
        """Why a load balancer should not send calls here now; None when it may."""
        if self.guard.draining:
            return "draining"
        return await db_health.unreachable_reason()

    async def _sample_forever(self) -> None:
        """The sampled gauges, refreshed once a second."""
        while True:
            try:
                in_use, most = db_health.pool_usage(self.pool_size)
                self.metrics.db_pool_in_use.set(in_use)
                self.metrics.db_pool_max.set(most)
            except Exception:  # a sample is worth a line, never the endpoint
                log.exception("sampling the database pool failed")
            await asyncio.sleep(SAMPLE_SECONDS)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        connection = h11.Connection(h11.SERVER)
        try:
            while True:
                event = connection.next_event()
                if event is h11.NEED_DATA:
                    async with asyncio.timeout(IDLE_SECONDS):
                        connection.receive_data(await reader.read(READ_SIZE))
                elif isinstance(event, h11.Request):
                    status, body, content_type = await self._respond(event)
                    headers = [("content-type", content_type),
                               ("content-length", str(len(body))),
                               ("cache-control", "no-store")]
                    writer.write(connection.send(h11.Response(
                        status_code=status, headers=headers,
                        reason=HTTPStatus(status).phrase.encode())))
                    if event.method != b"HEAD":
                        writer.write(connection.send(h11.Data(data=body)))
                    writer.write(connection.send(h11.EndOfMessage()))
                    await writer.drain()
                elif (event is h11.PAUSED and connection.our_state is h11.DONE
                      and connection.their_state is h11.DONE):
                    connection.start_next_cycle()
                elif event is h11.PAUSED or isinstance(event, h11.ConnectionClosed):
                    break
        except h11.RemoteProtocolError as exc:
            with contextlib.suppress(h11.LocalProtocolError):
                body = f"bad request: {exc}\n".encode()
                writer.write(connection.send(h11.Response(
                    status_code=exc.error_status_hint,
                    headers=[("content-type", TEXT), ("content-length", str(len(body))),
                             ("connection", "close")])))
                writer.write(connection.send(h11.Data(data=body)))
                writer.write(connection.send(h11.EndOfMessage()))
        except (TimeoutError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()

    async def _respond(self, request: h11.Request) -> Response:
        if request.method not in (b"GET", b"HEAD"):
            return 405, b"GET or HEAD only\n", TEXT
        path = request.target.split(b"?", 1)[0]
        if path == b"/metrics":
            accept = next((v.decode("latin-1") for k, v in request.headers if k == b"accept"),
                          None)
            # In a thread: with workers it reads every worker's files.
            body, content_type = await asyncio.to_thread(self.metrics.render, accept)
            return 200, body, content_type
        if path == b"/healthz":
            return 200, b"ok\n", TEXT
        if path == b"/readyz":
            reason = await self.not_ready()
            if reason is None:
                return 200, b"ready\n", TEXT
            return 503, f"not ready: {reason}\n".encode(), TEXT
        return 404, b"not found: /metrics, /healthz, /readyz\n", TEXT
