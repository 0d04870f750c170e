"""Import-time checks for code that patches a library or reads its internals.

A module that replaces something in a library (grpclib, Tortoise), or uses what the library
does not document (grpclib's stream attributes, Tortoise's migration executor), states at
import what it relies on. A version of the library that differs stops the import with an
error naming what changed, instead of a server that misbehaves at its first request.
pyproject.toml caps these libraries at the versions tested; these checks catch what a cap
cannot (a patched or vendored copy, a cap lifted). Two kinds:

- `expect`: a structural fact (a signature, an attribute an `__init__` sets);
- `expect_unchanged`: for a subclass that overrides a method and so copies what it did, a
  fingerprint of the method's source. If a release changes the method, the copy would
  silently drop the change: review the override against the new code and update the
  fingerprint, rather than run with a stale copy.

`h2_data` checks its own way: it has a safe fallback, h2's own `send_data`.
"""

from __future__ import annotations

import hashlib
import inspect
import textwrap
from collections.abc import Callable, Mapping
from importlib.metadata import version
from typing import Any


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


def fingerprint(function: Callable[..., Any]) -> str:
    source = textwrap.dedent(inspect.getsource(function))
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def expect_unchanged(module: str, expected: Mapping[Callable[..., Any], str]) -> None:
    """Raises LibraryChanged unless every function's source has its expected fingerprint."""
    changed = []
    for function, digest in expected.items():
        try:
            found = fingerprint(function)
        except (OSError, TypeError):  # no source to compare: treat as changed
            found = "unavailable"
        if found != digest:
            changed.append(f"{function.__module__}.{function.__qualname__} ({found})")
    if changed:
        raise LibraryChanged(f"{module} was written against other versions of: "
                             f"{', '.join(changed)}; review it against the installed library")
