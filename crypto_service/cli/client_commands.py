"""The `crypto` commands that call a running server through `CryptoClient`.

Each command is a function of a connected client and its own arguments that returns what the
client returned; `client_command` adds the shared options (--address, --token, the TLS
options, --timeout, --json), connects, prints the result as tables or JSON, and turns errors
into one line.
"""

import functools
import inspect
from collections.abc import Callable, Generator
from contextlib import closing
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .base import app, fail

if TYPE_CHECKING:  # imported lazily at run time: see cli/__init__.py
    from ..client import CryptoClient

# Choices as plain names: the generated enums cannot be imported before `crypto gen` has run.
Sort = Enum("Sort", {name: name for name in (
    "rank", "price", "market_cap", "volume_24h", "change_24h", "name", "symbol")}, type=str)
Trending = Enum("Trending", {name: name for name in ("gainers", "losers", "traded")}, type=str)

SHARED_OPTIONS = [
    inspect.Parameter("address", inspect.Parameter.KEYWORD_ONLY, default=None,
                      annotation=Annotated[str | None, typer.Option(
                          "--address", envvar="CRYPTO_ADDRESS", show_default=False,
                          help="Server host:port (default localhost:50051).")]),
    inspect.Parameter("token", inspect.Parameter.KEYWORD_ONLY, default=None,
                      annotation=Annotated[str | None, typer.Option(
                          "--token", envvar="CRYPTO_TOKEN", show_default=False,
                          help="Bearer token (JWT) for wallet calls.")]),
    # The TLS options, passed to CryptoClient by name (CONNECTION_OPTIONS).
    inspect.Parameter("tls", inspect.Parameter.KEYWORD_ONLY, default=False,
                      annotation=Annotated[bool, typer.Option(
                          "--tls", envvar="CRYPTO_TLS", help="Connect over TLS, verifying the "
                          "server against the system's CAs (or --ca).")]),
    inspect.Parameter("ca", inspect.Parameter.KEYWORD_ONLY, default=None,
                      annotation=Annotated[str | None, typer.Option(
                          "--ca", envvar="CRYPTO_TLS_CA", show_default=False,
                          help="PEM CA file to verify the server with (implies --tls).")]),
    inspect.Parameter("cert", inspect.Parameter.KEYWORD_ONLY, default=None,
                      annotation=Annotated[str | None, typer.Option(
                          "--cert", envvar="CRYPTO_CLIENT_TLS_CERT", show_default=False,
                          help="PEM client certificate, for servers that require one "
                          "(mTLS; implies --tls).")]),
    inspect.Parameter("key", inspect.Parameter.KEYWORD_ONLY, default=None,
                      annotation=Annotated[str | None, typer.Option(
                          "--key", envvar="CRYPTO_CLIENT_TLS_KEY", show_default=False,
                          help="The client certificate's PEM private key.")]),
    inspect.Parameter("timeout", inspect.Parameter.KEYWORD_ONLY, default=10.0,
                      annotation=Annotated[float, typer.Option(
                          "--timeout", min=0.001, help="Deadline of each call, in seconds.")]),
    inspect.Parameter("as_json", inspect.Parameter.KEYWORD_ONLY, default=False,
                      annotation=Annotated[bool, typer.Option(
                          "--json", help="Print proto3 canonical JSON instead of tables.")]),
]

CONNECTION_OPTIONS = ("tls", "ca", "cert", "key")

UserArgument = Annotated[int, typer.Argument(min=1, help="User id.", show_default=False)]
SymbolArgument = Annotated[str, typer.Argument(help="Coin symbol, e.g. BTC.", show_default=False)]
AmountArgument = Annotated[str, typer.Argument(help="Decimal amount, e.g. 0.5.",
                                               show_default=False)]
LimitOption = Annotated[int, typer.Option(min=0, help="At most this many (0: the default).")]
PageOption = Annotated[int, typer.Option(min=0, help="1-based page (0: the first).")]
PageSizeOption = Annotated[int, typer.Option(min=0, help="Page size (0: the default).")]
KeyOption = Annotated[str | None, typer.Option(
    help="Idempotency key, to repeat the request safely (default: a fresh one).",
    show_default=False)]


