"""The authorization policy, RPC by RPC, with auth required and optional."""

from datetime import timedelta

import jwt
import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError
from grpclib.testing import ChannelFor

from crypto_service.auth import POLICY, Access, Authenticator
from crypto_service.generated import crypto as pb
from crypto_service.generated.google import protobuf as pb_google
from crypto_service.server.app import build_app
from tests.conftest import make_coin
from tests.rpc.test_ledger import ledger_state

SECRET = "test-secret-that-is-long-enough-for-hs256"
ISSUER, AUDIENCE = "crypto-tests", "crypto-service"
SIGNER = Authenticator(SECRET, issuer=ISSUER, audience=AUDIENCE)

# One request per RPC, each acting for user 1.
REQUESTS = {
    "GetCoin": pb.GetCoinRequest(symbol="BTC"),
    "ListCoins": pb.ListCoinsRequest(),
    "SearchCoins": pb.SearchCoinsRequest(query="btc"),
    "GetTopCoins": pb.GetTopCoinsRequest(),
    "GetMarketStats": pb_google.Empty(),
    "GetTrendingCoins": pb.GetTrendingCoinsRequest(type=pb.TrendingType.MOST_TRADED),
    "GetWallet": pb.GetWalletRequest(user_id=1, symbol="BTC"),
    "ListWallets": pb.ListWalletsRequest(user_id=1),
    "GetPortfolio": pb.GetPortfolioRequest(user_id=1),
    "ListTransactions": pb.ListTransactionsRequest(user_id=1),
    "Withdraw": pb.WithdrawRequest(user_id=1, symbol="BTC", amount="1", destination_address="d"),
    "Transfer": pb.TransferRequest(from_user_id=1, to_user_id=2, symbol="BTC", amount="1"),
    "Deposit": pb.DepositRequest(user_id=1, symbol="BTC", amount="1"),
}
WRITES = {"Withdraw", "Transfer", "Deposit"}


def token(user: int, *, admin: bool = False, ttl: timedelta = timedelta(minutes=5)) -> str:
    return SIGNER.issue(user, admin=admin, ttl=ttl)


def bearer(value: str) -> dict:
    return {"authorization": f"Bearer {value}"}


def snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


@pytest.fixture(params=[False, True], ids=["auth-optional", "auth-required"])
async def secured(request, db):
    settings = db.model_copy(update={"jwt_secret": SECRET, "jwt_issuer": ISSUER,
                                     "jwt_audience": AUDIENCE, "require_auth": request.param})
    app = build_app(settings)
    await make_coin("BTC")
    async with ChannelFor(app.services, codec=app.codec) as channel:
        stub = pb.CryptoServiceStub(channel)
        await stub.deposit(REQUESTS["Deposit"], metadata=bearer(token(99, admin=True)))
        yield stub, request.param


async def call(stub, rpc: str, metadata: dict | None):
    """The call's status: OK, or the code it failed with."""
    try:
        await getattr(stub, snake(rpc))(REQUESTS[rpc], metadata=metadata)
        return Status.OK
    except GRPCError as exc:
        return exc.status


def test_every_rpc_has_a_rule_and_the_table_is_the_documented_one():
    assert set(POLICY) == set(REQUESTS) | {"StreamPrices"}
    assert {rpc for rpc, rule in POLICY.items() if rule.access is Access.PUBLIC} == \
        {"GetCoin", "ListCoins", "SearchCoins", "GetTopCoins", "GetMarketStats",
         "GetTrendingCoins", "StreamPrices"}
    assert POLICY["Deposit"].access is Access.ADMIN
    assert POLICY["Transfer"].user_field == "from_user_id"


@pytest.mark.parametrize("rpc", REQUESTS)
async def test_no_token(secured, rpc):
    stub, required = secured
    before = await ledger_state()
    status = await call(stub, rpc, None)
    protected = POLICY[rpc].access is not Access.PUBLIC
    assert status == (Status.UNAUTHENTICATED if required and protected else Status.OK)
    if status != Status.OK:
        assert await ledger_state() == before


