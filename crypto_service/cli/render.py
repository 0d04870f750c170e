"""Printing the client's results: tables for people, the whole response as canonical JSON for
programs.

`--json` prints the wire response exactly as protobuf's canonical JSON writes it (as grpcurl
does), every field present, so scripts rely on one shape. Tables show readable numbers and
never cut a value: where the terminal is too narrow, large sums go compact (`$1.84T`) and
the least useful columns go; `--wide` keeps every column at full precision.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator, Sequence
from functools import singledispatch
from typing import Any

from grpclib.health.v1.health_pb2 import HealthCheckResponse
from rich import box
from rich.console import Console, RenderableType
from rich.live import Live
from rich.measure import Measurement
from rich.segment import Segment, Segments
from rich.table import Table
from rich.text import Text

from ..client import results as r
from ..messages import to_json
from . import format as f

Cell = Callable[[Any], "str | Text"]


@dataclasses.dataclass(frozen=True)
class Column:
    header: str
    cell: Cell
    # Columns go in order of `keep` when space is short: the highest number first; 0 stays.
    keep: int = 0
    numeric: bool = False  # right-aligned, never wrapped
    compact: Cell | None = None  # a shorter form to try before dropping the column


def column_table(columns: Sequence[Column], rows: Sequence[Any], *, compact: bool,
                 wrap: bool = False) -> Table:
    """`wrap`: text columns may wrap (at word breaks, or folded), as a last resort."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, header_style="bold")
    for column in columns:
        table.add_column(column.header, justify="right" if column.numeric else "left",
                         no_wrap=column.numeric or not wrap, overflow="fold")
    for row in rows:
        table.add_row(*((column.compact if compact and column.compact else column.cell)(row)
                        for column in columns))
    return table


def natural_width(console: Console, renderable: RenderableType) -> int:
    """The width `renderable` takes when nothing wraps (however wide the console)."""
    return Measurement.get(console, console.options.update_width(1 << 16), renderable).maximum


def fitted(console: Console, columns: Sequence[Column], rows: Sequence[Any], *,
           wide: bool) -> Table:
    """The fullest table of `rows` that fits the console without cutting a cell: full
    numbers, then compact ones, then without the least useful columns one by one."""
    if wide:
        return column_table(columns, rows, compact=False)
    by_keep = sorted(columns, key=lambda c: c.keep)
    count = len(by_keep)
    while True:
        kept = {id(c) for c in by_keep[:count]}
        shown = [c for c in columns if id(c) in kept]
        for compact in (False, True):
            table = column_table(shown, rows, compact=compact)
            if natural_width(console, table) <= console.width:
                return table
        if count == 1 or by_keep[count - 1].keep == 0:
            return column_table(shown, rows, compact=True, wrap=True)
        count -= 1


def details(rows: Sequence[tuple[str, str | Text]], title: str | None = None) -> Table:
    """Name and value pairs; long text wraps inside its cell."""
    table = Table.grid(padding=(0, 3))
    if title:
        table.title, table.title_justify, table.title_style = title, "left", "bold"
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for name, value in rows:
        table.add_row(name, value)
    return table


COIN_COLUMNS = [
    Column("#", lambda c: str(c.rank), keep=2, numeric=True),
    Column("Symbol", lambda c: c.symbol),
    Column("Name", lambda c: c.name, keep=3),
    Column("Price", lambda c: f.usd(c.current_price_usd), numeric=True),
    Column("24h", lambda c: f.percent(c.price_change_24h_percent), numeric=True),
    Column("Market cap", lambda c: f.usd(c.market_cap_usd), keep=1, numeric=True,
           compact=lambda c: f.usd_compact(c.market_cap_usd)),
    Column("Volume 24h", lambda c: f.usd(c.volume_24h_usd), keep=4, numeric=True,
           compact=lambda c: f.usd_compact(c.volume_24h_usd)),
]
WALLET_COLUMNS = [
    Column("Symbol", lambda w: w.symbol),
    Column("Coin", lambda w: w.coin_name, keep=3),
    Column("Balance", lambda w: f.amount(w.balance), numeric=True),
    Column("Locked", lambda w: f.amount(w.locked_balance), keep=2, numeric=True),
    Column("Value", lambda w: f.usd(w.value_usd), keep=1, numeric=True),
    Column("Address", lambda w: w.address, keep=4),
]
HOLDING_COLUMNS = [
    Column("Symbol", lambda h: h.symbol),
    Column("Coin", lambda h: h.coin_name, keep=3),
    Column("Balance", lambda h: f.amount(h.balance), keep=1, numeric=True),
    Column("Value", lambda h: f.usd(h.value_usd), numeric=True),
    Column("Share", lambda h: f.share(h.percentage), keep=2, numeric=True),
    Column("24h", lambda h: f.percent(h.change_24h_percent), numeric=True),
]


