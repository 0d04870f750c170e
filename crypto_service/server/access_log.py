"""One log line per call (method, status, duration, peer), for every service on the server."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from grpclib.events import RecvRequest, listen
from grpclib.exceptions import GRPCError
from grpclib.server import Server

log = logging.getLogger("crypto_service.access")


def _peer(stream: Any) -> str:
    address = stream.peer.addr() if stream.peer is not None else None
    if not address:
        return "-"
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _timed(method_name: str, method_func: Any) -> Any:
    async def timed(stream: Any) -> None:
        started = time.perf_counter()
        status = "OK"
        try:
            await method_func(stream)
        except GRPCError as exc:
            status = exc.status.name
            raise
        except asyncio.CancelledError:
            expired = stream.deadline is not None and stream.deadline.time_remaining() <= 0
            status = "DEADLINE_EXCEEDED" if expired else "CANCELLED"
            raise
        except BaseException:
            status = "UNKNOWN"
            raise
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            log.info("%s %s %.1fms peer=%s", method_name, status, elapsed_ms, _peer(stream))

    return timed


async def _on_recv_request(event: RecvRequest) -> None:
    event.method_func = _timed(event.method_name, event.method_func)


def install_access_log(server: Server) -> None:
    listen(server, RecvRequest, _on_recv_request)
