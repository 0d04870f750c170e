"""The double-entry ledger: deposits, withdrawals and transfers, their history, and the audit.

Every balance change is an immutable ledger transaction with its entries (summing to zero
per coin; deposits and withdrawals post against the coin's external account), written in one
database transaction with the wallet balances. Concurrent requests are group-committed
(domain/group_commit.py): a batch of them shares one database transaction, each still its own
ledger transaction with its own answer, applied in arrival order so that a refused one changes
nothing for the others. Arithmetic happens in Python `Decimal` on rows the transaction holds:
SQLite serializes writers (`BEGIN IMMEDIATE`, db/sqlite_engine); PostgreSQL locks the batch's
wallets `FOR UPDATE` in id order, so batches of other processes queue instead of deadlocking.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from decimal import Decimal
from uuid import UUID, uuid4

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from ..db import ledger_rows, writes
from ..db.ledger_rows import BatchWrites, Entry, StoredTransaction, WalletRow
from ..db.models import LedgerTransaction, TransactionKind
from .catalog import Catalog, CoinRecord
from .errors import BalanceLimit, Conflict, DomainError, InsufficientFunds, NotFound
from .group_commit import BatchStats, GroupCommit
from .money import MAX_BALANCE, ZERO, format_decimal
from .paging import Page, bounded
from .wallets import WalletView, new_address, view


DEPOSIT_SCOPE = "deposit"
DEFAULT_BATCH_MAX = 100
HISTORY_DEFAULT_PAGE_SIZE, HISTORY_MAX_PAGE_SIZE = 20, 100



def user_scope(user_id: int) -> str:
    return f"user:{user_id}"


@dataclass(frozen=True, slots=True)
class Movement:
    """What the caller asked for; a replay with the same key must ask for the same."""

    kind: TransactionKind
    coin: CoinRecord
    amount: Decimal
    from_user_id: int | None
    to_user_id: int | None
    destination_address: str = ""
    note: str = ""
    idempotency_scope: str | None = None
    idempotency_key: str | None = None

    @property
    def key(self) -> tuple[str, str] | None:
        """The idempotency key with its scope, or None."""
        if self.idempotency_scope is None or self.idempotency_key is None:
            return None
        return self.idempotency_scope, self.idempotency_key

    def users(self) -> list[int]:
        return [u for u in (self.from_user_id, self.to_user_id) if u is not None]

    def matches(self, tx: StoredTransaction) -> bool:
        return (tx.kind == self.kind and tx.coin_id == self.coin.id and tx.amount == self.amount
                and tx.from_user_id == self.from_user_id and tx.to_user_id == self.to_user_id
                and tx.destination_address == self.destination_address
                and tx.note == self.note)


@dataclass(frozen=True, slots=True)
class TransactionView:
    id: UUID
    kind: TransactionKind
    symbol: str
    amount: Decimal
    balance_change: Decimal  # for the user the history is about
    from_user_id: int | None
    to_user_id: int | None
    transaction_id: str  # a deposit's external id
    destination_address: str
    note: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Posted:
    transaction_id: UUID
    wallets: dict[int, WalletView]  # by user id
    replayed: bool  # True: the key was seen before and nothing moved now


async def deposit(user_id: int, coin: CoinRecord, amount: Decimal,
                  transaction_id: str | None) -> Posted:
    return await _post(Movement(TransactionKind.DEPOSIT, coin, amount, None, user_id,
                                idempotency_scope=DEPOSIT_SCOPE if transaction_id else None,
                                idempotency_key=transaction_id or None))


async def withdraw(user_id: int, coin: CoinRecord, amount: Decimal, destination_address: str,
                   idempotency_key: str | None) -> Posted:
    return await _post(Movement(TransactionKind.WITHDRAWAL, coin, amount, user_id, None,
                                destination_address=destination_address,
                                idempotency_scope=user_scope(user_id) if idempotency_key else None,
                                idempotency_key=idempotency_key))


async def transfer(from_user_id: int, to_user_id: int, coin: CoinRecord, amount: Decimal,
                   note: str, idempotency_key: str | None) -> Posted:
    return await _post(Movement(TransactionKind.TRANSFER, coin, amount, from_user_id, to_user_id,
                                note=note,
                                idempotency_scope=user_scope(from_user_id) if idempotency_key
                                else None,
                                idempotency_key=idempotency_key))


async def _post(movement: Movement) -> Posted:
    """The movement joins the loop's next batch (domain/group_commit.py); its caller awaits
    the answer through db/writes.py, so a cancelled caller does not take its posting with it."""
    return await writes.run_to_completion(_group_commit().post(movement),
                                          expected=(DomainError,))


def configure(batch_max: int) -> None:
    """The most requests one database transaction posts (`CRYPTO_LEDGER_BATCH_MAX`)."""
    global _batch_max
    _batch_max = batch_max
    _committers.clear()


def batch_stats() -> BatchStats:
    return _group_commit().stats


def _group_commit() -> GroupCommit[Movement, Posted]:
    """One queue per event loop (tests and `--workers` children each run their own)."""
    loop = asyncio.get_running_loop()
    committer = _committers.get(loop)
    if committer is None:
        # Not a WeakKeyDictionary: uvloop's loops take no weak references.
        for closed in [other for other in _committers if other.is_closed()]:
            del _committers[closed]
        committer = _committers[loop] = GroupCommit(_post_batch, _batch_max)
    return committer


_batch_max = DEFAULT_BATCH_MAX
_committers: dict[asyncio.AbstractEventLoop, GroupCommit[Movement, Posted]] = {}


async def _post_batch(movements: Sequence[Movement], attempt: int) -> list[Posted | DomainError]:
    """The batch in one transaction: its wallets locked once, each movement applied in
    arrival order against the balances the earlier ones left, and everything accepted written
    with one statement per table.

    An idempotency key used before makes its request a replay (or a conflict) whatever else
    is true, as a request posted alone would be answered. Looking keys up costs a query, so
    the first attempt looks them up only when a keyed request was refused (a retry of a
    withdrawal that went through must be a replay, not "insufficient funds"); an accepted
    request whose key was used fails the insert on the unique index instead (as does a
    concurrent twin in another process, which waits on it), and the retry looks every key up.
    """
    accounts = sorted({(user, m.coin.id) for m in movements for user in m.users()})
    keys = sorted({m.key for m in movements if m.key is not None})
    now = datetime.now(timezone.utc)
    async with in_transaction() as connection:
        locked = await ledger_rows.lock_wallets(connection, accounts)
        stored = (await ledger_rows.find_transactions(connection, keys)
                  if attempt > 1 and keys else None)
        batch, outcomes = _apply_all(movements, locked, stored or {}, now)
        if stored is None and any(isinstance(outcome, DomainError) and m.key is not None
                                  for m, outcome in zip(movements, outcomes)):
            stored = await ledger_rows.find_transactions(connection, keys)
            batch, outcomes = _apply_all(movements, locked, stored, now)
        if batch.writes.transactions:
            await ledger_rows.write_batch(connection, batch.writes)
    return [outcome if isinstance(outcome, DomainError) else outcome.posted()
            for outcome in outcomes]


def _apply_all(movements: Sequence[Movement], locked: dict[tuple[int, int], WalletRow],
               stored: dict[tuple[str, str], StoredTransaction], now: datetime
               ) -> tuple[_Batch, list[_Answer | DomainError]]:
    """The movements applied to copies of the locked wallets (so they can be applied again)."""
    batch = _Batch({account: replace(w) for account, w in locked.items()}, stored, now)
    return batch, [batch.apply(m) for m in movements]


@dataclass(frozen=True, slots=True)
class _Answer:
    """A posting's answer, as wallet snapshots until new wallets have their ids."""

    transaction_id: UUID
    coin: CoinRecord
    snapshots: list[tuple[WalletRow, Decimal, datetime]]  # the wallet, its balance, updated_at
    replayed: bool

    def posted(self) -> Posted:
        return Posted(self.transaction_id,
                      {w.user_id: view(replace(w, balance=balance, updated_at=updated_at),
                                       self.coin)
                       for w, balance, updated_at in self.snapshots}, self.replayed)