@pytest.mark.parametrize("rpc", REQUESTS)
async def test_the_users_own_token(secured, rpc):
    stub, _ = secured
    status = await call(stub, rpc, bearer(token(1)))
    assert status == (Status.PERMISSION_DENIED if rpc == "Deposit" else Status.OK)


@pytest.mark.parametrize("rpc", REQUESTS)
async def test_another_users_token(secured, rpc):
    stub, _ = secured
    before = await ledger_state()
    status = await call(stub, rpc, bearer(token(2)))
    public = POLICY[rpc].access is Access.PUBLIC
    assert status == (Status.OK if public else Status.PERMISSION_DENIED)
    if not public:
        assert await ledger_state() == before


@pytest.mark.parametrize("rpc", REQUESTS)
async def test_an_admin_token_acts_for_anyone(secured, rpc):
    stub, _ = secured
    assert await call(stub, rpc, bearer(token(42, admin=True))) == Status.OK


BAD_TOKENS = {
    "bad signature": jwt.encode({"sub": "1", "exp": 4102444800, "iss": ISSUER,
                                 "aud": AUDIENCE}, "another-secret-another-secret-12",
                                algorithm="HS256"),
    "expired": token(1, ttl=timedelta(seconds=-30)),
    "wrong audience": Authenticator(SECRET, issuer=ISSUER, audience="someone-else").issue(
        1, admin=False, ttl=timedelta(minutes=5)),
    "wrong issuer": Authenticator(SECRET, issuer="evil", audience=AUDIENCE).issue(
        1, admin=False, ttl=timedelta(minutes=5)),
    "no expiry": jwt.encode({"sub": "1", "iss": ISSUER, "aud": AUDIENCE}, SECRET,
                            algorithm="HS256"),
    "subject not a user id": jwt.encode({"sub": "alice", "exp": 4102444800, "iss": ISSUER,
                                         "aud": AUDIENCE}, SECRET, algorithm="HS256"),
    "garbage": "not.a.token",
}


@pytest.mark.parametrize("case", BAD_TOKENS)
@pytest.mark.parametrize("rpc", ["GetCoin", "GetWallet", "Withdraw", "Deposit"])
async def test_a_bad_token_is_unauthenticated_in_either_mode(secured, rpc, case):
    stub, _ = secured
    before = await ledger_state()
    assert await call(stub, rpc, bearer(BAD_TOKENS[case])) == Status.UNAUTHENTICATED
    assert await ledger_state() == before


async def test_authorization_must_be_a_bearer_token(secured):
    stub, _ = secured
    assert await call(stub, "GetWallet", {"authorization": f"Basic {token(1)}"}) == \
        Status.UNAUTHENTICATED
    assert await call(stub, "GetWallet", {"authorization": "Bearer "}) == Status.UNAUTHENTICATED


def signed(claims: dict) -> str:
    return jwt.encode({"exp": 4102444800, "iss": ISSUER, "aud": AUDIENCE, **claims}, SECRET,
                      algorithm="HS256")


# Each is a validly signed token whose `sub` Python's int() or str.isdigit() would take for
# a user (or crash on: "²"): only canonical ASCII decimal names a user.
ODD_SUBJECTS = ["²", "01", "１", "١", "+1", " 1", "1 ", "0", "-1", "1_0", "2147483648", ""]


@pytest.mark.parametrize("subject", ODD_SUBJECTS)
async def test_a_subject_not_in_canonical_decimal_is_unauthenticated(secured, subject):
    stub, _ = secured
    before = await ledger_state()
    for rpc in ("GetWallet", "Withdraw"):
        with pytest.raises(GRPCError) as info:
            await getattr(stub, snake(rpc))(REQUESTS[rpc],
                                            metadata=bearer(signed({"sub": subject})))
        assert info.value.status == Status.UNAUTHENTICATED
        assert "sub" in info.value.message
    assert await ledger_state() == before


async def test_the_canonical_subject_is_the_user(secured):
    stub, _ = secured
    assert await call(stub, "GetWallet", bearer(signed({"sub": "1"}))) == Status.OK
    assert await call(stub, "GetWallet", bearer(signed({"sub": "2"}))) == \
        Status.PERMISSION_DENIED
