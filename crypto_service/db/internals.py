"""Import-time checks for code that patches a library or reads its internals.

A module that replaces something in a library (grpclib), or uses what the library does not
document (grpclib's stream attributes, Tortoise's migration executor), states at import what
it relies on. A version of the library that differs stops the
import with an error naming the library, its version and what changed, instead of a server
that misbehaves at its first request. pyproject.toml caps these libraries at the versions
tested; these checks catch what a cap cannot (a patched or vendored copy, a cap lifted).
`h2_data` checks its own way: it has a safe fallback, h2's own `send_data`.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version
from typing import Any, Callable


class LibraryChanged(ImportError):
    pass


def expect(condition: bool, library: str, what: str) -> None:
    if not condition:
        raise LibraryChanged(
            f"{library} {version(library)} does not match what crypto-service relies on: "
            f"{what} (pyproject.toml gives the versions it was tested with)")


def parameters(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


def sets_attributes(cls: type, *names: str) -> bool:
    """Whether `cls.__init__` assigns every one of `names` (read from its code's names)."""
    init = cls.__init__
    return all(name in init.__code__.co_names for name in names)
