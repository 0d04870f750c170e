"""The wallet and ledger answers are built through upb (convert.py), like the catalog reads:
betterproto2, which this package's client decodes with, reads every field back and writes the
very same bytes again, for values whose encoding depends on the conversion."""

import dataclasses
from datetime import datetime, timezone
from decimal import Decimal
from uuid import UUID

import pytest

from crypto_service import convert
from crypto_service.db.models import TransactionKind
from crypto_service.domain.ledger import Posted, TransactionView
from crypto_service.domain.paging import Page
from crypto_service.domain.wallets import Holding, Portfolio, WalletList, WalletView
from crypto_service.generated import crypto as pb

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATE = datetime(2030, 1, 1, 0, 0, 0, 1, tzinfo=timezone.utc)

WALLETS = [
    WalletView(id=1, user_id=2**31 - 1, coin_id=3, symbol="BTC", coin_name="Bitcoin ₿",
               balance=Decimal("1E-18"), locked_balance=Decimal("0E-18"),
               total_balance=Decimal("1E-18"), value_usd=Decimal("1E+3"), address="",
               created_at=EPOCH, updated_at=LATE),
    WalletView(id=2**31 - 1, user_id=1, coin_id=1, symbol="E" * 32, coin_name="",
               balance=Decimal("99999999999999999999.999999999999999999"),
               locked_balance=Decimal("0.000001"), total_balance=Decimal("100000000000000000000"),
               value_usd=Decimal("0"), address="e_" + "f" * 40,
               created_at=LATE, updated_at=datetime(2000, 2, 29, 23, 59, 59, 999999,
                                                    tzinfo=timezone.utc)),
]
TRANSACTIONS = [
    TransactionView(id=UUID(int=0), kind=TransactionKind.DEPOSIT, symbol="BTC",
                    amount=Decimal("1E-18"), balance_change=Decimal("1E-18"), from_user_id=None,
                    to_user_id=7, transaction_id="ext-1", destination_address="", note="",
                    created_at=EPOCH),
    TransactionView(id=UUID(int=2**128 - 1), kind=TransactionKind.TRANSFER, symbol="ETH",
                    amount=Decimal("12.500000000000000000"),
                    balance_change=Decimal("-12.500000000000000000"), from_user_id=7,
                    to_user_id=8, transaction_id="", destination_address="", note="ü" * 256,
                    created_at=LATE),
]


# A replayed write between the two wallets' users.
POSTED = Posted(transaction_id=UUID(int=2**128 - 1),
                wallets={w.user_id: w for w in WALLETS}, replayed=True)


@pytest.mark.parametrize("response_type, build", [
    (pb.WalletResponse, lambda: convert.to_wallet_response(WALLETS[0], "found")),
    (pb.WalletResponse, lambda: convert.to_wallet_response(WALLETS[0], "deposited", POSTED)),
    (pb.WalletResponse, lambda: convert.to_wallet_response(
        WALLETS[0], "deposited", dataclasses.replace(POSTED, replayed=False))),
    (pb.TransferResponse, lambda: convert.to_transfer_response(
        POSTED, WALLETS[1].user_id, WALLETS[0].user_id, "transferred")),
    (pb.ListWalletsResponse, lambda: convert.to_wallets_response(
        WalletList(WALLETS, Decimal("1E+3")))),
    (pb.PortfolioResponse, lambda: convert.to_portfolio_response(Portfolio(
        Decimal("1E+3"), Decimal("-0.5"), Decimal("0E-18"),
        [Holding("BTC", "Bitcoin", Decimal("1E-18"), Decimal("1E+3"), Decimal("100"),
                 Decimal("-5.500000000000000000"))]))),
    (pb.ListTransactionsResponse, lambda: convert.to_transactions_response(
        Page(TRANSACTIONS, 2, 1, 20))),
])
def test_wallet_answers_are_encoded_as_betterproto2_encodes_them(response_type, build):
    encoded = build().SerializeToString()
    decoded = response_type.parse(encoded)
    assert bytes(decoded) == encoded


def test_wallet_fields_read_back_as_the_domain_values():
    decoded = pb.TransferResponse.parse(convert.to_transfer_response(
        POSTED, WALLETS[0].user_id, WALLETS[1].user_id, "transferred").SerializeToString())
    for sent, wallet in ((decoded.from_wallet, WALLETS[0]), (decoded.to_wallet, WALLETS[1])):
        assert (sent.id, sent.user_id, sent.coin_id, sent.symbol, sent.coin_name, sent.address,
                sent.created_at, sent.updated_at) == (
            wallet.id, wallet.user_id, wallet.coin_id, wallet.symbol, wallet.coin_name,
            wallet.address, wallet.created_at, wallet.updated_at)
    # Money in plain notation, exact
    assert (decoded.from_wallet.balance, decoded.from_wallet.value_usd) == \
        ("0.000000000000000001", "1000")
    assert decoded.to_wallet.balance == "99999999999999999999.999999999999999999"
    assert (decoded.transaction_id, decoded.replayed) == (str(UUID(int=2**128 - 1)), True)
    for posted, expected in ((dataclasses.replace(POSTED, replayed=False),
                              (str(UUID(int=2**128 - 1)), False)),
                             (None, ("", False))):  # GetWallet's: no write, nothing set
        wallet = pb.WalletResponse.parse(convert.to_wallet_response(
            WALLETS[0], "wallet", posted).SerializeToString())
        assert (wallet.transaction_id, wallet.replayed) == expected

    history = pb.ListTransactionsResponse.parse(
        convert.to_transactions_response(Page(TRANSACTIONS, 2, 1, 20)).SerializeToString())
    assert [(t.id, t.kind, t.from_user_id, t.to_user_id, t.created_at, t.note)
            for t in history.transactions] == [
        (str(UUID(int=0)), pb.TransactionKind.DEPOSIT, 0, 7, EPOCH, ""),
        (str(UUID(int=2**128 - 1)), pb.TransactionKind.TRANSFER, 7, 8, LATE, "ü" * 256)]
    assert history.transactions[1].balance_change == "-12.5"
