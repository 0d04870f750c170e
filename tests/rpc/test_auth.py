"""The authorization policy, RPC by RPC, in every CRYPTO_REQUIRE_AUTH mode, and the peer rule
of `auto` (the peers are constructed: no traffic goes to any address but the in-memory one)."""

from datetime import timedelta

import jwt
import pytest
from grpclib.const import Status
from grpclib.exceptions import GRPCError

from crypto_service.auth import POLICY, Access, Authenticator, is_loopback
from crypto_service.generated import crypto as pb
from crypto_service.generated.google import protobuf as pb_google
from crypto_service.server.app import build_app
from crypto_service.settings import AuthMode
from tests.channels import LOCAL_PEER, ChannelFrom
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


REMOTE_PEER = ("203.0.113.9", 40000)  # TEST-NET-3: constructed, never connected to
# (mode, the caller's address, whether a protected call without a token is refused)
MODES = {
    "auth-off": (AuthMode.OFF, REMOTE_PEER, False),
    "auth-required": (AuthMode.REQUIRED, LOCAL_PEER, True),
    "auto-loopback": (AuthMode.AUTO, LOCAL_PEER, False),
    "auto-remote": (AuthMode.AUTO, REMOTE_PEER, True),
}


@pytest.fixture(params=list(MODES))
async def secured(request, db):
    mode, peer, required = MODES[request.param]
    settings = db.model_copy(update={"jwt_secret": SECRET, "jwt_issuer": ISSUER,
                                     "jwt_audience": AUDIENCE, "require_auth": mode})
    app = build_app(settings)
    await make_coin("BTC")
    async with ChannelFrom(app.services, codec=app.codec, peer=peer) as channel:
        stub = pb.CryptoServiceStub(channel)
        await stub.deposit(REQUESTS["Deposit"], metadata=bearer(token(99, admin=True)))
        yield stub, required


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


@pytest.mark.parametrize("peer", [("127.0.0.1", 1), ("127.255.0.9", 1), ("::1", 1, 0, 0),
                                  ("::ffff:127.0.0.1", 1, 0, 0)])
def test_loopback_peers(peer):
    assert is_loopback(peer)


@pytest.mark.parametrize("peer", [
    None, ("", 0), ("localhost", 1),         # no address, or a name rather than an address
    ("10.0.0.5", 1), ("192.168.1.20", 1), ("203.0.113.9", 1), ("0.0.0.0", 1),
    ("::", 1, 0, 0), ("fe80::1%eth0", 1, 0, 2), ("2001:db8::1", 1, 0, 0),
    ("::ffff:10.0.0.5", 1, 0, 0), ("128.0.0.1", 1),
])
def test_other_peers_are_not_loopback(peer):
    assert not is_loopback(peer)


async def test_auto_mode_tells_a_remote_caller_how_to_send_a_token(db):
    settings = db.model_copy(update={"jwt_secret": SECRET, "require_auth": AuthMode.AUTO})
    app = build_app(settings)
    async with ChannelFrom(app.services, codec=app.codec, peer=REMOTE_PEER) as channel:
        with pytest.raises(GRPCError) as info:
            await pb.CryptoServiceStub(channel).get_portfolio(pb.GetPortfolioRequest(user_id=1))
    assert info.value.status == Status.UNAUTHENTICATED
    assert "authorization: Bearer <token>" in info.value.message
    assert "CRYPTO_REQUIRE_AUTH" in info.value.message


async def test_auto_mode_refuses_a_caller_without_an_address(db):
    """An in-memory channel, a Unix socket: not provably local, so not trusted."""
    app = build_app(db.model_copy(update={"require_auth": AuthMode.AUTO}))
    async with ChannelFrom(app.services, codec=app.codec, peer=None) as channel:
        with pytest.raises(GRPCError) as info:
            await pb.CryptoServiceStub(channel).list_wallets(pb.ListWalletsRequest(user_id=1))
    assert info.value.status == Status.UNAUTHENTICATED


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
