"""CoinGecko `/coins/markets` data: parsing rows onto our coin fields, and upserting them.

Used by `crypto seed` (the bundled snapshot or a user's export). A file is checked whole before
anything is written, and written in one transaction, so a bad row changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from tortoise.transactions import in_transaction

from ..db.models import Coin
from .catalog import announce_in, coins_changed
from .errors import InvalidArgument
from .money import MAX_AMOUNT, ZERO, quantize

BUNDLED_SNAPSHOT = "coins_markets.json"


@dataclass(frozen=True, slots=True)
class CoinData:
    """One coin's fields as we store them, from one row of a snapshot."""

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
    is_price_up_24h: bool


@dataclass(frozen=True, slots=True)
class Snapshot:
    as_of: str | None
    coins: list[CoinData]


@dataclass(frozen=True, slots=True)
class UpsertResult:
    created: int
    updated: int
    unchanged: int


class RowError(InvalidArgument):
    def __init__(self, index: int, row: Any, field: str, problem: str) -> None:
        label = row.get("id") if isinstance(row, dict) else None
        where = f"row {index}" + (f" ({label})" if isinstance(label, str) and label else "")
        super().__init__(f"{where}: field {field!r}: {problem}")


def _text(row: dict, index: int, field: str, *, max_length: int, required: bool) -> str:
    value = row.get(field)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise RowError(index, row, field, "must be a non-empty string" if required
                       else "must be a string")
    if len(value) > max_length:
        raise RowError(index, row, field, f"must be at most {max_length} characters")
    return value.strip()


def _decimal(row: dict, index: int, *fields: str, required: bool = False,
             signed: bool = True) -> Decimal:
    """The first of `fields` present in the row, as an exact Decimal (floats via their repr)."""
    field = next((f for f in fields if row.get(f) is not None), fields[0])
    value = row.get(field)
    if value is None:
        if required:
            raise RowError(index, row, field, "is required")
        return ZERO
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise RowError(index, row, field, f"must be a number, got {value!r}")
    try:
        number = Decimal(repr(value) if isinstance(value, float) else str(value))
    except InvalidOperation:
        raise RowError(index, row, field, f"must be a number, got {value!r}") from None
    if not number.is_finite() or abs(number) > MAX_AMOUNT:
        raise RowError(index, row, field, f"is out of range: {value!r}")
    if number < 0 and not signed:
        raise RowError(index, row, field, f"must not be negative, got {value!r}")
    return quantize(number)


def _rank(row: dict, index: int) -> int:
    value = row.get("market_cap_rank")
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise RowError(index, row, "market_cap_rank", f"must be a positive integer, got {value!r}")
    return value


def parse_row(index: int, row: Any) -> CoinData:
    if not isinstance(row, dict):
        raise RowError(index, row, "*", "must be an object")
    change_24h = _decimal(row, index, "price_change_percentage_24h_in_currency",
                          "price_change_percentage_24h")
    return CoinData(
        symbol=_text(row, index, "symbol", max_length=32, required=True).upper(),
        name=_text(row, index, "name", max_length=128, required=True),
        slug=_text(row, index, "id", max_length=128, required=True).lower(),
        current_price_usd=_decimal(row, index, "current_price", required=True, signed=False),
        market_cap_usd=_decimal(row, index, "market_cap", signed=False),
        volume_24h_usd=_decimal(row, index, "total_volume", signed=False),
        price_change_24h_percent=change_24h,
        price_change_7d_percent=_decimal(row, index, "price_change_percentage_7d_in_currency"),
        price_change_30d_percent=_decimal(row, index, "price_change_percentage_30d_in_currency"),
        logo_url=_text(row, index, "image", max_length=512, required=False),
        description=_text(row, index, "description", max_length=10_000, required=False),
        website=_text(row, index, "homepage", max_length=512, required=False),
        whitepaper_url=_text(row, index, "whitepaper", max_length=512, required=False),
        rank=_rank(row, index),
        is_price_up_24h=change_24h > 0,
    )


def parse_snapshot(document: Any) -> Snapshot:
    """A `/coins/markets` array, or `{"as_of": ..., "coins": [...]}` around one."""
    as_of = None
    rows = document
    if isinstance(document, dict):
        as_of, rows = document.get("as_of"), document.get("coins")
    if not isinstance(rows, list):
        raise InvalidArgument("expected a JSON array of coins or an object with a 'coins' array")
    coins = [parse_row(index, row) for index, row in enumerate(rows, start=1)]
    for field in ("symbol", "slug"):
        seen: dict[str, int] = {}
        for index, coin in enumerate(coins, start=1):
            value = getattr(coin, field)
            if value in seen:
                raise RowError(index, rows[index - 1], "id" if field == "slug" else field,
                               f"duplicates row {seen[value]} ({value!r})")
            seen[value] = index
    return Snapshot(as_of if isinstance(as_of, str) else None, coins)


def load_snapshot(path: Path | None = None) -> Snapshot:
    """The bundled snapshot, or a user's file."""
    try:
        if path is None:
            text = resources.files("crypto_service").joinpath("data", BUNDLED_SNAPSHOT).read_text()
        else:
            text = path.read_text(encoding="utf-8")
        document = json.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"not valid JSON: {exc}") from None
    return parse_snapshot(document)


async def upsert_coins(coins: list[CoinData]) -> UpsertResult:
    """Creates new symbols and updates changed ones, in one transaction; identical rows are
    left alone, so loading the same data twice changes nothing."""
    created = updated = 0
    async with in_transaction() as connection:
        existing = {c.symbol: c for c in await Coin.all().select_for_update()}
        slug_owner = {c.slug: c.symbol for c in existing.values()}
        for index, data in enumerate(coins, start=1):
            owner = slug_owner.get(data.slug)
            if owner is not None and owner != data.symbol:
                raise InvalidArgument(f"row {index} ({data.slug}): field 'id': slug already "
                                      f"belongs to {owner}")
            fields = asdict(data)
            coin = existing.get(data.symbol)
            if coin is None:
                await Coin.create(**fields)
                created += 1
                continue
            changed = {k: v for k, v in fields.items() if getattr(coin, k) != v}
            if changed:
                if "slug" in changed:
                    slug_owner.pop(coin.slug, None)
                    slug_owner[data.slug] = data.symbol
                coin.update_from_dict(changed)
                await coin.save(update_fields=[*changed, "updated_at"])
                updated += 1
        if created or updated:
            await announce_in(connection)
    if created or updated:
        coins_changed()
    return UpsertResult(created, updated, len(coins) - created - updated)
