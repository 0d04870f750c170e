"""Wallet methods against the fake service in memory: the requests and metadata the server
receives, and the results the caller gets back."""

from decimal import Decimal

import pytest

from crypto_service.client import Wallet
from crypto_service.generated import crypto as pb


async def test_get_wallet_sends_the_user_and_coin_and_returns_the_wallet(fake, fake_client):
    wallet = await fake_client.get_wallet(7, "BTC")
    assert isinstance(wallet, Wallet)
    assert (wallet.user_id, wallet.symbol, wallet.balance) == (7, "BTC", Decimal("1.5"))
    assert fake.calls[-1].request == pb.GetWalletRequest(user_id=7, symbol="BTC")
    await fake_client.get_wallet(7, coin_id=3)
    assert fake.calls[-1].request == pb.GetWalletRequest(user_id=7, coin_id=3)


async def test_every_call_carries_the_bearer_token(fake, fake_client):
    await fake_client.list_wallets(7)
    assert fake.calls[-1].metadata["authorization"] == "Bearer t0k3n"


async def test_list_wallets_and_portfolio_return_the_responses_with_totals(fake, fake_client):
    wallets = await fake_client.list_wallets(7, exclude_zero_balance=True)
    assert [w.symbol for w in wallets.wallets] == ["BTC"]
    assert wallets.total_value_usd == Decimal("1.5")
    assert fake.calls[-1].request.exclude_zero_balance is True
    portfolio = await fake_client.get_portfolio(user_id=7)
    assert portfolio.total_value_usd == Decimal("47000.25")
    assert [h.symbol for h in portfolio.holdings] == ["BTC"]


async def test_list_transactions_sends_the_filters(fake, fake_client):
    history = await fake_client.list_transactions(7, "BTC", page=2, page_size=5)
    assert history.transactions[0].kind == pb.TransactionKind.DEPOSIT
    assert fake.calls[-1].request == pb.ListTransactionsRequest(user_id=7, symbol="BTC", page=2,
                                                                page_size=5)


@pytest.mark.parametrize("amount, wire", [
    (Decimal("0.00000001"), "0.00000001"),  # plain notation, never 1E-8
    (Decimal("1E+3"), "1000"),
    ("2.50", "2.50"),
    (3, "3"),
])
async def test_amounts_travel_exactly_as_plain_strings(fake, fake_client, amount, wire):
    posted = await fake_client.deposit(1, "BTC", amount, transaction_id="ext-9")
    assert fake.calls[-1].request == pb.DepositRequest(user_id=1, symbol="BTC", amount=wire,
                                                       transaction_id="ext-9")
    assert posted.wallet.balance == Decimal(wire)


@pytest.mark.parametrize("amount", [0.1, 1.0, True])
async def test_a_float_amount_is_a_type_error_and_nothing_is_sent(fake, fake_client, amount):
    for call in (lambda: fake_client.deposit(1, "BTC", amount),
                 lambda: fake_client.withdraw(1, "BTC", amount, "addr"),
                 lambda: fake_client.transfer(1, 2, "BTC", amount)):
        with pytest.raises(TypeError, match="float|bool"):
            await call()
    assert fake.calls == []


async def test_withdraw_sends_a_fresh_idempotency_key_per_call(fake, fake_client):
    posted = await fake_client.withdraw(1, "BTC", "0.5", "bc1qdest")
    await fake_client.withdraw(1, "BTC", "0.5", "bc1qdest")
    assert posted.wallet.balance == 0
    assert fake.calls[0].request == pb.WithdrawRequest(user_id=1, symbol="BTC", amount="0.5",
                                                       destination_address="bc1qdest")
    keys = [call.metadata["idempotency-key"] for call in fake.calls]
    assert len(set(keys)) == 2 and all(keys)


async def test_transfer_uses_the_given_idempotency_key(fake, fake_client):
    result = await fake_client.transfer(1, 2, "ETH", "1.25", note="rent",
                                        idempotency_key="k-1")
    assert (result.transaction_id, result.to_wallet.balance) == ("tx-1", Decimal("1.25"))
    assert fake.calls[-1].request == pb.TransferRequest(from_user_id=1, to_user_id=2,
                                                        symbol="ETH", amount="1.25", note="rent")
    assert fake.calls[-1].metadata["idempotency-key"] == "k-1"


async def test_deposit_sends_no_idempotency_metadata(fake, fake_client):
    await fake_client.deposit(1, "BTC", "1")
    assert "idempotency-key" not in fake.calls[-1].metadata
