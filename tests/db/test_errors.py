"""Errors are classified by what the database said, through Tortoise's wrapping."""

import sqlite3

import pytest
from tortoise import Tortoise

from crypto_service.db.errors import Fault, classify
from tests.conftest import BACKENDS
from tests.faults.conftest import sqlite_path


@pytest.mark.parametrize("settings", [BACKENDS[1]], indirect=True)
@pytest.mark.parametrize("sqlstate, fault", [
    ("40001", Fault.TRANSIENT),  # serialization failure
    ("40P01", Fault.TRANSIENT),  # deadlock
    ("55P03", Fault.TRANSIENT),  # lock timeout
    ("57P01", Fault.CONNECTION),  # terminated by an administrator
    ("08006", Fault.CONNECTION),  # connection failure
    ("23505", Fault.DUPLICATE),
    ("22003", Fault.OTHER),  # numeric field overflow: permanent
    ("42P01", Fault.OTHER),
])
async def test_postgresql_errors_by_sqlstate(db, sqlstate, fault):
    connection = Tortoise.get_connection("default")
    with pytest.raises(Exception) as raised:
        await connection.execute_query(
            f"DO $$ BEGIN RAISE EXCEPTION 'raised' USING ERRCODE = '{sqlstate}'; END $$")
    assert classify(raised.value) is fault


@pytest.mark.parametrize("settings", [BACKENDS[0]], indirect=True)
async def test_a_busy_sqlite_is_transient_and_other_errors_are_not(busy_db):
    connection = Tortoise.get_connection("default")
    with pytest.raises(Exception) as missing:
        await connection.execute_query("SELECT * FROM no_such_table")
    assert classify(missing.value) is Fault.OTHER

    outside = sqlite3.connect(sqlite_path(busy_db), isolation_level=None)
    outside.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(Exception) as busy:
            async with connection._in_transaction():
                pass
    finally:
        outside.execute("ROLLBACK")
        outside.close()
    assert classify(busy.value) is Fault.TRANSIENT
    async with connection._in_transaction():  # the engine's lock was given back
        pass
