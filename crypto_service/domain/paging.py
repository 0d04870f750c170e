"""AIP-158 style limits: negative is an error, 0 means the default, too large is lowered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from .errors import InvalidArgument

T = TypeVar("T")


def bounded(value: int, *, field: str, default: int, maximum: int) -> int:
    if value < 0:
        raise InvalidArgument(f"{field} must not be negative, got {value}")
    if value == 0:
        return default
    return min(value, maximum)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total_count: int
    page: int
    page_size: int

    @property
    def total_pages(self) -> int:
        return -(-self.total_count // self.page_size)


def paginate(items: list[T], page: int, page_size: int) -> Page[T]:
    start = (page - 1) * page_size
    return Page(items[start:start + page_size], len(items), page, page_size)