def client_command(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Registers `func(client, **arguments)` as the command `name`, with the shared options."""

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        own = list(inspect.signature(func).parameters.values())[1:]  # all but `client`

        @functools.wraps(func)
        def command(**kwargs: Any) -> None:
            from ..client import DEFAULT_ADDRESS, CryptoClient, CryptoError
            from .render import show, show_stream

            address, token = kwargs.pop("address"), kwargs.pop("token")
            timeout, as_json = kwargs.pop("timeout"), kwargs.pop("as_json")
            connection = {name: kwargs.pop(name) for name in CONNECTION_OPTIONS}
            try:
                with CryptoClient(address or DEFAULT_ADDRESS, token=token, timeout=timeout,
                                  **connection) as client:
                    result = func(client, **kwargs)
                    if isinstance(result, Generator):
                        with closing(result):  # ends the call even on Ctrl-C
                            show_stream(result, as_json=as_json)
                    else:
                        show(result, as_json=as_json)
            except (CryptoError, ValueError) as exc:  # ValueError: a bad address or name
                fail(str(exc))
            except KeyboardInterrupt:  # the way to stop `crypto stream`
                raise typer.Exit(0) from None

        command.__signature__ = inspect.Signature(own + SHARED_OPTIONS)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in own + SHARED_OPTIONS}
        app.command(name)(command)
        return func

    return register


@client_command("coin")
def coin(client: "CryptoClient", symbol: SymbolArgument) -> Any:
    """One coin by symbol."""
    return client.get_coin(symbol=symbol)


@client_command("coins")
def coins(
    client: "CryptoClient",
    page: PageOption = 0,
    page_size: PageSizeOption = 0,
    sort: Annotated[Sort, typer.Option(help="Sort key.")] = Sort.rank,
    desc: Annotated[bool, typer.Option("--desc", help="Largest first.")] = False,
) -> Any:
    """A page of coins, sorted."""
    return client.list_coins(page=page, page_size=page_size, sort_by=sort.value,
                            descending=desc)


@client_command("top")
def top(client: "CryptoClient", n: Annotated[int, typer.Argument(min=0, help="How many.")] = 10) -> Any:
    """The largest coins by market cap."""
    return client.list_top_coins(n)


@client_command("search")
def search(client: "CryptoClient", query: Annotated[str, typer.Argument(show_default=False)],
           limit: LimitOption = 0) -> Any:
    """Coins whose symbol, name or slug contains QUERY."""
    return client.search_coins(query, limit)


@client_command("trending")
def trending(client: "CryptoClient",
             kind: Annotated[Trending, typer.Argument(show_default=False)],
             limit: LimitOption = 0) -> Any:
    """Top gainers, top losers or most traded coins over 24h."""
    return client.get_trending_coins(kind.value, limit)


@client_command("market")
def market(client: "CryptoClient") -> Any:
    """Market totals over the active coins."""
    return client.get_market_stats()


@client_command("stream")
def stream(client: "CryptoClient",
           symbols: Annotated[list[str] | None, typer.Argument(
               help="Symbols (default: the top 10).", show_default=False)] = None,
           interval: Annotated[int, typer.Option(min=1, max=3600,
                                                 help="Seconds between updates.")] = 5) -> Any:
    """Live prices until Ctrl-C (with --json: one JSON object per line)."""
    return client.stream_prices(symbols or [], interval)


@client_command("wallet")
def wallet(client: "CryptoClient", user: UserArgument, symbol: SymbolArgument) -> Any:
    """One user's wallet for one coin."""
    return client.get_wallet(user, symbol)


@client_command("wallets")
def wallets(client: "CryptoClient", user: UserArgument,
            exclude_zero: Annotated[bool, typer.Option(
                "--exclude-zero", help="Leave out empty wallets.")] = False) -> Any:
    """A user's wallets, largest value first."""
    return client.list_wallets(user, exclude_zero_balance=exclude_zero)


@client_command("portfolio")
def portfolio(client: "CryptoClient", user: UserArgument) -> Any:
    """A user's holdings, their shares and the 24h change."""
    return client.get_portfolio(user)


@client_command("history")
def history(client: "CryptoClient", user: UserArgument,
            symbol: Annotated[str, typer.Option(help="Only this coin.")] = "",
            page: PageOption = 0, page_size: PageSizeOption = 0) -> Any:
    """A user's ledger transactions, newest first."""
    return client.list_transactions(user, symbol, page=page, page_size=page_size)


@client_command("deposit")
def deposit(client: "CryptoClient", user: UserArgument, symbol: SymbolArgument, amount: AmountArgument,
            transaction_id: Annotated[str, typer.Option(
                help="The deposit's external id: a repeat credits once.")] = "") -> Any:
    """Credit a wallet (admin)."""
    return client.deposit(user, symbol, amount, transaction_id=transaction_id)


@client_command("withdraw")
def withdraw(client: "CryptoClient", user: UserArgument, symbol: SymbolArgument, amount: AmountArgument,
             destination: Annotated[str, typer.Argument(help="Destination address.",
                                                        show_default=False)],
             idempotency_key: KeyOption = None) -> Any:
    """Debit a wallet to an external address."""
    return client.withdraw(user, symbol, amount, destination, idempotency_key=idempotency_key)


@client_command("transfer")
def transfer(client: "CryptoClient", from_user: UserArgument, to_user: UserArgument,
             symbol: SymbolArgument, amount: AmountArgument,
             note: Annotated[str, typer.Option(help="A note for both users.")] = "",
             idempotency_key: KeyOption = None) -> Any:
    """Move an amount of one coin from one user to another."""
    return client.transfer(from_user, to_user, symbol, amount, note=note,
                           idempotency_key=idempotency_key)
