"""Python arguments to request fields: amounts, enum names, addresses.

Money never passes through binary floating point: an amount is a `Decimal`, a `str` or an
`int`, and a `float` (or a `bool`, which is an int) is a `TypeError` before anything is sent.
"""

from __future__ import annotations

from decimal import Decimal
from enum import IntEnum
from typing import TypeVar

from .errors import InvalidAddress, InvalidArgument

Amount = Decimal | str | int
E = TypeVar("E", bound=IntEnum)

DEFAULT_PORT = 50051
# Short names for the trending kinds, as `crypto trending gainers|losers|traded` spells them.
TRENDING_ALIASES = {"gainers": "TOP_GAINERS", "losers": "TOP_LOSERS", "traded": "MOST_TRADED"}


def amount_text(amount: Amount) -> str:
    """The wire form of an amount: plain notation, exactly as given."""
    if isinstance(amount, bool) or not isinstance(amount, (Decimal, str, int)):
        raise TypeError(f"amount must be a Decimal, str or int, not {type(amount).__name__} "
                        "(floats cannot hold money exactly)")
    if isinstance(amount, Decimal):
        return format(amount, "f")
    return str(amount)


def enum_value(enum: type[E], value: E | str, aliases: dict[str, str] | None = None) -> E:
    """An enum member from itself or its name, case-insensitively (`"price"` -> `PRICE`)."""
    if isinstance(value, enum):
        return value
    name = str(value).strip()
    name = (aliases or {}).get(name.lower(), name).upper()
    try:
        return enum[name]
    except KeyError:
        choices = ", ".join([*(aliases or {}), *(m.name.lower() for m in enum if m.value)])
        raise InvalidArgument(f"unknown {enum.__name__} {value!r}: one of {choices}") from None


def host_and_port(address: str) -> tuple[str, int]:
    """`host:port`, `[v6]:port`, or a bare host (port 50051)."""
    address = address.strip()
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        port = rest.removeprefix(":")
    elif address.count(":") == 1:
        host, port = address.split(":")
    else:
        host, port = address, ""
    if not host:
        raise InvalidAddress(f"address {address!r} has no host")
    if not port:
        return host, DEFAULT_PORT
    if not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidAddress(f"address {address!r}: the port must be a number from 1 to 65535")
    return host, int(port)
