"""What a database error means for the caller, read from what the database said.

Tortoise translates some driver errors into its own classes and passes others through, and
its classes do not say whether an error is worth retrying (`OperationalError` is a busy
SQLite, a PostgreSQL `numeric field overflow` and a syntax error alike). So errors are
classified by the driver's own error underneath: the SQLSTATE of an asyncpg error, the error
code of a sqlite3 one, or the connection-level exceptions of the drivers. This module is the
one place that knows them; the ledger's retries and the server's status mapping both ask it.
"""

from __future__ import annotations

import enum
import sqlite3
from collections.abc import Iterator

import asyncpg
from tortoise.exceptions import DBConnectionError


class Fault(enum.Enum):
    # The transaction lost a race with another one (serialization failure, deadlock, lock
    # or busy timeout): the same transaction, tried again, is expected to go through.
    TRANSIENT = "transient"
    # A unique index refused a row: for the ledger, a concurrent twin got there first.
    DUPLICATE = "duplicate"
    # The connection is gone or refused (lost, terminated by an administrator, the server
    # shutting down or starting, the pool closed). The outcome of a transaction whose commit
    # was in flight is unknown; the pool opens new connections by itself.
    CONNECTION = "connection"
    # Anything else: a bug or a state a retry cannot change.
    OTHER = "other"


TRANSIENT_SQLSTATES = frozenset({
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "55P03",  # lock_not_available (lock_timeout)
    "57014",  # query_canceled (statement_timeout)
})
# 57P01 admin_shutdown (pg_terminate_backend), 57P02 crash_shutdown, 57P03 cannot_connect_now,
# 53300 too_many_connections; the whole 08 class is connection exceptions.
CONNECTION_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})
CONNECTION_SQLSTATE_CLASS = "08"
UNIQUE_VIOLATION_SQLSTATE = "23505"

SQLITE_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
SQLITE_UNIQUE_CODES = frozenset({sqlite3.SQLITE_CONSTRAINT_UNIQUE,
                                 sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY})

# asyncpg's client-side errors once its connection is broken or its pool closed: "connection
# is closed", "cannot call Transaction.rollback(): the underlying connection is closed",
# "pool is closed", "cannot switch to state 15" (a protocol state machine cut mid-message).
ASYNCPG_CONNECTION_ERRORS = (asyncpg.exceptions.InterfaceError,
                             asyncpg.exceptions.InternalClientError)


def causes(error: BaseException) -> Iterator[BaseException]:
    """`error` and what it wraps: Tortoise keeps the driver's error as its first argument and
    as `__cause__` or `__context__`, depending on the path."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)


def classify(error: BaseException) -> Fault:
    for cause in causes(error):
        fault = _classify_one(cause)
        if fault is not None:
            return fault
    return Fault.OTHER


def _classify_one(error: BaseException) -> Fault | None:
    if isinstance(error, asyncpg.PostgresError):
        state = error.sqlstate or ""
        if state in TRANSIENT_SQLSTATES:
            return Fault.TRANSIENT
        if state in CONNECTION_SQLSTATES or state.startswith(CONNECTION_SQLSTATE_CLASS):
            return Fault.CONNECTION
        if state == UNIQUE_VIOLATION_SQLSTATE:
            return Fault.DUPLICATE
        return Fault.OTHER
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        if code is not None and code & 0xFF in SQLITE_BUSY_CODES:
            return Fault.TRANSIENT
        if code in SQLITE_UNIQUE_CODES:
            return Fault.DUPLICATE
        return Fault.OTHER
    # TimeoutError: opening a replacement connection timed out (a call's own deadline reaches
    # the handler as a cancellation, never as this).
    if isinstance(error, (*ASYNCPG_CONNECTION_ERRORS, DBConnectionError, ConnectionError,
                          TimeoutError)):
        return Fault.CONNECTION
    return None


def is_retryable(error: BaseException) -> bool:
    """Whether the ledger tries the whole transaction again."""
    return classify(error) in (Fault.TRANSIENT, Fault.DUPLICATE)
