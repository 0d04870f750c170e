"""Modules that override a library's methods refuse to load against other versions of them."""

import pytest

from crypto_service.db import asyncpg_engine, internals, sqlite_engine


def test_the_engines_match_the_installed_tortoise():
    # Importing them ran the check; a mismatch would have raised LibraryChanged.
    assert sqlite_engine.client_class and asyncpg_engine.client_class


def test_a_changed_method_is_named_when_the_module_loads():
    def replaced():
        return 1

    with pytest.raises(internals.LibraryChanged, match=r"test_internals\..*replaced"):
        internals.expect_unchanged("some_engine", {replaced: "0" * 16})
    internals.expect_unchanged("some_engine", {replaced: internals.fingerprint(replaced)})
