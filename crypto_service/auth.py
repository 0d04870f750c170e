"""JWT verification and the per-RPC authorization policy."""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt

from .domain import grammar
from .domain.errors import Forbidden, Unauthenticated
from .domain.validate import MAX_USER_ID
from .settings import AuthMode, Settings

# A peer as asyncio reports it: (host, port) for IPv4, (host, port, flow, scope) for IPv6.
PeerAddress = tuple[Any, ...]

TOKEN_METADATA = "send request metadata 'authorization: Bearer <token>'"
NEEDS_TOKEN = f"this call needs a bearer token: {TOKEN_METADATA}"
REMOTE_NEEDS_TOKEN = (
    f"a call from another host needs a bearer token: {TOKEN_METADATA}, or start the server "
    "with CRYPTO_REQUIRE_AUTH=false to allow calls without one from any host")


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    is_admin: bool


class Access(enum.Enum):
    PUBLIC = "public"
    OWNER = "owner"  # the token's user, named by a request field, or an admin
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Rule:
    access: Access
    user_field: str = ""  # for OWNER: the request field holding the user acted for


PUBLIC = Rule(Access.PUBLIC)

# Every RPC of CryptoService, by method name. The server refuses to start with an RPC missing.
POLICY: dict[str, Rule] = {
    "GetCoin": PUBLIC,
    "ListCoins": PUBLIC,
    "SearchCoins": PUBLIC,
    "GetTopCoins": PUBLIC,
    "GetMarketStats": PUBLIC,
    "GetTrendingCoins": PUBLIC,
    "StreamPrices": PUBLIC,
    "GetWallet": Rule(Access.OWNER, "user_id"),
    "ListWallets": Rule(Access.OWNER, "user_id"),
    "GetPortfolio": Rule(Access.OWNER, "user_id"),
    "ListTransactions": Rule(Access.OWNER, "user_id"),
    "Withdraw": Rule(Access.OWNER, "user_id"),
    "Transfer": Rule(Access.OWNER, "from_user_id"),
    # Deposits are credited by the system when funds arrive, not by users.
    "Deposit": Rule(Access.ADMIN),
}


class Authenticator:
    def __init__(self, secret: str | None, *, algorithm: str = "HS256",
                 issuer: str | None = None, audience: str | None = None) -> None:
        self.secret = secret
        self.algorithm = algorithm
        self.issuer = issuer
        self.audience = audience

    @classmethod
    def from_settings(cls, settings: Settings) -> Authenticator:
        return cls(settings.jwt_secret, algorithm=settings.jwt_algorithm,
                   issuer=settings.jwt_issuer, audience=settings.jwt_audience)

    def authenticate(self, authorization: str | None) -> Principal | None:
        """The caller from an `authorization: Bearer <token>` value; None without one. A token
        that is present is always verified."""
        if authorization is None:
            return None
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("authorization metadata must be 'Bearer <token>'")
        if not self.secret:
            raise Unauthenticated("this server has no key to verify tokens")
        try:
            claims = jwt.decode(token.strip(), self.secret, algorithms=[self.algorithm],
                                issuer=self.issuer, audience=self.audience,
                                options={"require": ["sub", "exp"]})
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("token has expired") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"invalid token: {exc}") from None
        return Principal(_user_id(claims.get("sub")), "admin" in _scopes(claims.get("scope")))

    def issue(self, user_id: int, *, admin: bool, ttl: timedelta) -> str:
        if not self.secret:
            raise ValueError("a secret is needed to sign tokens (CRYPTO_JWT_SECRET)")
        now = datetime.now(timezone.utc)
        claims: dict[str, Any] = {"sub": str(user_id), "iat": now, "exp": now + ttl}
        if admin:
            claims["scope"] = "admin"
        if self.issuer:
            claims["iss"] = self.issuer
        if self.audience:
            claims["aud"] = self.audience
        return jwt.encode(claims, self.secret, algorithm=self.algorithm)


def _user_id(subject: Any) -> int:
    """The token's `sub` in canonical decimal (`grammar.USER_ID`): "1", never "01", "+1",
    "１" or "²", which Python's int() would read as some user or fail on."""
    if (isinstance(subject, str) and len(subject) <= len(str(MAX_USER_ID))
            and grammar.matches(grammar.USER_ID, subject) and int(subject) <= MAX_USER_ID):
        return int(subject)
    raise Unauthenticated("token subject (sub) must be a user id in canonical decimal, "
                          "like \"42\"")


def _scopes(scope: Any) -> set[str]:
    if isinstance(scope, str):
        return set(scope.split())
    if isinstance(scope, list):
        return {s for s in scope if isinstance(s, str)}
    return set()


def is_loopback(peer: PeerAddress | None) -> bool:
    """Whether the peer is this host over loopback (127.0.0.0/8, ::1, or 127.x mapped into
    IPv6). Anything that is not a parsable IP address (no address at all, a Unix socket, an
    in-memory channel) is not: the safe answer for a rule that opens wallets."""
    if not peer or not isinstance(peer[0], str):
        return False
    try:
        address = ipaddress.ip_address(peer[0].partition("%")[0])  # without an IPv6 scope
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def authorize(rule: Rule, principal: Principal | None, request: Any, *, mode: AuthMode,
              peer: PeerAddress | None) -> None:
    """Raises unless the caller may make this request. A call without a token may use the
    protected RPCs when auth is off, or in `auto` mode from a loopback peer (the local demo);
    with a token, the policy always applies."""
    if rule.access is Access.PUBLIC:
        return
    if principal is None:
        # Closed unless a mode opens it: anything but OFF and a local AUTO call needs a token.
        if mode is AuthMode.OFF or (mode is AuthMode.AUTO and is_loopback(peer)):
            return
        raise Unauthenticated(REMOTE_NEEDS_TOKEN if mode is AuthMode.AUTO else NEEDS_TOKEN)
    if principal.is_admin:
        return
    if rule.access is Access.ADMIN:
        raise Forbidden("only an admin may call this")
    acted_for = getattr(request, rule.user_field)
    if acted_for != principal.user_id:
        raise Forbidden(f"the token is for user {principal.user_id}, not user {acted_for}")
