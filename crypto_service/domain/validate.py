"""Checks for the free-text and id fields of requests."""

from __future__ import annotations

from . import grammar
from .errors import InvalidArgument

MAX_USER_ID = 2**31 - 1


def user_id(value: int, field: str = "user_id") -> int:
    if not 0 < value <= MAX_USER_ID:
        raise InvalidArgument(f"{field} must be a positive integer, got {value}")
    return value


def token(value: str, field: str, max_length: int = 128) -> str:
    """1 to max_length visible ASCII characters (`grammar.KEY`: addresses, keys)."""
    if not value:
        raise InvalidArgument(f"{field} is required")
    if len(value) > max_length:
        raise InvalidArgument(f"{field} must be at most {max_length} characters")
    if not grammar.matches(grammar.KEY, value):
        raise InvalidArgument(f"{field} must be visible ASCII characters without whitespace")
    return value


def text(value: str, field: str, max_length: int) -> str:
    if len(value) > max_length:
        raise InvalidArgument(f"{field} must be at most {max_length} characters")
    if not value.isprintable():
        raise InvalidArgument(f"{field} must be printable text")
    return value
