"""Wallets as users see them: balances valued at current prices, and the portfolio."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from ..db.models import Wallet
from .catalog import Catalog, CoinRecord
from .errors import NotFound
from .money import ZERO, quantize

PERCENT_PLACES = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class WalletView:
    id: int
    user_id: int
    coin_id: int
    symbol: str
    coin_name: str
    balance: Decimal
    locked_balance: Decimal
    total_balance: Decimal
    value_usd: Decimal
    address: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class WalletList:
    wallets: list[WalletView]
    total_value_usd: Decimal


@dataclass(frozen=True, slots=True)
class Holding:
    symbol: str
    coin_name: str
    balance: Decimal
    value_usd: Decimal
    percentage: Decimal
    change_24h_percent: Decimal


@dataclass(frozen=True, slots=True)
class Portfolio:
    total_value_usd: Decimal
    total_change_24h_usd: Decimal
    total_change_24h_percent: Decimal
    holdings: list[Holding]


def new_address(symbol: str) -> str:
    """A deposit address for a new wallet (a demo format: symbol and 160 random bits)."""
    return f"{symbol.lower()}_{secrets.token_hex(20)}"


class WalletState(Protocol):
    """A wallet row: a `Wallet` model, or the ledger's plain row of one (db/ledger_rows.py)."""

    id: int | None
    user_id: int
    balance: Decimal
    locked_balance: Decimal
    address: str
    created_at: datetime
    updated_at: datetime


def view(wallet: WalletState, coin: CoinRecord) -> WalletView:
    total = wallet.balance + wallet.locked_balance
    return WalletView(
        id=wallet.id, user_id=wallet.user_id, coin_id=coin.id, symbol=coin.symbol,
        coin_name=coin.name, balance=wallet.balance, locked_balance=wallet.locked_balance,
        total_balance=total, value_usd=quantize(total * coin.current_price_usd),
        address=wallet.address, created_at=wallet.created_at, updated_at=wallet.updated_at,
    )


async def get_wallet(user_id: int, coin: CoinRecord) -> WalletView:
    wallet = await Wallet.get_or_none(user_id=user_id, coin_id=coin.id)
    if wallet is None:
        raise NotFound(f"user {user_id} has no {coin.symbol} wallet")
    return view(wallet, coin)


async def list_wallets(catalog: Catalog, user_id: int, *, exclude_zero: bool) -> WalletList:
    """Largest value first (ties by symbol)."""
    views = [view(w, catalog.by_id[w.coin_id])
             for w in await Wallet.filter(user_id=user_id) if w.coin_id in catalog.by_id]
    if exclude_zero:
        views = [v for v in views if v.total_balance != 0]
    views.sort(key=lambda v: (-v.value_usd, v.symbol))
    return WalletList(views, sum((v.value_usd for v in views), ZERO))


def value_24h_ago(value: Decimal, change_percent: Decimal) -> Decimal:
    """The value before a move of change_percent: value / (1 + p/100). A fall of 100% or more
    leaves no earlier value to recover, so it counts as unchanged."""
    factor = 1 + change_percent / 100
    return value / factor if factor > 0 else value


async def portfolio(catalog: Catalog, user_id: int) -> Portfolio:
    held = await list_wallets(catalog, user_id, exclude_zero=True)
    total = held.total_value_usd
    before = ZERO
    holdings = []
    for v in held.wallets:
        change = catalog.by_id[v.coin_id].price_change_24h_percent
        before += value_24h_ago(v.value_usd, change)
        share = (v.value_usd * 100 / total).quantize(PERCENT_PLACES) if total else ZERO
        holdings.append(Holding(v.symbol, v.coin_name, v.total_balance, v.value_usd, share, change))
    change_usd = quantize(total - before)
    change_percent = quantize(change_usd * 100 / before) if before else ZERO
    return Portfolio(total, change_usd, change_percent, holdings)
