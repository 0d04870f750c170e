"""Every way a command can fail is one line on stderr, `error: ...`, nothing on stdout, and
exit 1, or 2 for a command line (or setting) that does not parse."""

import asyncio
import os
from importlib import metadata
import subprocess
import sys
from decimal import Decimal

import pytest

from crypto_service import __version__
from crypto_service.client import AsyncCryptoClient
from crypto_service.settings import get_settings
from tests.conftest import make_coin
from tests.server.test_process import free_port

SECRET_32 = "0123456789abcdef0123456789abcdef"


@pytest.fixture
async def address(app_address):
    await make_coin("BTC", name="Bitcoin", slug="bitcoin", rank=1,
                    current_price_usd=Decimal("94000.5"))
    async with AsyncCryptoClient(app_address) as client:
        await client.deposit(2, "BTC", "1")
    return app_address


def assert_one_line(result, code: int, starts: str, *contains: str) -> None:
    assert (result.exit_code, result.stdout) == (code, ""), result.output
    assert result.stderr.startswith(starts), result.stderr
    assert result.stderr.endswith("\n") and result.stderr.count("\n") == 1, result.stderr
    for text in contains:
        assert text in result.stderr


# arguments (the server's address is added), exit code, the line's start, text it holds
SERVER_ERRORS = [
    (["coin", "NOPE"], 1, "error: NOT_FOUND: ", "NOPE"),
    (["coin", "nope"], 1, "error: NOT_FOUND: ", "symbol or slug 'nope'"),
    (["wallet", "1", "BTC"], 1, "error: NOT_FOUND: ", ""),
    (["withdraw", "2", "BTC", "5", "bc1qdest"], 1, "error: FAILED_PRECONDITION: ", "1"),
    (["stream", "FOO"], 1, "error: NOT_FOUND: ", "FOO"),
    (["health", "no.such.Service"], 1, "error: NOT_FOUND: ", "no.such.Service"),
    # Negative numbers are values: the server says what is wrong with them.
    (["deposit", "1", "BTC", "-1"], 1, "error: INVALID_ARGUMENT: ", "amount"),
    (["transfer", "1", "2", "BTC", "-0.5"], 1, "error: INVALID_ARGUMENT: ", "amount"),
    (["coins", "--page", "-2"], 1, "error: INVALID_ARGUMENT: ", "page"),
    # Usage errors: exit 2, with where to look.
    (["deposit", "1"], 2, "error: Missing argument 'SYMBOL'.", "crypto deposit --help"),
    (["top", "--bogus"], 2, "error: No such option: --bogus", "crypto top --help"),
    (["deposit", "1", "BTC", "-x"], 2, "error: No such option: -x", ""),
    (["top", "ten"], 2, "error: Invalid value for 'N': must be a whole number", ""),
    (["trending", "hot"], 2, "error: Invalid value for ", "gainers"),
    (["wallet", "0", "BTC"], 2, "error: Invalid value for 'USER': must be greater", ""),
    (["market", "--timeout", "0"], 2, "error: Invalid value for '--timeout'", ""),
]


@pytest.mark.parametrize("args, code, starts, contains", SERVER_ERRORS,
                         ids=[" ".join(e[0]) for e in SERVER_ERRORS])
async def test_errors_against_a_server(invoke, address, args, code, starts, contains):
    assert_one_line(await invoke(*args, "--address", address), code, starts, contains)


async def test_json_mode_fails_the_same_way(invoke, address):
    result = await invoke("coin", "NOPE", "--json", "--address", address)
    assert_one_line(result, 1, "error: NOT_FOUND: ")


async def test_a_server_that_is_not_serving_exits_1(invoke, app, address):
    app.serving.set(False)
    result = await invoke("health", "--address", address)
    assert (result.exit_code, result.stdout) == (1, "server: NOT_SERVING\n")


@pytest.mark.parametrize("address, says", [
    ("127.0.0.1:99999", "port must be a number from 1 to 65535"),
    ("localhost:http", "port must be a number"),
    (":50051", "has no host"),
])
async def test_a_bad_address(invoke, address, says):
    result = await invoke("coin", "BTC", "--address", address)
    assert_one_line(result, 1, f"error: INVALID_ARGUMENT: address '{address}'", says)


async def test_no_server_there(invoke):
    result = await invoke("market", "--address", f"127.0.0.1:{free_port()}", "--timeout", "2")
    assert_one_line(result, 1, "error: UNAVAILABLE: connection failed")


async def test_a_server_that_does_not_answer_in_time(invoke, fake, fake_address, monkeypatch):
    async def never_answers(message):
        await asyncio.Event().wait()

    monkeypatch.setattr(fake, "get_wallet", never_answers)
    result = await invoke("wallet", "7", "BTC", "--timeout", "0.2", "--address", fake_address)
    assert_one_line(result, 1, "error: DEADLINE_EXCEEDED")


async def test_unknown_command_and_no_command(invoke):
    assert_one_line(await invoke("nope"), 2, "error: No such command 'nope'")
    alone = await invoke()  # no command: the help, as `crypto --help` prints it
    assert (alone.exit_code, alone.stdout) == (0, (await invoke("--help")).stdout)


async def test_version(invoke):
    result = await invoke("--version")
    assert (result.exit_code, result.stdout) == (0, f"crypto-service {__version__}\n")
    assert __version__ == metadata.version("crypto-service")


@pytest.mark.parametrize("secret, args, code, starts", [
    ("short", ["token", "--user", "1"], 1,
     "error: CRYPTO_JWT_SECRET is 5 bytes; HS256 needs at least 32"),
    (SECRET_32, ["token", "--user", "1", "--ttl", "90"], 2,
     "error: Invalid value for '--ttl': '90' is not a lifetime"),
    (SECRET_32, ["token", "--user", "1", "--ttl", "0s"], 2, "error: Invalid value for '--ttl'"),
])
async def test_token(invoke, monkeypatch, secret, args, code, starts):
    monkeypatch.setenv("CRYPTO_JWT_SECRET", secret)
    get_settings.cache_clear()
    try:
        assert_one_line(await invoke(*args), code, starts)
    finally:
        get_settings.cache_clear()


def test_a_bad_setting_is_a_usage_error_naming_its_variable(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", "from crypto_service.cli import main; main()", "serve"],
        env={**os.environ, "CRYPTO_PORT": "eighty", "CRYPTO_DATABASE_URL":
             f"sqlite://{tmp_path / 'x.db'}"},
        capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "error: setting port (CRYPTO_PORT): must be a whole number\n"