def _counterparty(t: r.LedgerTransaction) -> str:
    if t.kind.name == "TRANSFER":
        return f"user {t.from_user_id} → user {t.to_user_id}"
    if t.kind.name == "WITHDRAWAL":
        return f"to {t.destination_address}"
    return f"id {t.transaction_id}" if t.transaction_id else ""


TRANSACTION_COLUMNS = [
    Column("When (UTC)", lambda t: f.when(t.created_at)),
    Column("Kind", lambda t: t.kind.name.lower()),
    Column("Symbol", lambda t: t.symbol),
    Column("Change", lambda t: f.signed_amount(t.balance_change), numeric=True),
    Column("Details", _counterparty, keep=1),
    Column("Note", lambda t: t.note, keep=3),
    Column("Transaction", lambda t: t.id, keep=2),
]
PRICE_COLUMNS = [
    Column("Symbol", lambda u: u.symbol),
    Column("Price", lambda u: f.usd(u.price_usd), numeric=True),
    Column("24h", lambda u: f.percent(u.change_24h_percent), numeric=True),
    Column("At (UTC)", lambda u: f.when(u.timestamp), keep=1),
]


def page_note(noun: str, page: int, total_pages: int, total_count: int) -> str:
    nouns = noun if total_count == 1 else f"{noun}s"
    return f"page {page} of {max(total_pages, 1)}, {total_count} {nouns} in all"


@singledispatch
def tables(result: Any, console: Console, wide: bool) -> Iterator[RenderableType]:
    raise TypeError(f"no table for {type(result).__name__}")


@tables.register
def _(coin: r.Coin, console: Console, wide: bool) -> Iterator[RenderableType]:
    yield details([
        ("Coin", f"{coin.name} ({coin.symbol}), rank {coin.rank}"),
        ("Slug", coin.slug),
        ("Price", f.usd(coin.current_price_usd)),
        ("Change 24h", f.percent(coin.price_change_24h_percent)),
        ("Change 7d", f.percent(coin.price_change_7d_percent)),
        ("Change 30d", f.percent(coin.price_change_30d_percent)),
        ("Market cap", f.usd(coin.market_cap_usd)),
        ("Volume 24h", f.usd(coin.volume_24h_usd)),
        ("Active", f.yes_no(coin.is_active)),
        ("Tradeable", f.yes_no(coin.is_tradeable)),
        ("Website", coin.website),
        ("Whitepaper", coin.whitepaper_url),
        ("Updated", f.when(coin.updated_at)),
        ("About", coin.description),
    ])


@tables.register
def _(coins: r.CoinList, console: Console, wide: bool) -> Iterator[RenderableType]:
    if coins:
        yield fitted(console, COIN_COLUMNS, coins, wide=wide)
    else:
        note("no coins")


@tables.register
def _(page: r.CoinPage, console: Console, wide: bool) -> Iterator[RenderableType]:
    if page.coins:
        yield fitted(console, COIN_COLUMNS, page.coins, wide=wide)
    yield Text(page_note("coin", page.page, page.total_pages, page.total_count), style="dim")
    if not page.coins:
        note(f"no coins on page {page.page}")


@tables.register
def _(stats: r.MarketStats, console: Console, wide: bool) -> Iterator[RenderableType]:
    yield details([
        ("Market cap", f.usd(stats.total_market_cap_usd)),
        ("Volume 24h", f.usd(stats.total_volume_24h_usd)),
        ("Active coins", str(stats.active_coins_count)),
        ("Up / down 24h", f"{stats.coins_up_24h} / {stats.coins_down_24h}"),
        ("Average 24h", f.percent(stats.average_change_24h)),
        ("Calculated", f.when(stats.calculated_at)),
    ])


def wallet_details(wallet: r.Wallet, title: str | None = None) -> Table:
    return details([
        ("Wallet", f"user {wallet.user_id}, {wallet.coin_name} ({wallet.symbol})"),
        ("Balance", f.amount(wallet.balance)),
        ("Locked", f.amount(wallet.locked_balance)),
        ("Value", f.usd(wallet.value_usd)),
        ("Address", wallet.address),
        ("Updated", f.when(wallet.updated_at)),
    ], title=title)


@tables.register
def _(wallet: r.Wallet, console: Console, wide: bool) -> Iterator[RenderableType]:
    yield wallet_details(wallet)


@tables.register
def _(wallets: r.WalletList, console: Console, wide: bool) -> Iterator[RenderableType]:
    if not wallets.wallets:
        note("no wallets")
        return
    yield fitted(console, WALLET_COLUMNS, wallets.wallets, wide=wide)
    yield Text(f"Total value {f.usd(wallets.total_value_usd)}", style="bold")


