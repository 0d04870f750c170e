"""What the client's calls return: typed, immutable values with money as `Decimal`.

The wire carries every price, amount, balance and percentage as a decimal string (exact, no
float); these types turn them into `Decimal` once, so `coin.current_price_usd * 2` works and
nothing is ever parsed twice or rounded. Each value keeps the message it was made from in
`wire` (not shown in its repr, not compared): for what a call returns, that is the whole
response (`success`, `message`, totals), which `crypto --json` prints; for the items inside
it, the item's own message.

Fields keep the proto's names, so code written against the generated messages (and the
examples) reads the same.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Self, TypeVar, get_args, get_origin, get_type_hints, overload

import betterproto2

from ..generated import crypto as pb
from .errors import CryptoError

R = TypeVar("R", bound="Result")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Result:
    """A value made from a wire message; `wire` is that message."""

    wire: betterproto2.Message = dataclasses.field(repr=False, compare=False)

    @classmethod
    def from_wire(cls, message: betterproto2.Message, *,
                  wire: betterproto2.Message | None = None) -> Self:
        """This type from `message`; `wire` (default: `message`) is kept as the origin."""
        values = {name: _convert(hint, getattr(message, name))
                  for name, hint in _field_types(cls).items()}
        return cls(**values, wire=message if wire is None else wire)


_FIELD_TYPES: dict[type, dict[str, Any]] = {}


def _field_types(cls: type) -> dict[str, Any]:
    """A result type's fields and their types (resolved once: annotations are strings)."""
    if cls not in _FIELD_TYPES:
        hints = get_type_hints(cls)
        _FIELD_TYPES[cls] = {f.name: hints[f.name] for f in dataclasses.fields(cls)
                             if f.name != "wire"}
    return _FIELD_TYPES[cls]


def _convert(hint: Any, value: Any) -> Any:
    if hint is Decimal:
        return Decimal(value) if value else Decimal(0)  # proto3 leaves an unset string empty
    if get_origin(hint) is tuple:
        item = get_args(hint)[0]
        return tuple(_convert(item, v) for v in value)
    if isinstance(hint, type) and issubclass(hint, Result):
        return None if value is None else hint.from_wire(value)
    return value


@dataclasses.dataclass(frozen=True, kw_only=True)
class Coin(Result):
    id: int
    symbol: str
    name: str
    slug: str
    current_price_usd: Decimal
    market_cap_usd: Decimal
    volume_24h_usd: Decimal
    price_change_24h_percent: Decimal
    price_change_7d_percent: Decimal
    price_change_30d_percent: Decimal
    logo_url: str
    description: str
    website: str
    whitepaper_url: str
    rank: int
    is_active: bool
    is_tradeable: bool
    is_price_up_24h: bool
    created_at: datetime | None
    updated_at: datetime | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class CoinList(Result, Sequence[Coin]):
    """The coins of a search, a top list or a trend: a sequence of `Coin`."""

    coins: tuple[Coin, ...]

    @overload
    def __getitem__(self, index: int) -> Coin: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Coin]: ...

    def __getitem__(self, index: int | slice) -> Coin | Sequence[Coin]:
        return self.coins[index]

    def __len__(self) -> int:
        return len(self.coins)

    def __iter__(self) -> Iterator[Coin]:
        return iter(self.coins)


@dataclasses.dataclass(frozen=True, kw_only=True)
class CoinPage(Result):
    """One page of ListCoins, with the page actually used and the totals."""

    coins: tuple[Coin, ...]
    total_count: int
    page: int
    page_size: int
    total_pages: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class MarketStats(Result):
    total_market_cap_usd: Decimal
    total_volume_24h_usd: Decimal
    active_coins_count: int
    coins_up_24h: int
    coins_down_24h: int
    average_change_24h: Decimal
    calculated_at: datetime | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class PriceUpdate(Result):
    symbol: str
    price_usd: Decimal
    change_24h_percent: Decimal
    timestamp: datetime | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Wallet(Result):
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
    created_at: datetime | None
    updated_at: datetime | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class WalletList(Result):
    wallets: tuple[Wallet, ...]
    total_value_usd: Decimal


@dataclasses.dataclass(frozen=True, kw_only=True)
class Holding(Result):
    symbol: str
    coin_name: str
    balance: Decimal
    value_usd: Decimal
    percentage: Decimal
    change_24h_percent: Decimal


@dataclasses.dataclass(frozen=True, kw_only=True)
class Portfolio(Result):
    total_value_usd: Decimal
    total_change_24h_usd: Decimal
    total_change_24h_percent: Decimal
    coins_count: int
    holdings: tuple[Holding, ...]
    calculated_at: datetime | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Posted(Result):
    """A Deposit or Withdraw: the wallet after it, the ledger transaction's id, and whether
    this answer is a replay (the idempotency key was seen before and nothing moved again).
    A server older than these fields leaves them empty and false; `message` says the same
    in words."""

    wallet: Wallet
    transaction_id: str
    replayed: bool
    message: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class Transfer(Result):
    """A Transfer: both wallets after it; `transaction_id` and `replayed` as in `Posted`."""

    from_wallet: Wallet
    to_wallet: Wallet
    transaction_id: str
    replayed: bool
    message: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class LedgerTransaction(Result):
    id: str
    kind: pb.TransactionKind
    symbol: str
    amount: Decimal
    balance_change: Decimal
    from_user_id: int
    to_user_id: int
    transaction_id: str
    destination_address: str
    note: str
    created_at: datetime | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class TransactionPage(Result):
    transactions: tuple[LedgerTransaction, ...]
    total_count: int
    page: int
    page_size: int
    total_pages: int


def coin_list(response: pb.ListCoinsResponse | pb.TrendingCoinsResponse) -> CoinList:
    return CoinList(coins=tuple(Coin.from_wire(c) for c in response.coins), wire=response)


def one(cls: type[R], item: betterproto2.Message | None, response: betterproto2.Message) -> R:
    """`cls` from the single item a response carries, keeping the whole response."""
    if item is None:  # a server that answers success without the item breaks the contract
        raise CryptoError(f"the server's {type(response).__name__} carries no "
                          f"{cls.__name__.lower()}")
    return cls.from_wire(item, wire=response)
