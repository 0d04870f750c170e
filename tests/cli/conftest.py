"""The `crypto` client commands run in a thread (the CLI blocks) while the server they call
runs in the test's event loop: the real app for coins, the fake for wallets and streams."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from crypto_service.cli import app
from tests.client.conftest import app_address, fake, fake_address  # noqa: F401 (fixtures)

Invoke = Callable[..., Awaitable[Result]]


@pytest.fixture
def invoke() -> Invoke:
    runner = CliRunner()

    async def run(*args: str, env: dict[str, str] | None = None) -> Result:
        # A wide terminal, so that rich does not wrap or cut the values tests look for.
        environment = {"COLUMNS": "250", "CRYPTO_ADDRESS": None, "CRYPTO_TOKEN": None,
                       **(env or {})}
        return await asyncio.to_thread(runner.invoke, app, list(args), env=environment)

    return run


def json_output(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)
