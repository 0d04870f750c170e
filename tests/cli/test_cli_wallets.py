"""`crypto wallet|wallets|portfolio|history|deposit|withdraw|transfer` against the fake
service: the request it received, the table, and JSON that parses back into the response."""

import pytest
from google.protobuf import json_format

from crypto_service.generated import crypto as pb
from crypto_service.messages import google_class, to_google
from tests.cli.conftest import json_output

# command line, the request the server must receive, the response type, what the table shows
CASES = [
    (["wallet", "7", "BTC"], pb.GetWalletRequest(user_id=7, symbol="BTC"), pb.WalletResponse,
     ["Balance", "1.5", "addr-7-BTC"]),
    (["wallets", "7", "--exclude-zero"], pb.ListWalletsRequest(user_id=7,
                                                              exclude_zero_balance=True),
     pb.ListWalletsResponse, ["Total value $1.50", "1.5", "addr-7-BTC"]),
    (["portfolio", "7"], pb.GetPortfolioRequest(user_id=7), pb.PortfolioResponse,
     ["$47,000.25", "Bitcoin", "100.00%"]),
    (["history", "7", "--symbol", "BTC", "--page", "2"],
     pb.ListTransactionsRequest(user_id=7, symbol="BTC", page=2), pb.ListTransactionsResponse,
     ["deposit", "+0.5", "id ext-1", "tx-1", "2025-01-01 00:00:00", "1 transaction in all"]),
    (["deposit", "7", "BTC", "0.00000001", "--transaction-id", "ext-1"],
     pb.DepositRequest(user_id=7, symbol="BTC", amount="0.00000001", transaction_id="ext-1"),
     pb.WalletResponse, ["0.00000001"]),
    (["withdraw", "7", "BTC", "-0.5", "bc1qdest"],
     pb.WithdrawRequest(user_id=7, symbol="BTC", amount="-0.5", destination_address="bc1qdest"),
     pb.WalletResponse, ["addr-7-BTC"]),
    (["transfer", "7", "8", "ETH", "1.25", "--note", "rent", "--idempotency-key", "k-1"],
     pb.TransferRequest(from_user_id=7, to_user_id=8, symbol="ETH", amount="1.25", note="rent"),
     pb.TransferResponse, ["addr-7-ETH", "addr-8-ETH", "1.25"]),
]
IDS = [" ".join(case[0][:2]) for case in CASES]


@pytest.mark.parametrize("args, request_, kind, shown", CASES, ids=IDS)
async def test_table_shows_the_result_of_the_request(invoke, fake, fake_address,
                                                     args, request_, kind, shown):
    result = await invoke(*args, "--address", fake_address, "--token", "t0k3n")
    assert result.exit_code == 0, result.output
    assert fake.calls[-1].request == request_
    assert fake.calls[-1].metadata["authorization"] == "Bearer t0k3n"
    for text in shown:
        assert text in result.stdout


@pytest.mark.parametrize("args, request_, kind, shown", CASES, ids=IDS)
async def test_json_parses_back_into_the_response(invoke, fake, fake_address,
                                                  args, request_, kind, shown):
    data = json_output(await invoke(*args, "--json", env={"CRYPTO_ADDRESS": fake_address}))
    assert fake.calls[-1].request == request_
    answer = await getattr(fake, fake.calls[-1].method_name)(request_)  # the whole response
    assert json_format.ParseDict(data, google_class(kind)()) == to_google(answer)


async def test_transfer_sends_the_given_idempotency_key(invoke, fake, fake_address):
    await invoke("transfer", "7", "8", "ETH", "1", "--idempotency-key", "k-9",
                 "--address", fake_address)
    assert fake.calls[-1].metadata["idempotency-key"] == "k-9"


async def test_token_comes_from_the_environment(invoke, fake, fake_address):
    await invoke("portfolio", "7", env={"CRYPTO_ADDRESS": fake_address, "CRYPTO_TOKEN": "env"})
    assert fake.calls[-1].metadata["authorization"] == "Bearer env"
