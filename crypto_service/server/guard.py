"""Wraps every CryptoService handler: domain errors become gRPC statuses in this one place,
a database that is busy or unreachable becomes UNAVAILABLE, escaped bugs become a detail-free
INTERNAL, and calls are tracked so shutdown can drain them."""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any, Awaitable, Callable

import grpclib.server
from grpclib.const import Cardinality, Handler, Status
from grpclib.exceptions import GRPCError

from ..auth import POLICY, Authenticator, Rule, authorize
from ..db import errors as db_errors
from ..domain import errors, validate
from ..settings import AuthMode
from .context import CallContext, current_call
from ..db.internals import expect

log = logging.getLogger("crypto_service.server")

STATUS_BY_ERROR: dict[type[errors.DomainError], Status] = {
    errors.InvalidArgument: Status.INVALID_ARGUMENT,
    errors.NotFound: Status.NOT_FOUND,
    errors.InsufficientFunds: Status.FAILED_PRECONDITION,
    errors.BalanceLimit: Status.FAILED_PRECONDITION,
    errors.Conflict: Status.ALREADY_EXISTS,
    errors.Unauthenticated: Status.UNAUTHENTICATED,
    errors.Forbidden: Status.PERMISSION_DENIED,
    errors.ResourceExhausted: Status.RESOURCE_EXHAUSTED,
    errors.Unavailable: Status.UNAVAILABLE,
}
SHUTTING_DOWN = "server is shutting down"
DATABASE_UNAVAILABLE = "the database is unavailable: try again"


def to_grpc_error(error: errors.DomainError) -> GRPCError:
    status = next(s for kind, s in STATUS_BY_ERROR.items() if isinstance(error, kind))
    return GRPCError(status, str(error))


# `_enter` replaces `recv_message` on each call's grpclib server stream (an instance attribute
# over the class's method, which the generated glue calls to read the request).
expect(inspect.iscoroutinefunction(grpclib.server.Stream.recv_message)
       and grpclib.server.Stream.__dictoffset__ != 0,
       "grpclib", "grpclib.server.Stream.recv_message can no longer be replaced per stream")


class CallGuard:
    def __init__(self, authenticator: Authenticator, *, require_auth: AuthMode) -> None:
        self.authenticator = authenticator
        self.require_auth = require_auth
        self.draining = False
        self._calls: dict[asyncio.Task, bool] = {}  # task -> is it unary
        self._aborted: set[asyncio.Task] = set()

    def wrap(self, mapping: dict[str, Handler]) -> dict[str, Handler]:
        """Each handler guarded, with its authorization rule (KeyError: an RPC has no rule)."""
        return {path: handler._replace(func=self._guarded(path, handler,
                                                           POLICY[path.rsplit("/", 1)[1]]))
                for path, handler in mapping.items()}

    async def wait_unary_calls(self, timeout: float) -> bool:
        """True when every unary call in flight finished within `timeout` seconds."""
        pending = [task for task, unary in self._calls.items() if unary]
        if not pending:
            return True
        _, still_running = await asyncio.wait(pending, timeout=timeout)
        return not still_running

    async def abort_calls(self, *, streams_only: bool) -> None:
        """Ends calls in flight with UNAVAILABLE (a status clients retry elsewhere), where
        grpclib's own close would cancel them without a status."""
        doomed = [task for task, unary in self._calls.items() if not (unary and streams_only)]
        for task in doomed:
            self._aborted.add(task)
            task.cancel()
        if doomed:
            await asyncio.wait(doomed, timeout=1.0)

    def _enter(self, stream: Any, rule: Rule) -> None:
        """Authenticates the caller, sets the call context, and has the request authorized as
        soon as it is decoded (the generated glue decodes it; the rule needs its fields)."""
        metadata = stream.metadata or {}
        principal = self.authenticator.authenticate(metadata.get("authorization"))
        key = metadata.get("idempotency-key")
        if key is not None:
            key = validate.token(key, "idempotency-key metadata")
        current_call.set(CallContext(principal, key))
        receive = stream.recv_message
        peer = stream.peer.addr()

        async def recv_authorized() -> Any:
            request = await receive()
            authorize(rule, principal, request, mode=self.require_auth, peer=peer)
            return request

        stream.recv_message = recv_authorized

    def _guarded(self, path: str, handler: Handler,
                 rule: Rule) -> Callable[[Any], Awaitable[None]]:
        func = handler.func
        unary = handler.cardinality is Cardinality.UNARY_UNARY

        async def guarded(stream: Any) -> None:
            if self.draining:
                raise GRPCError(Status.UNAVAILABLE, SHUTTING_DOWN)
            task = asyncio.current_task()
            assert task is not None
            self._calls[task] = unary
            try:
                self._enter(stream, rule)
                await func(stream)
            except errors.DomainError as exc:
                raise to_grpc_error(exc) from None
            except asyncio.CancelledError:
                if task in self._aborted:
                    raise GRPCError(Status.UNAVAILABLE, SHUTTING_DOWN) from None
                raise
            except GRPCError:
                raise
            except Exception as exc:
                raise _unexpected(path, exc) from None
            finally:
                del self._calls[task]
                self._aborted.discard(task)

        return guarded


def _unexpected(path: str, error: Exception) -> GRPCError:
    """A database that is busy or unreachable is UNAVAILABLE (the pool reconnects by itself);
    anything else is a bug: INTERNAL, logged here and only here."""
    if db_errors.classify(error) in (db_errors.Fault.TRANSIENT, db_errors.Fault.CONNECTION):
        log.warning("%s: database unavailable: %r", path, error)
        return GRPCError(Status.UNAVAILABLE, DATABASE_UNAVAILABLE)
    log.error("unhandled error in %s", path, exc_info=error)
    return GRPCError(Status.INTERNAL, "internal error")
