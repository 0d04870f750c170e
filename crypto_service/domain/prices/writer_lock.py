"""Who simulates: one writer per database, across processes and replicas.

PostgreSQL: a session advisory lock held on a dedicated connection (released when that
connection ends, so a dead leader frees it). SQLite: an OS file lock beside the database file
(released by the kernel when the process exits).
"""

from __future__ import annotations

import fcntl
import os
from functools import partial
from typing import Protocol

import asyncpg
from tortoise.backends.base.config_generator import expand_db_url

from ...db.connect import Connect, close_dedicated, connect_dedicated, is_sqlite
from ...settings import Settings

ADVISORY_KEY = 0x63727970746F  # "crypto"
WRITER_LOCK = "writer lock"  # its connection's purpose (application_name)


class WriterLock(Protocol):
    async def acquire(self) -> bool:
        """True while this process holds the lock (tries to take it when it does not)."""

    async def release(self) -> None: ...


class FileLock:
    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    async def acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    async def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None


class AdvisoryLock:
    def __init__(self, connect: Connect) -> None:
        self.connect = connect
        self._connection: asyncpg.Connection | None = None

    async def acquire(self) -> bool:
        if self._connection is not None:
            if not self._connection.is_closed():
                return True
            self._connection = None  # its connection was lost, and the lock with it
        connection = await self.connect()
        held = False
        try:
            held = await connection.fetchval("SELECT pg_try_advisory_lock($1)", ADVISORY_KEY)
        finally:
            if held:
                self._connection = connection
            else:
                await close_dedicated(connection)
        return held

    async def release(self) -> None:
        if self._connection is not None:
            await close_dedicated(self._connection)
            self._connection = None


def writer_lock(settings: Settings) -> WriterLock:
    if is_sqlite(settings.database_url):
        path = expand_db_url(settings.database_url)["credentials"]["file_path"]
        return FileLock(f"{path}.writer.lock")
    return AdvisoryLock(partial(connect_dedicated, settings, WRITER_LOCK))