class _Batch:
    """Applies movements one after the other to the batch's wallets, in memory, and collects
    what the accepted ones write. A refused movement changes nothing."""

    def __init__(self, wallets: dict[tuple[int, int], WalletRow],
                 stored: dict[tuple[str, str], StoredTransaction], now: datetime) -> None:
        self.wallets = wallets
        self.used_keys = dict(stored)  # and, as they are accepted, the batch's own
        self.now = now
        self.writes = BatchWrites([], [], [], [])
        self._changed: set[int] = set()  # ids of existing wallets whose balance changed

    def apply(self, movement: Movement) -> _Answer | DomainError:
        try:
            return self._apply(movement)
        except DomainError as refused:
            return refused

    def _apply(self, movement: Movement) -> _Answer:
        coin = movement.coin
        if movement.key is not None and movement.key in self.used_keys:
            return self._replay(self.used_keys[movement.key], movement)
        source = destination = None
        if movement.from_user_id is not None:
            source = self.wallets.get((movement.from_user_id, coin.id))
            if source is None:
                raise NotFound(f"user {movement.from_user_id} has no {coin.symbol} wallet")
            if source.balance < movement.amount:
                raise InsufficientFunds(
                    f"insufficient {coin.symbol} balance: available "
                    f"{format_decimal(source.balance)}, requested "
                    f"{format_decimal(movement.amount)}")
        if movement.to_user_id is not None:
            destination = self.wallets.get((movement.to_user_id, coin.id))
            balance = destination.balance if destination is not None else ZERO
            if balance + movement.amount > MAX_BALANCE:
                # Refused here, the same on both backends: PostgreSQL would fail the write
                # (numeric field overflow) and SQLite would store the text as it is.
                raise BalanceLimit(
                    f"{coin.symbol} balance of user {movement.to_user_id} would exceed "
                    f"{format_decimal(MAX_BALANCE)}, the most a wallet can hold: it has "
                    f"{format_decimal(balance)}")
            if destination is None:
                destination = self._new_wallet(movement.to_user_id, coin)
        tx = StoredTransaction(uuid4(), movement.kind, coin.id, movement.amount,
                               movement.from_user_id, movement.to_user_id,
                               movement.destination_address, movement.note,
                               movement.idempotency_scope, movement.idempotency_key)
        self.writes.transactions.append((tx, self.now))
        for wallet, user_id, change in ((source, movement.from_user_id, -movement.amount),
                                        (destination, movement.to_user_id, movement.amount)):
            self.writes.entries.append(Entry(tx.id, coin.id, user_id, change))
            if wallet is not None:
                wallet.balance += change
                wallet.updated_at = self.now
                if wallet.id is not None and wallet.id not in self._changed:
                    self._changed.add(wallet.id)
                    self.writes.balances.append(wallet)
        if movement.key is not None:
            self.used_keys[movement.key] = tx
        return self._answer(tx.id, movement, replayed=False)

    def _new_wallet(self, user_id: int, coin: CoinRecord) -> WalletRow:
        # Inserted with the balance the batch leaves it with, so it is not updated as well.
        wallet = WalletRow(None, user_id, coin.id, ZERO, ZERO, new_address(coin.symbol),
                           self.now, self.now)
        self.wallets[(user_id, coin.id)] = wallet
        self.writes.new_wallets.append(wallet)
        return wallet

    def _replay(self, earlier: StoredTransaction, movement: Movement) -> _Answer:
        if not movement.matches(earlier):
            raise Conflict(f"idempotency key {movement.idempotency_key!r} was already used for "
                           f"a different request (transaction {earlier.id})")
        return self._answer(earlier.id, movement, replayed=True)

    def _answer(self, transaction_id: UUID, movement: Movement, *, replayed: bool) -> _Answer:
        touched = (self.wallets.get((user, movement.coin.id)) for user in movement.users())
        return _Answer(transaction_id, movement.coin,
                       [(w, w.balance, w.updated_at) for w in touched if w is not None],
                       replayed)


