"""One exception hierarchy for every failed call: the gRPC status, message and details.

`except CryptoError` catches them all; a subclass per status a caller acts on
(`except InsufficientFunds`). Connection failures and deadlines become `Unavailable` and
`DeadlineExceeded`, so callers never see grpclib's or the socket's own exceptions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from grpclib.const import Status
from grpclib.exceptions import GRPCError, ProtocolError, StreamTerminatedError


class CryptoError(Exception):
    """A call that did not succeed. `status` is the gRPC status, `message` the server's text."""

    status: Status = Status.UNKNOWN

    def __init__(self, message: str = "", *, status: Status | None = None,
                 details: Any = None) -> None:
        if status is not None:
            self.status = status
        self.message = message
        self.details = details
        super().__init__(f"{self.status.name}: {message}" if message else self.status.name)


class Cancelled(CryptoError):
    status = Status.CANCELLED


class InvalidArgument(CryptoError):
    status = Status.INVALID_ARGUMENT


class InvalidAddress(InvalidArgument):
    """The client's address is not `host:port` (raised before any call is made)."""


class InvalidTLSOption(InvalidArgument):
    """A TLS option the client cannot use: a missing or unusable file, a key without its
    certificate (raised before any call is made)."""


class DeadlineExceeded(CryptoError):
    status = Status.DEADLINE_EXCEEDED


class NotFound(CryptoError):
    status = Status.NOT_FOUND


class AlreadyExists(CryptoError):
    status = Status.ALREADY_EXISTS


class PermissionDenied(CryptoError):
    status = Status.PERMISSION_DENIED


class ResourceExhausted(CryptoError):
    status = Status.RESOURCE_EXHAUSTED


class InsufficientFunds(CryptoError):
    """FAILED_PRECONDITION: a balance too small for the amount, or one the amount would take
    past the most a wallet holds (the message says which)."""

    status = Status.FAILED_PRECONDITION


class Unimplemented(CryptoError):
    status = Status.UNIMPLEMENTED


class Internal(CryptoError):
    status = Status.INTERNAL


class Unavailable(CryptoError):
    status = Status.UNAVAILABLE


class Unauthenticated(CryptoError):
    status = Status.UNAUTHENTICATED


ERROR_BY_STATUS: dict[Status, type[CryptoError]] = {
    kind.status: kind for kind in (
        Cancelled, InvalidArgument, DeadlineExceeded, NotFound, AlreadyExists, PermissionDenied,
        ResourceExhausted, InsufficientFunds, Unimplemented, Internal, Unavailable,
        Unauthenticated)
}


def from_grpc_error(error: GRPCError) -> CryptoError:
    kind = ERROR_BY_STATUS.get(error.status, CryptoError)
    return kind(error.message or "", status=error.status, details=error.details)


@contextmanager
def translated_errors() -> Iterator[None]:
    """Turns whatever grpclib, asyncio or the socket raise during a call into a CryptoError."""
    try:
        yield
    except GRPCError as exc:
        raise from_grpc_error(exc) from exc
    except TimeoutError as exc:  # before OSError: TimeoutError is one
        raise DeadlineExceeded("deadline exceeded before the server answered") from exc
    except (OSError, StreamTerminatedError, ProtocolError) as exc:
        raise Unavailable(f"connection failed: {exc}") from exc
