"""The `crypto` commands that call a running server through `CryptoClient`.

Each command is a function of a connected client and its own arguments that returns what the
client returned; `client_command` adds the connection options (cli/connection.py) and the
output options (--json, --wide), connects, prints the result as tables or JSON, and turns
errors into one line.
"""

import functools
import inspect
import re
from collections.abc import Callable, Generator
from contextlib import closing
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from .base import Command, UsageError, app, fail
from .connection import OPTIONS as CONNECTION_OPTIONS
from .connection import Connection

if TYPE_CHECKING:  # imported lazily at run time: see cli/__init__.py
    from ..client import CryptoClient
    from ..client import results as r

# Choices as plain names: the generated enums cannot be imported before `crypto gen` has run.
class Sort(str, Enum):
    rank = "rank"
    price = "price"
    market_cap = "market_cap"
    volume_24h = "volume_24h"
    change_24h = "change_24h"
    name = "name"
    symbol = "symbol"


class Trending(str, Enum):
    gainers = "gainers"
    losers = "losers"
    traded = "traded"

OUTPUT_OPTIONS = [
    inspect.Parameter("as_json", inspect.Parameter.KEYWORD_ONLY, default=False,
                      annotation=Annotated[bool, typer.Option(
                          "--json", help="Print the whole response as protobuf's canonical "
                          "JSON (a stream: one update per line).")]),
    inspect.Parameter("wide", inspect.Parameter.KEYWORD_ONLY, default=False,
                      annotation=Annotated[bool, typer.Option(
                          "--wide", help="Every column at full precision, however wide.")]),
]
SHARED_OPTIONS = CONNECTION_OPTIONS + OUTPUT_OPTIONS

NUMBER = re.compile(r"^-\d+(\.\d*)?$")


class ClientCommand(Command):
    """`-1` and `-0.5` are values, not options, so `crypto deposit 1 BTC -1` reaches the
    server, which says what is wrong with it; any other unknown `-x` is still an error."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ignore_unknown_options = True

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        takes_value: dict[str, bool] = {}
        for param in self.get_params(ctx):
            for name in (*param.opts, *getattr(param, "secondary_opts", ())):
                takes_value[name] = (param.param_type_name == "option"
                                     and not getattr(param, "is_flag", False))
        rest = iter(args)
        for arg in rest:
            name = arg.split("=", 1)[0]
            if arg == "--":
                break
            if name in takes_value:
                if takes_value[name] and "=" not in arg:
                    next(rest, None)
            elif arg.startswith("-") and len(arg) > 1 and not NUMBER.match(arg):
                raise UsageError(f"No such option: {arg}", ctx=ctx)
        return super().parse_args(ctx, args)


UserArgument = Annotated[int, typer.Argument(metavar="USER", min=1, help="User id.",
                                             show_default=False)]
SymbolArgument = Annotated[str, typer.Argument(metavar="SYMBOL", help="Coin symbol, e.g. BTC.",
                                               show_default=False)]
AmountArgument = Annotated[str, typer.Argument(metavar="AMOUNT", help="Decimal amount, e.g. 0.5.",
                                               show_default=False)]
LimitOption = Annotated[int, typer.Option(metavar="N", help="At most this many (0: the "
                                          "server's default).")]
PageOption = Annotated[int, typer.Option(metavar="N", help="1-based page (0: the first).")]
PageSizeOption = Annotated[int, typer.Option(metavar="N", help="Page size (0: the server's "
                                             "default).")]
KeyOption = Annotated[str | None, typer.Option(
    metavar="KEY", help="Idempotency key, to repeat the request safely (default: a fresh one).",
    show_default=False)]


def client_command(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Registers `func(client, **arguments)` as the command `name`, with the shared options."""

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        own = list(inspect.signature(func).parameters.values())[1:]  # all but `client`

        @functools.wraps(func)
        def command(**kwargs: Any) -> None:
            from ..client import CryptoError
            from .render import show, show_stream

            connection = Connection.pop_from(kwargs)
            as_json, wide = kwargs.pop("as_json"), kwargs.pop("wide")
            try:
                with connection.client() as client:
                    result = func(client, **kwargs)
                    if isinstance(result, Generator):
                        with closing(result):  # ends the call even on Ctrl-C
                            show_stream(result, as_json=as_json, wide=wide)
                    else:
                        show(result, as_json=as_json, wide=wide)
                        if getattr(result, "exit_code", 0):
                            raise typer.Exit(result.exit_code)
            except CryptoError as exc:
                fail(str(exc))
            except KeyboardInterrupt:  # the way to stop `crypto stream`
                raise typer.Exit(0) from None
            except BrokenPipeError:  # `crypto stream --json | head -3`
                raise typer.Exit(0) from None

        command.__signature__ = inspect.Signature(own + SHARED_OPTIONS)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in own + SHARED_OPTIONS}
        app.command(name, cls=ClientCommand)(command)
        return func

    return register


@client_command("health")
def health(client: "CryptoClient", service: Annotated[str, typer.Argument(
        metavar="SERVICE", help="A service name, e.g. crypto.CryptoService (default: the "
        "whole server).", show_default=False)] = "") -> Any:
    """Is the server serving? (grpc.health.v1; exit 1 if not)"""
    from .render import HealthStatus

    return HealthStatus(client.check_health(service), service=service)


