"""Decimal parsing and formatting for money, prices and percentages.

Amounts travel as plain-notation strings and live in `Decimal` with 18 fractional digits;
nothing between the wire and the database goes through binary floating point.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

from . import grammar
from .errors import InvalidArgument

# 28 digits (the default) cannot hold 38-digit values: quantizing one raises InvalidOperation.
# DefaultContext seeds the context of every thread and task created after this import.
PRECISION = 80
decimal.DefaultContext.prec = PRECISION
decimal.getcontext().prec = PRECISION

FRACTION_DIGITS = 18
INTEGER_DIGITS = 20  # 38 digits in all, the columns' precision
QUANTUM = Decimal(1).scaleb(-FRACTION_DIGITS)
MAX_AMOUNT = Decimal(10) ** INTEGER_DIGITS - QUANTUM
MAX_BALANCE = MAX_AMOUNT  # the largest value NUMERIC(38,18) holds
MAX_AMOUNT_TEXT = 64

ZERO = Decimal(0)


def format_decimal(value: Decimal | None) -> str:
    """Plain notation without trailing zeros: `0.00000001`, `1500`, `0`; never `1E-8`."""
    if value is None or value.is_zero():
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def parse_amount(text: str, field: str) -> Decimal:
    """A positive amount in plain notation (`grammar.AMOUNT`) with at most 18 fractional
    digits, or InvalidArgument naming the field."""
    if not text:
        raise InvalidArgument(f"{field} is required")
    if len(text) > MAX_AMOUNT_TEXT:
        raise InvalidArgument(f"{field} is too long")
    if not grammar.matches(grammar.AMOUNT, text):
        raise InvalidArgument(f"{field} must be ASCII digits with an optional '.' and digits "
                              f"after it, like 12.5, got {text!r}")
    value = Decimal(text)
    if value <= 0:
        raise InvalidArgument(f"{field} must be positive, got {text!r}")
    if value > MAX_AMOUNT:
        raise InvalidArgument(f"{field} must be less than 1e{INTEGER_DIGITS}")
    if value != value.quantize(QUANTUM, rounding=decimal.ROUND_DOWN):
        raise InvalidArgument(f"{field} has more than {FRACTION_DIGITS} fractional digits")
    return value


def quantize(value: Decimal) -> Decimal:
    """Rounds to the columns' 18 fractional digits, so memory and database hold the same value."""
    return value.quantize(QUANTUM, rounding=decimal.ROUND_HALF_EVEN)


def round_significant(value: Decimal, digits: int) -> Decimal:
    """`value` to `digits` significant digits (and at most 18 fractional ones), the way
    markets quote prices: 93355.33, 0.00002134."""
    if value.is_zero():
        return quantize(value)
    exponent = max(value.adjusted() - digits + 1, -FRACTION_DIGITS)
    return value.quantize(Decimal(1).scaleb(exponent), rounding=decimal.ROUND_HALF_EVEN)


def to_decimal(value: object) -> Decimal:
    """A value from a data file or the database as an exact Decimal (floats via their repr)."""
    if value is None:
        return ZERO
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))
