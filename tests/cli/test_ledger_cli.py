"""`crypto audit` and `crypto token`."""

import asyncio
from datetime import timedelta
from decimal import Decimal

import jwt
import pytest
from typer.testing import CliRunner

from crypto_service.auth import Authenticator
from crypto_service.cli import app as cli
from crypto_service.db import connect
from crypto_service.db.models import Wallet
from crypto_service.domain import ledger
from crypto_service.domain.catalog import CatalogCache
from tests.conftest import make_coin


def populate(settings) -> None:
    async def run():
        async with connect.database(settings):
            await make_coin("BTC")
            coin = (await CatalogCache().current()).by_symbol["BTC"]
            await ledger.deposit(1, coin, Decimal("5"), "d-1")
            await ledger.transfer(1, 2, coin, Decimal("1.25"), "", None)
            await ledger.withdraw(2, coin, Decimal("0.25"), "addr", None)
    asyncio.run(run())


def tamper(settings) -> None:
    async def run():
        async with connect.database(settings):
            await Wallet.filter(user_id=2).update(balance=Decimal("-7"))
    asyncio.run(run())


def test_audit_is_clean_after_real_activity(settings):
    populate(settings)
    result = CliRunner().invoke(cli, ["audit", "--database-url", settings.database_url])
    assert result.exit_code == 0, result.output
    assert "3 transactions, 6 entries, 2 wallets, 1 coins" in result.output
    assert "ledger is consistent" in result.output


@pytest.mark.bypasses_ledger
def test_audit_fails_on_a_balance_the_ledger_does_not_explain(settings):
    populate(settings)
    tamper(settings)
    result = CliRunner().invoke(cli, ["audit", "--database-url", settings.database_url])
    assert result.exit_code == 1
    assert "user 2 BTC: balance -7 but ledger says 1" in result.output
    assert "user 2 BTC: negative balance -7" in result.output


def test_token_prints_a_verifiable_token(monkeypatch):
    monkeypatch.setenv("CRYPTO_JWT_SECRET", "cli-secret-cli-secret-cli-secret-32")
    from crypto_service.settings import get_settings
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["token", "--user", "7", "--admin", "--ttl", "15m"])
        assert result.exit_code == 0, result.output
        principal = Authenticator("cli-secret-cli-secret-cli-secret-32").authenticate(
            f"Bearer {result.output.strip()}")
        assert (principal.user_id, principal.is_admin) == (7, True)
        claims = jwt.decode(result.output.strip(), options={"verify_signature": False})
        assert timedelta(seconds=claims["exp"] - claims["iat"]) == timedelta(minutes=15)
        assert CliRunner().invoke(cli, ["token", "--user", "7", "--ttl", "soon"]).exit_code == 2
    finally:
        get_settings.cache_clear()


def test_token_needs_a_secret(monkeypatch):
    monkeypatch.delenv("CRYPTO_JWT_SECRET", raising=False)
    from crypto_service.settings import get_settings
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, ["token", "--user", "7"])
    assert result.exit_code == 1 and "CRYPTO_JWT_SECRET" in result.output