@client_command("coin")
def coin(client: "CryptoClient", identifier: Annotated[str, typer.Argument(
        metavar="SYMBOL_OR_SLUG", help="e.g. BTC or bitcoin.", show_default=False)]) -> "r.Coin":
    """One coin by symbol or slug."""
    from ..client import NotFound

    try:
        return client.get_coin(symbol=identifier)
    except NotFound:
        if identifier != identifier.lower():  # slugs are lower case: BTC was a symbol
            raise
        try:
            return client.get_coin(slug=identifier)
        except NotFound:
            raise NotFound(f"no coin has the symbol or slug {identifier!r}") from None


@client_command("coins")
def coins(
    client: "CryptoClient",
    page: PageOption = 0,
    page_size: PageSizeOption = 0,
    sort: Annotated[Sort, typer.Option(
        metavar="KEY", help="rank, price, market_cap, volume_24h, change_24h, name or "
        "symbol.")] = Sort.rank,
    desc: Annotated[bool, typer.Option("--desc", help="Largest first.")] = False,
) -> "r.CoinPage":
    """A page of coins, sorted."""
    return client.list_coins(page=page, page_size=page_size, sort_by=sort.value,
                             descending=desc)


@client_command("top")
def top(client: "CryptoClient", n: Annotated[int, typer.Argument(
        metavar="N", help="How many (0: the server's default).")] = 10) -> "r.CoinList":
    """The largest coins by market cap."""
    return client.list_top_coins(n)


@client_command("search")
def search(client: "CryptoClient",
           query: Annotated[str, typer.Argument(metavar="QUERY", show_default=False)],
           limit: LimitOption = 0) -> "r.CoinList":
    """Coins whose symbol, name or slug contains QUERY."""
    return client.search_coins(query, limit)


@client_command("trending")
def trending(client: "CryptoClient",
             kind: Annotated[Trending, typer.Argument(metavar="gainers|losers|traded",
                                                      show_default=False)],
             limit: LimitOption = 0) -> "r.CoinList":
    """Top gainers, top losers or most traded coins over 24h."""
    return client.get_trending_coins(kind.value, limit)


@client_command("market")
def market(client: "CryptoClient") -> "r.MarketStats":
    """Market totals over the active coins."""
    return client.get_market_stats()


@client_command("stream")
def stream(client: "CryptoClient",
           symbols: Annotated[list[str] | None, typer.Argument(
               metavar="SYMBOL", help="Symbols (default: the top 10).",
               show_default=False)] = None,
           interval: Annotated[int, typer.Option(metavar="SECONDS", min=1, max=3600,
                                                 help="Time between updates.")] = 5) -> Any:
    """Live prices until Ctrl-C."""
    return client.stream_prices(symbols or [], interval)


@client_command("wallet")
def wallet(client: "CryptoClient", user: UserArgument, symbol: SymbolArgument) -> "r.Wallet":
    """One user's wallet for one coin."""
    return client.get_wallet(user, symbol)


@client_command("wallets")
def wallets(client: "CryptoClient", user: UserArgument,
            exclude_zero: Annotated[bool, typer.Option(
                "--exclude-zero", help="Leave out empty wallets.")] = False) -> "r.WalletList":
    """A user's wallets, largest value first."""
    return client.list_wallets(user, exclude_zero_balance=exclude_zero)


@client_command("portfolio")
def portfolio(client: "CryptoClient", user: UserArgument) -> "r.Portfolio":
    """A user's holdings, their shares and the 24h change."""
    return client.get_portfolio(user)


@client_command("history")
def history(client: "CryptoClient", user: UserArgument,
            symbol: Annotated[str, typer.Option(metavar="SYMBOL", help="Only this coin.",
                                                show_default=False)] = "",
            page: PageOption = 0, page_size: PageSizeOption = 0) -> "r.TransactionPage":
    """A user's ledger transactions, newest first."""
    return client.list_transactions(user, symbol, page=page, page_size=page_size)


@client_command("deposit")
def deposit(client: "CryptoClient", user: UserArgument, symbol: SymbolArgument,
            amount: AmountArgument,
            transaction_id: Annotated[str, typer.Option(
                metavar="ID", help="The deposit's external id: a repeat credits once.",
                show_default=False)] = "") -> "r.Posted":
    """Credit a wallet (admin)."""
    return client.deposit(user, symbol, amount, transaction_id=transaction_id)


@client_command("withdraw")
def withdraw(client: "CryptoClient", user: UserArgument, symbol: SymbolArgument,
             amount: AmountArgument,
             destination: Annotated[str, typer.Argument(metavar="DESTINATION",
                                                        help="Destination address.",
                                                        show_default=False)],
             idempotency_key: KeyOption = None) -> "r.Posted":
    """Debit a wallet to an external address."""
    return client.withdraw(user, symbol, amount, destination, idempotency_key=idempotency_key)


@client_command("transfer")
def transfer(client: "CryptoClient",
             from_user: Annotated[int, typer.Argument(metavar="FROM", min=1,
                                                      help="Sending user id.",
                                                      show_default=False)],
             to_user: Annotated[int, typer.Argument(metavar="TO", min=1,
                                                    help="Receiving user id.",
                                                    show_default=False)],
             symbol: SymbolArgument, amount: AmountArgument,
             note: Annotated[str, typer.Option(metavar="TEXT", help="A note for both users.",
                                               show_default=False)] = "",
             idempotency_key: KeyOption = None) -> "r.Transfer":
    """Move an amount of one coin from one user to another."""
    return client.transfer(from_user, to_user, symbol, amount, note=note,
                           idempotency_key=idempotency_key)
