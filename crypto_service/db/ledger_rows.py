"""The ledger's rows as plain values, read and written by set-based statements for a whole batch.

A batch of postings (domain/ledger.py) touches a handful of wallets and writes one ledger
transaction and two entries per accepted request. Going through model instances would cost
an object, a pypika query and a round trip per row; here each table gets one statement per
batch: one `SELECT ... FOR UPDATE` of every wallet the batch touches, one multi-row insert per
table, and one update of every touched balance (`UPDATE ... FROM (VALUES ...)` on PostgreSQL,
`executemany` inside the transaction on SQLite, where a statement is no round trip). Values
are converted with the models' own field conversions (db/rows.py), so the audit and every
reader see the rows the models would have written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from .models import LedgerEntry, LedgerTransaction, TransactionKind, Wallet
from .rows import column, placeholders, select, table

WALLET_FIELDS = ("id", "user_id", "coin_id", "balance", "locked_balance", "address",
                 "created_at", "updated_at")
STORED_FIELDS = ("id", "kind", "coin_id", "amount", "from_user_id", "to_user_id",
                 "destination_address", "note", "idempotency_scope", "idempotency_key")
TRANSACTION_FIELDS = ("id", "kind", "coin_id", "amount", "from_user_id", "to_user_id",
                      "idempotency_scope", "idempotency_key", "destination_address", "note",
                      "created_at")
NEW_WALLET_FIELDS = WALLET_FIELDS[1:]
ENTRY_FIELDS = ("transaction_id", "coin_id", "user_id", "amount")


@dataclass(slots=True)
class WalletRow:
    """A wallet as the batch holds it; `id` is None until a new wallet is inserted."""

    id: int | None
    user_id: int
    coin_id: int
    balance: Decimal
    locked_balance: Decimal
    address: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StoredTransaction:
    """What a replay is compared with: a ledger transaction's request fields."""

    id: UUID
    kind: TransactionKind
    coin_id: int
    amount: Decimal
    from_user_id: int | None
    to_user_id: int | None
    destination_address: str
    note: str
    idempotency_scope: str | None
    idempotency_key: str | None


@dataclass(frozen=True, slots=True)
class Entry:
    transaction_id: UUID  # the ledger transaction's id; its seq is known once inserted
    coin_id: int
    user_id: int | None
    amount: Decimal


@dataclass(frozen=True, slots=True)
class BatchWrites:
    """Everything a batch writes, in arrival order."""

    new_wallets: list[WalletRow]
    transactions: list[tuple[StoredTransaction, datetime]]  # with its created_at
    entries: list[Entry]
    balances: list[WalletRow]  # existing wallets whose balance changed


def is_postgres(connection: BaseDBAsyncClient) -> bool:
    return connection.capabilities.dialect == "postgres"


async def lock_wallets(connection: BaseDBAsyncClient,
                       accounts: Sequence[tuple[int, int]]) -> dict[tuple[int, int], WalletRow]:
    """The wallets of these (user id, coin id) accounts that exist, by account. On PostgreSQL
    they are locked `FOR UPDATE` in id order, so two batches touching the same wallets queue
    instead of deadlocking; SQLite's `BEGIN IMMEDIATE` already holds the database's lock."""
    postgres = is_postgres(connection)
    rows_sql, params = _values(connection, accounts, ("int", "int"))
    condition = (f" WHERE ({column(Wallet, 'user_id')}, {column(Wallet, 'coin_id')}) IN "
                 f"(VALUES {rows_sql}) ORDER BY {column(Wallet, 'id')}"
                 f"{' FOR UPDATE' if postgres else ''}")
    found = await select(connection, Wallet, WALLET_FIELDS, condition, params)
    return {(row[1], row[2]): WalletRow(*row) for row in found}


async def find_transactions(connection: BaseDBAsyncClient, keys: Sequence[tuple[str, str]]
                            ) -> dict[tuple[str, str], StoredTransaction]:
    """The ledger transactions already written under these (scope, key) idempotency keys."""
    rows_sql, params = _values(connection, keys, ("text", "text"))
    condition = (f" WHERE ({column(LedgerTransaction, 'idempotency_scope')}, "
                 f"{column(LedgerTransaction, 'idempotency_key')}) IN (VALUES {rows_sql})")
    found = await select(connection, LedgerTransaction, STORED_FIELDS, condition, params)
    return {(row[-2], row[-1]): StoredTransaction(*row) for row in found}


