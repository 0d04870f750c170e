"""Printing the client's results: rich tables for people, canonical proto3 JSON for programs.

Tables are built from the same canonical dict as the JSON (timestamps in RFC 3339, enums by
name, decimals as sent), so the two modes never disagree about a value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import betterproto2
from rich.console import Console
from rich.live import Live
from rich.table import Table

from ..messages import google_class, to_dict, to_json

# The columns of a list of each message type; a single message shows every field.
COLUMNS: dict[str, list[str]] = {
    "Coin": ["rank", "symbol", "name", "current_price_usd", "price_change_24h_percent",
             "market_cap_usd", "volume_24h_usd"],
    "Wallet": ["user_id", "symbol", "balance", "locked_balance", "value_usd", "address"],
    "PortfolioHolding": ["symbol", "coin_name", "balance", "value_usd", "percentage",
                         "change_24h_percent"],
    "LedgerTransaction": ["created_at", "kind", "symbol", "balance_change", "from_user_id",
                          "to_user_id", "id"],
    "PriceUpdate": ["symbol", "price_usd", "change_24h_percent", "timestamp"],
}
HIDDEN = {"success", "message"}  # every response has them; an error would have raised


def label(field: str) -> str:
    return field.replace("_", " ")


def rows_table(rows: list[dict[str, Any]], kind: str, title: str | None = None) -> Table:
    table = Table(title=title)
    for column in COLUMNS[kind]:
        table.add_column(label(column))
    for row in rows:
        table.add_row(*(str(row.get(column, "")) for column in COLUMNS[kind]))
    return table


def details_table(fields: dict[str, Any], title: str | None = None) -> Table:
    table = Table(title=title, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for name, value in fields.items():
        table.add_row(label(name), str(value))
    return table


def message_tables(message: betterproto2.Message) -> list[Table]:
    """A message's scalar fields as one table, then each nested message and list its own."""
    fields = to_dict(message, proto_names=True)
    descriptor = google_class(type(message)).DESCRIPTOR
    scalars = {k: v for k, v in fields.items()
               if k not in HIDDEN and not isinstance(v, (dict, list))}
    tables = [details_table(scalars)] if scalars else []
    for name, value in fields.items():
        if isinstance(value, dict):
            tables.append(details_table(value, title=label(name)))
        elif isinstance(value, list):
            kind = descriptor.fields_by_name[name].message_type.name
            tables.append(rows_table(value, kind, title=label(name)))
    return tables


def show(result: betterproto2.Message | list[betterproto2.Message], *, as_json: bool) -> None:
    if as_json:
        print(to_json(result))
        return
    console = Console()
    if isinstance(result, list):
        if not result:
            console.print("no results")
            return
        console.print(rows_table([to_dict(item, proto_names=True) for item in result],
                                 type(result[0]).__name__))
        return
    for table in message_tables(result):
        console.print(table)


def show_stream(updates: Iterable[betterproto2.Message], *, as_json: bool) -> None:
    """One JSON object per line as updates arrive, or a table with the latest update per
    symbol, redrawn in place on a terminal (printed once at the end when output is piped)."""
    if as_json:
        for update in updates:
            print(json.dumps(to_dict(update)), flush=True)
        return
    latest: dict[str, dict[str, Any]] = {}
    with Live(rows_table([], "PriceUpdate"), auto_refresh=False) as live:
        for update in updates:
            row = to_dict(update, proto_names=True)
            latest[row["symbol"]] = row
            live.update(rows_table(list(latest.values()), "PriceUpdate"), refresh=True)
