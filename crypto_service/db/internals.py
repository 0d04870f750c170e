"""Checks, at import, that library code a module replaces is the code it was written against.

A subclass that overrides a library's method copies what that method did; if a release of
the library changes the method, the copy silently drops the change. So each such module lists
the methods it replaces or relies on with a fingerprint of their source, and refuses to load
(naming them) when one differs: the fix is to review the override against the new code and
update the fingerprints, not to run with a stale copy.
"""

from __future__ import annotations

import hashlib
import inspect
import textwrap
from collections.abc import Callable, Mapping
from typing import Any


class LibraryChanged(ImportError):
    pass


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