async def history(catalog: Catalog, user_id: int, coin: CoinRecord | None, page: int,
                  page_size: int) -> Page[TransactionView]:
    """The user's transactions, newest first."""
    page = bounded(page, field="page", default=1, maximum=2**31 - 1)
    page_size = bounded(page_size, field="page_size", default=HISTORY_DEFAULT_PAGE_SIZE,
                        maximum=HISTORY_MAX_PAGE_SIZE)
    query = LedgerTransaction.filter(Q(from_user_id=user_id) | Q(to_user_id=user_id))
    if coin is not None:
        query = query.filter(coin_id=coin.id)
    total = await query.count()
    rows = await query.order_by("-seq").offset((page - 1) * page_size).limit(page_size)
    return Page([_transaction_view(tx, user_id, catalog) for tx in rows], total, page, page_size)


def _transaction_view(tx: LedgerTransaction, user_id: int, catalog: Catalog) -> TransactionView:
    coin = catalog.by_id.get(tx.coin_id)
    return TransactionView(
        id=tx.id, kind=tx.kind, symbol=coin.symbol if coin else "", amount=tx.amount,
        balance_change=-tx.amount if tx.from_user_id == user_id else tx.amount,
        from_user_id=tx.from_user_id, to_user_id=tx.to_user_id,
        transaction_id=(tx.idempotency_key or "") if tx.kind is TransactionKind.DEPOSIT else "",
        destination_address=tx.destination_address, note=tx.note, created_at=tx.created_at)
