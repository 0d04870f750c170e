"""Wraps every CryptoService handler: domain errors become gRPC statuses in this one place,
escaped bugs become a detail-free INTERNAL, and calls are counted so shutdown can drain them."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from grpclib.const import Cardinality, Handler, Status
from grpclib.exceptions import GRPCError

from ..domain import errors

log = logging.getLogger("crypto_service.server")

STATUS_BY_ERROR: dict[type[errors.DomainError], Status] = {
    errors.InvalidArgument: Status.INVALID_ARGUMENT,
    errors.NotFound: Status.NOT_FOUND,
    errors.InsufficientFunds: Status.FAILED_PRECONDITION,
    errors.Conflict: Status.ALREADY_EXISTS,
    errors.Unauthenticated: Status.UNAUTHENTICATED,
    errors.Forbidden: Status.PERMISSION_DENIED,
    errors.ResourceExhausted: Status.RESOURCE_EXHAUSTED,
}


def to_grpc_error(error: errors.DomainError) -> GRPCError:
    status = next(s for kind, s in STATUS_BY_ERROR.items() if isinstance(error, kind))
    return GRPCError(status, str(error))


class CallGuard:
    def __init__(self) -> None:
        self.draining = False
        self._unary_calls = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def wrap(self, mapping: dict[str, Handler]) -> dict[str, Handler]:
        return {path: handler._replace(func=self._guarded(path, handler))
                for path, handler in mapping.items()}

    async def wait_idle(self, timeout: float) -> bool:
        """True when every unary call in flight finished within `timeout` seconds."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    def _guarded(self, path: str, handler: Handler) -> Callable[[Any], Awaitable[None]]:
        func = handler.func
        counted = handler.cardinality is Cardinality.UNARY_UNARY

        async def guarded(stream: Any) -> None:
            if self.draining:
                raise GRPCError(Status.UNAVAILABLE, "server is shutting down")
            if counted:
                self._unary_calls += 1
                self._idle.clear()
            try:
                await func(stream)
            except errors.DomainError as exc:
                raise to_grpc_error(exc) from None
            except (GRPCError, asyncio.CancelledError):
                raise
            except Exception:
                log.exception("unhandled error in %s", path)
                raise GRPCError(Status.INTERNAL, "internal error") from None
            finally:
                if counted:
                    self._unary_calls -= 1
                    if self._unary_calls == 0:
                        self._idle.set()

        return guarded
