"""The double-entry ledger: deposits, withdrawals and transfers, their history, and the audit.

Every balance change is one database transaction that writes an immutable ledger transaction,
its entries (summing to zero per coin; deposits and withdrawals post against the coin's
external account) and the wallet balances together. Arithmetic happens in Python `Decimal`
on rows the transaction holds: SQLite serializes writers (`BEGIN IMMEDIATE`, db/sqlite_engine);
PostgreSQL locks the wallets `FOR UPDATE` in id order, so A->B and B->A cannot deadlock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from uuid import UUID

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt
from tenacity import wait_random_exponential
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from ..db import errors as db_errors
from ..db import writes
from ..db.models import LedgerEntry, LedgerTransaction, TransactionKind, Wallet
from .catalog import Catalog, CoinRecord
from .errors import BalanceLimit, Conflict, DomainError, InsufficientFunds, NotFound
from .errors import Unavailable
from .money import MAX_BALANCE, ZERO, format_decimal
from .paging import Page, bounded
from .wallets import WalletView, new_address, view

log = logging.getLogger(__name__)

DEPOSIT_SCOPE = "deposit"
MAX_ATTEMPTS = 8
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

    def matches(self, tx: LedgerTransaction) -> bool:
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
    """The movement's whole transaction, retries included, runs to completion even when the
    call that asked for it is cancelled (db/writes.py)."""
    return await writes.run_to_completion(_post_with_retries(movement), expected=(DomainError,))


async def _post_with_retries(movement: Movement) -> Posted:
    """Lost races that a fresh attempt resolves are retried (db/errors.py says which: a
    duplicate key or wallet created concurrently, SQLite busy past its timeout, a PostgreSQL
    deadlock, serialization failure or lock timeout); if they go on, the ledger is busy."""
    try:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(db_errors.is_retryable),
            stop=stop_after_attempt(MAX_ATTEMPTS),
            wait=wait_random_exponential(multiplier=0.005, max=0.25),
            reraise=True,
        ):
            with attempt:
                # The first attempt skips the idempotency lookup: a used key fails the
                # insert on the unique index, and the retry looks it up (a round trip saved
                # on every first-time request, one attempt more on a replay).
                return await _post_once(movement,
                                        look_up_key=attempt.retry_state.attempt_number > 1)
    except Exception as exc:
        if not db_errors.is_retryable(exc):
            raise
        log.warning("ledger write gave up after %d attempts: %s", MAX_ATTEMPTS, exc)
        raise Unavailable("the ledger is busy: try again") from None
    raise AssertionError("unreachable")


async def _post_once(movement: Movement, *, look_up_key: bool) -> Posted:
    coin = movement.coin
    async with in_transaction() as connection:
        if look_up_key and movement.idempotency_key is not None:
            earlier = await LedgerTransaction.get_or_none(
                idempotency_scope=movement.idempotency_scope,
                idempotency_key=movement.idempotency_key)
            if earlier is not None:
                return await _replay(earlier, movement)
        # Written first: a concurrent request with the same key now waits on the unique index,
        # then fails, retries and finds this row as a replay.
        tx = await LedgerTransaction.create(
            kind=movement.kind, coin_id=coin.id, amount=movement.amount,
            from_user_id=movement.from_user_id, to_user_id=movement.to_user_id,
            idempotency_scope=movement.idempotency_scope,
            idempotency_key=movement.idempotency_key,
            destination_address=movement.destination_address, note=movement.note)
        wallets = await _locked_wallets(movement)
        entries = []
        if movement.from_user_id is not None:
            source = wallets[movement.from_user_id]
            if source.balance < movement.amount:
                raise InsufficientFunds(
                    f"insufficient {coin.symbol} balance: available "
                    f"{format_decimal(source.balance)}, requested "
                    f"{format_decimal(movement.amount)}")
            source.balance -= movement.amount
        if movement.to_user_id is not None:
            destination = wallets[movement.to_user_id]
            if destination.balance + movement.amount > MAX_BALANCE:
                # Refused here, the same on both backends: PostgreSQL would fail the write
                # (numeric field overflow) and SQLite would store the text as it is.
                raise BalanceLimit(
                    f"{coin.symbol} balance of user {movement.to_user_id} would exceed "
                    f"{format_decimal(MAX_BALANCE)}, the most a wallet can hold: it has "
                    f"{format_decimal(destination.balance)}")
            destination.balance += movement.amount
        for user_id, amount in ((movement.from_user_id, -movement.amount),
                                (movement.to_user_id, movement.amount)):
            entries.append(LedgerEntry(transaction=tx, coin_id=coin.id, user_id=user_id,
                                       amount=amount))
        # Both balances in one statement (bulk_update does not stamp auto_now fields).
        now = datetime.now(timezone.utc)
        for wallet in wallets.values():
            wallet.updated_at = now
        await Wallet.bulk_update(list(wallets.values()), fields=["balance", "updated_at"],
                                 using_db=connection)
        await LedgerEntry.bulk_create(entries, using_db=connection)
    return Posted(tx.id, {u: view(w, coin) for u, w in wallets.items()}, replayed=False)


async def _locked_wallets(movement: Movement) -> dict[int, Wallet]:
    """The wallets this movement touches, locked in id order. A missing destination wallet is
    created (after the lock: one query fewer when it exists, the usual case; a concurrent
    creation of the same wallet fails on the unique index and the movement is retried); a
    missing source wallet is NotFound."""
    coin = movement.coin
    users = [u for u in (movement.from_user_id, movement.to_user_id) if u is not None]
    rows = await (Wallet.filter(user_id__in=users, coin_id=coin.id)
                  .order_by("id").select_for_update())
    wallets = {w.user_id: w for w in rows}
    if movement.from_user_id is not None and movement.from_user_id not in wallets:
        raise NotFound(f"user {movement.from_user_id} has no {coin.symbol} wallet")
    if movement.to_user_id is not None and movement.to_user_id not in wallets:
        # Decimal zeros: the model's defaults are ints, which the views cannot format.
        wallets[movement.to_user_id] = await Wallet.create(
            user_id=movement.to_user_id, coin_id=coin.id, address=new_address(coin.symbol),
            balance=ZERO, locked_balance=ZERO)
    return wallets


async def _replay(earlier: LedgerTransaction, movement: Movement) -> Posted:
    if not movement.matches(earlier):
        raise Conflict(f"idempotency key {movement.idempotency_key!r} was already used for a "
                       f"different request (transaction {earlier.id})")
    users = [u for u in (movement.from_user_id, movement.to_user_id) if u is not None]
    wallets = await Wallet.filter(user_id__in=users, coin_id=movement.coin.id)
    return Posted(earlier.id, {w.user_id: view(w, movement.coin) for w in wallets},
                  replayed=True)


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
