"""Plain rows of a model's table, converted exactly as Tortoise converts them, without model
instances.

The catalog reload and the price write run every second while prices move, and instantiating
126 models (and building `bulk_update`'s CASE statement through pypika) blocked the event loop
for tens of milliseconds each time. These helpers let those paths send plain SQL and convert values
themselves, with Tortoise's own rules so memory and the database hold exactly what the ORM
would have put there:
- reading follows `Model._init_from_db`: a value the driver already returns as the field's type
  passes through, a field without its own conversion gets its type applied, the rest go through
  `to_python_value`;
- writing is `to_db_value` of the value as the model holds it (what `update_from_dict`'s
  `to_python_value` made of the input); the driver adapts the result (on SQLite the adapters
  Tortoise registers: decimals as `str`, datetimes as `isoformat(" ")`).
Converting 126 rows still takes a few milliseconds, so `convert_rows` hands the loop back
between batches of them.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from functools import partial
from typing import Any, Callable, Iterable, Sequence, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.fields import DatetimeField
from tortoise.models import Model

Decoder = Callable[[Any], Any]
T = TypeVar("T")
R = TypeVar("R")

# About a millisecond of conversion on this project's 2-core machine.
ROWS_PER_BATCH = 32


def decoders(model: type[Model], names: Sequence[str]) -> list[Decoder]:
    """One converter from the database value to the Python value per field named, for the
    backend the model is bound to now (the classification is redone at every `Tortoise.init`,
    so call this per query, not once at import)."""
    meta = model._meta
    native = {name for _, name, _ in meta.db_native_fields}
    typed = {name for _, name, _ in meta.db_default_fields}
    result: list[Decoder] = []
    for name in names:
        field = meta.fields_map[name]
        if name in native:
            result.append(_same)
        elif name in typed:
            result.append(partial(_typed, field.field_type))
        elif isinstance(field, DatetimeField):
            result.append(partial(_datetime, field.to_python_value))
        else:
            result.append(field.to_python_value)
    return result


def encode(model: type[Model], name: str, value: Any) -> Any:
    """What an update sends to the database for field `name` holding `value` (a Python value
    as the model holds it). With the model class (not an instance) `auto_now` does not replace
    it: the caller decides the timestamp."""
    return model._meta.fields_map[name].to_db_value(value, model)


async def convert_rows(rows: Iterable[T], convert: Callable[[T], R]) -> list[R]:
    """`convert` applied to every row, yielding to the event loop after each batch so other
    callbacks (requests, streams) wait at most one batch's conversion, not all of it."""
    result: list[R] = []
    for n, row in enumerate(rows, start=1):
        result.append(convert(row))
        if n % ROWS_PER_BATCH == 0:
            await asyncio.sleep(0)
    return result


async def select(connection: BaseDBAsyncClient, model: type[Model], names: Sequence[str],
                 condition: str = "", params: Sequence[Any] = ()) -> list[list[Any]]:
    """`SELECT names FROM` the model's table, plus `condition` (WHERE, FOR UPDATE, ...), with
    each row's values converted to what the model would hold, in batches."""
    sql = (f"SELECT {', '.join(column(model, name) for name in names)} "
           f"FROM {table(model)}{condition}")
    _, rows = await connection.execute_query(sql, list(params) or None)
    decode = decoders(model, names)
    return await convert_rows(rows, lambda row: [convert(value)
                                                 for convert, value in zip(decode, row)])


def table(model: type[Model]) -> str:
    return f'"{model._meta.db_table}"'


def column(model: type[Model], name: str) -> str:
    return f'"{model._meta.fields_db_projection[name]}"'


def placeholders(connection: BaseDBAsyncClient, count: int) -> list[str]:
    """Positional parameters in the connection's style: `?` (SQLite) or `$n` (PostgreSQL)."""
    if connection.capabilities.dialect == "sqlite":
        return ["?"] * count
    return [f"${n}" for n in range(1, count + 1)]


def _same(value: Any) -> Any:
    return value


def _typed(field_type: type, value: Any) -> Any:
    return value if value is None else field_type(value)


def _datetime(to_python_value: Decoder, value: Any) -> Any:
    # SQLite returns timestamps as text. Tortoise parses it with iso8601, in pure Python: most
    # of the time converting a catalog's rows takes. `fromisoformat` reads the same instant
    # from what Tortoise wrote (`isoformat(" ")`), and `to_python_value` then applies the
    # configured time zone exactly as it does after parsing text.
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:  # a form only iso8601 reads: Tortoise's own path
            pass
    return to_python_value(value)