async def write_batch(connection: BaseDBAsyncClient, writes: BatchWrites) -> None:
    """New wallets (their ids are set on the rows), ledger transactions, entries, balances."""
    if writes.new_wallets:
        inserted = await _insert(connection, Wallet, NEW_WALLET_FIELDS,
                                 ([getattr(w, name) for name in NEW_WALLET_FIELDS]
                                  for w in writes.new_wallets),
                                 returning=("id", "user_id", "coin_id"))
        ids = {(row["user_id"], row["coin_id"]): row["id"] for row in inserted}
        for wallet in writes.new_wallets:
            wallet.id = ids[(wallet.user_id, wallet.coin_id)]
    seqs: dict[str, int] = {}
    if writes.transactions:
        inserted = await _insert(connection, LedgerTransaction, TRANSACTION_FIELDS,
                                 ([getattr(tx, name) for name in TRANSACTION_FIELDS[:-1]]
                                  + [created_at] for tx, created_at in writes.transactions),
                                 returning=("seq", "id"))
        seqs = {str(row["id"]): row["seq"] for row in inserted}
    if writes.entries:
        await _insert(connection, LedgerEntry, ENTRY_FIELDS,
                      ([seqs[str(e.transaction_id)], e.coin_id, e.user_id, e.amount]
                       for e in writes.entries))
    if writes.balances:
        await _update_balances(connection, writes.balances)


async def _insert(connection: BaseDBAsyncClient, model: type[Model], names: Sequence[str],
                  rows: Iterable[list[Any]], returning: Sequence[str] = ()) -> list[Any]:
    """One multi-row INSERT; the `returning` columns of the inserted rows, as mappings."""
    encoded = [[_encode(model, name, value) for name, value in zip(names, row)] for row in rows]
    marks = iter(placeholders(connection, len(encoded) * len(names)))
    values = ", ".join("(" + ", ".join(next(marks) for _ in names) + ")" for _ in encoded)
    sql = (f"INSERT INTO {table(model)} ({', '.join(column(model, n) for n in names)}) "
           f"VALUES {values}")
    params = [value for row in encoded for value in row]
    if not returning:
        await connection.execute_query(sql, params)
        return []
    # Tortoise's asyncpg `execute_query` drops the rows of an INSERT; this one keeps them.
    sql += f" RETURNING {', '.join(column(model, n) for n in returning)}"
    return await connection.execute_query_dict(sql, params)


async def _update_balances(connection: BaseDBAsyncClient, wallets: Sequence[WalletRow]) -> None:
    rows = [[_encode(Wallet, "id", w.id), _encode(Wallet, "balance", w.balance),
             _encode(Wallet, "updated_at", w.updated_at)] for w in wallets]
    balance, updated_at, wallet_id = (column(Wallet, n) for n in ("balance", "updated_at", "id"))
    if is_postgres(connection):
        rows_sql, params = _values(connection, rows, ("int", "numeric", "timestamptz"))
        await connection.execute_query(
            f"UPDATE {table(Wallet)} SET {balance} = v.balance, {updated_at} = v.updated_at "
            f"FROM (VALUES {rows_sql}) AS v(id, balance, updated_at) "
            f"WHERE {table(Wallet)}.{wallet_id} = v.id", params)
        return
    # Inside the batch's transaction; SQLite runs it in process, a statement per row is cheap.
    await connection.execute_many(
        f"UPDATE {table(Wallet)} SET {balance} = ?, {updated_at} = ? WHERE {wallet_id} = ?",
        [[b, u, i] for i, b, u in rows])


def _values(connection: BaseDBAsyncClient, rows: Sequence[Sequence[Any]],
            types: Sequence[str]) -> tuple[str, list[Any]]:
    """`(p1, p2), (p3, p4), ...` for a VALUES list, typed on PostgreSQL (where a VALUES list
    has no column to infer its parameters' types from), and the parameters."""
    marks = iter(placeholders(connection, len(rows) * len(types)))
    postgres = is_postgres(connection)
    sql = ", ".join(
        "(" + ", ".join(f"{next(marks)}::{t}" if postgres else next(marks) for t in types) + ")"
        for _ in rows)
    return sql, [value for row in rows for value in row]


def _encode(model: type[Model], name: str, value: Any) -> Any:
    """What the model would send for `value`: the field's Python form (a Decimal quantized to
    the column's places, as a model instance holds it), then its database form."""
    field = model._meta.fields_map[name]
    if value is not None and not isinstance(value, (UUID, datetime)):
        value = field.to_python_value(value)
    return field.to_db_value(value, model)
