"""Numbers as a person reads them: `$1,843,295,688,745.05`, `$1.84T`, `$0.0000009234`,
`+1.50%`. Tables use these; `--json` keeps every digit the server sent."""

from __future__ import annotations

import decimal
from datetime import datetime, timezone
from decimal import Decimal

from rich.text import Text

PRICE_DIGITS = 4  # significant digits of an amount under one dollar: $0.0000009234
COMPACT = [(Decimal(10) ** 12, "T"), (Decimal(10) ** 9, "B"), (Decimal(10) ** 6, "M"),
           (Decimal(10) ** 3, "K")]
CENT = Decimal("0.01")


def usd(value: Decimal) -> str:
    """Dollars and cents with thousands separators; under a dollar, enough significant
    digits that a sub-cent price keeps its figures."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value.is_zero() or value >= 1:
        return f"{sign}${value.quantize(CENT, rounding=decimal.ROUND_HALF_EVEN):,.2f}"
    exponent = min(value.adjusted() - PRICE_DIGITS + 1, -2)
    rounded = value.quantize(Decimal(1).scaleb(exponent), rounding=decimal.ROUND_HALF_EVEN)
    whole, _, fraction = format(rounded, "f").partition(".")
    return f"{sign}${whole}.{fraction.rstrip('0').ljust(2, '0')}"  # $0.50, $0.0000009234


def usd_compact(value: Decimal) -> str:
    """Three significant figures and a suffix: `$1.84T`, `$412B`, `$9.87M`."""
    magnitude = abs(value)
    if magnitude >= 1000:  # rounded first, so that 999,999 reads $1.00M, not $1000K
        magnitude = magnitude.quantize(Decimal(1).scaleb(magnitude.adjusted() - 2),
                                       rounding=decimal.ROUND_HALF_EVEN)
    for size, suffix in COMPACT:
        if magnitude >= size:
            scaled = magnitude / size
            places = max(0, 2 - scaled.adjusted())
            return f"{'-' if value < 0 else ''}${scaled:.{places}f}{suffix}"
    return usd(value)


def percent(value: Decimal) -> Text:
    """`+1.50%` in green, `-2.25%` in red, `0.00%` plain."""
    rounded = value.quantize(CENT, rounding=decimal.ROUND_HALF_EVEN)
    if rounded.is_zero():
        return Text("0.00%")
    return Text(f"{rounded:+,.2f}%", style="green" if rounded > 0 else "red")


def share(value: Decimal) -> str:
    """A part of a whole, in percent: `42.10%`."""
    return f"{value.quantize(CENT, rounding=decimal.ROUND_HALF_EVEN):,.2f}%"


def amount(value: Decimal) -> str:
    """A coin amount to the last digit the ledger holds, with thousands separators."""
    text = f"{value.normalize():,f}" if not value.is_zero() else "0"
    return text


def signed_amount(value: Decimal) -> Text:
    text = amount(value)
    if value > 0:
        return Text(f"+{text}", style="green")
    return Text(text, style="red" if value < 0 else "")


def when(value: datetime | None) -> str:
    """UTC, to the second: `2026-11-27 10:24:30`."""
    if value is None:
        return ""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def yes_no(value: bool) -> str:
    return "yes" if value else "no"
