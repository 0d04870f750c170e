"""Recomputes every balance from the ledger and checks the ledger's own invariants."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from ..db.models import Coin, LedgerEntry, LedgerTransaction, Wallet
from .money import ZERO, format_decimal


@dataclass
class AuditReport:
    wallets: int = 0
    transactions: int = 0
    entries: int = 0
    coins: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems


async def audit() -> AuditReport:
    """Sums happen in Python Decimal: SQLite's SUM would go through floats."""
    report = AuditReport()
    symbols = dict(await Coin.all().values_list("id", "symbol"))
    per_account: dict[tuple[int, int], Decimal] = defaultdict(lambda: ZERO)
    per_coin: dict[int, Decimal] = defaultdict(lambda: ZERO)
    per_transaction: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for transaction_seq, coin_id, user_id, amount in await LedgerEntry.all().values_list(
            "transaction_id", "coin_id", "user_id", "amount"):
        report.entries += 1
        per_coin[coin_id] += amount
        per_transaction[transaction_seq] += amount
        if user_id is not None:
            per_account[(user_id, coin_id)] += amount
    report.transactions = await LedgerTransaction.all().count()
    report.coins = len(per_coin)

    for seq, total in per_transaction.items():
        if total != 0:
            report.problems.append(f"transaction #{seq}: entries sum to {format_decimal(total)}")
    for coin_id, total in per_coin.items():
        if total != 0:
            report.problems.append(f"{symbols.get(coin_id, coin_id)}: entries sum to "
                                   f"{format_decimal(total)}, not 0")
    seen = set()
    for user_id, coin_id, balance in await Wallet.all().values_list("user_id", "coin_id",
                                                                     "balance"):
        report.wallets += 1
        key = (user_id, coin_id)
        seen.add(key)
        expected = per_account.get(key, ZERO)
        name = f"user {user_id} {symbols.get(coin_id, coin_id)}"
        if balance != expected:
            report.problems.append(f"{name}: balance {format_decimal(balance)} but ledger says "
                                   f"{format_decimal(expected)}")
        if balance < 0:
            report.problems.append(f"{name}: negative balance {format_decimal(balance)}")
    for user_id, coin_id in per_account.keys() - seen:
        report.problems.append(f"user {user_id} {symbols.get(coin_id, coin_id)}: ledger entries "
                               f"but no wallet")
    return report
