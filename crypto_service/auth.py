"""JWT verification and the per-RPC authorization policy."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt

from .domain import grammar
from .domain.errors import Forbidden, Unauthenticated
from .domain.validate import MAX_USER_ID
from .settings import Settings


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


def authorize(rule: Rule, principal: Principal | None, request: Any, *,
              require_auth: bool) -> None:
    """Raises unless the caller may make this request. Without a token everything is allowed
    when auth is not required (the demo mode); with one, the policy always applies."""
    if rule.access is Access.PUBLIC:
        return
    if principal is None:
        if require_auth:
            raise Unauthenticated("this call needs a bearer token")
        return
    if principal.is_admin:
        return
    if rule.access is Access.ADMIN:
        raise Forbidden("only an admin may call this")
    acted_for = getattr(request, rule.user_field)
    if acted_for != principal.user_id:
        raise Forbidden(f"the token is for user {principal.user_id}, not user {acted_for}")