@tables.register
def _(portfolio: r.Portfolio, console: Console, wide: bool) -> Iterator[RenderableType]:
    yield details([
        ("Value", f.usd(portfolio.total_value_usd)),
        ("Change 24h", Text.assemble(f.usd(portfolio.total_change_24h_usd), " (",
                                     f.percent(portfolio.total_change_24h_percent), ")")),
        ("Coins", str(portfolio.coins_count)),
        ("Calculated", f.when(portfolio.calculated_at)),
    ])
    if portfolio.holdings:
        yield fitted(console, HOLDING_COLUMNS, portfolio.holdings, wide=wide)


@tables.register
def _(page: r.TransactionPage, console: Console, wide: bool) -> Iterator[RenderableType]:
    if page.transactions:
        yield fitted(console, TRANSACTION_COLUMNS, page.transactions, wide=wide)
    yield Text(page_note("transaction", page.page, page.total_pages, page.total_count),
               style="dim")
    if not page.transactions:
        note(f"no transactions on page {page.page}")


def write_headline(write: r.Posted | r.Transfer) -> Text:
    """A write's first line: the server's message names what moved and the transaction; a
    replay is told from the `replayed` field, so that it never reads as a second payment
    whatever the server's words (a server without the field says so in its message)."""
    if write.replayed:
        return Text(f"replay of transaction {write.transaction_id}: nothing moved again",
                    style="bold yellow")
    return Text(write.message, style="bold")


@tables.register
def _(posted: r.Posted, console: Console, wide: bool) -> Iterator[RenderableType]:
    yield write_headline(posted)
    yield wallet_details(posted.wallet)


@tables.register
def _(transfer: r.Transfer, console: Console, wide: bool) -> Iterator[RenderableType]:
    yield write_headline(transfer)
    yield fitted(console, [Column("User", lambda w: str(w.user_id), numeric=True),
                           *WALLET_COLUMNS], [transfer.from_wallet, transfer.to_wallet],
                 wide=wide)


def note(text: str) -> None:
    """Said on stderr, so that stdout stays the data (empty) for a pipe."""
    Console(stderr=True).print(text, style="dim", highlight=False)


@dataclasses.dataclass(frozen=True)
class HealthStatus:
    """A grpc.health.v1 answer; `crypto health` exits 1 unless it is SERVING."""

    status: str
    service: str = ""

    @property
    def wire(self) -> HealthCheckResponse:
        return HealthCheckResponse(status=HealthCheckResponse.ServingStatus.Value(self.status))

    @property
    def exit_code(self) -> int:
        return 0 if self.status == "SERVING" else 1


@tables.register
def _(health: HealthStatus, console: Console, wide: bool) -> Iterator[RenderableType]:
    yield Text(f"{health.service or 'server'}: {health.status}",
               style="green" if health.exit_code == 0 else "red")


def show(result: r.Result | HealthStatus, *, as_json: bool, wide: bool) -> None:
    if as_json:
        print(to_json(result.wire))
        return
    console = Console(highlight=False)
    for renderable in tables(result, console, wide):
        if wide:
            console.width = max(console.width, natural_width(console, renderable))
        console.print(Segments(without_trailing_spaces(console, renderable)))


def without_trailing_spaces(console: Console, renderable: RenderableType) -> Iterator[Segment]:
    """The renderable's lines without the spaces rich pads every cell with up to its column's
    width: the last column's would end each line in blanks (in a pipe, a diff, a paste)."""
    for line in console.render_lines(renderable, pad=False, new_lines=False):
        while line and not line[-1].control and not line[-1].text.rstrip():
            line.pop()
        if line and not line[-1].control:
            last = line.pop()
            line.append(Segment(last.text.rstrip(), last.style))
        yield from line
        yield Segment.line()


def show_stream(updates: Iterator[r.PriceUpdate], *, as_json: bool, wide: bool) -> None:
    """One JSON line per update; on a terminal a table of the latest price per symbol,
    redrawn in place; piped, one line per update as it comes."""
    if as_json:
        for update in updates:
            print(to_json(update.wire, indent=None), flush=True)
        return
    console = Console(highlight=False)
    first = next(updates, None)  # an error (an unknown symbol) comes before any table
    if first is None:
        return
    if not console.is_terminal:
        for u in itertools.chain([first], updates):
            change = f.percent(u.change_24h_percent)
            change.pad_left(9 - len(change))
            console.print(Text.assemble(f"{u.symbol:<8}{f.usd(u.price_usd):>16}", change,
                                        "  ", f.when(u.timestamp)), soft_wrap=True)
            console.file.flush()
        return
    latest = {first.symbol: first}
    with Live(fitted(console, PRICE_COLUMNS, list(latest.values()), wide=wide),
              console=console, auto_refresh=False) as live:
        for update in updates:
            latest[update.symbol] = update
            live.update(fitted(console, PRICE_COLUMNS, list(latest.values()), wide=wide),
                        refresh=True)
