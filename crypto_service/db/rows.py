"""Plain rows of a model's table, converted exactly as Tortoise converts them, without model
instances.

The catalog reload and the price write run every second, and instantiating 126 models (and
building `bulk_update`'s CASE statement through pypika) blocked the event loop for tens of
milliseconds each time. These helpers let those paths send plain SQL and convert values
themselves, with Tortoise's own rules so memory and the database hold exactly what the ORM
would have put there:
- reading follows `Model._init_from_db`: a value the driver already returns as the field's type
  passes through, a field without its own conversion gets its type applied, the rest go through
  `to_python_value`;
- writing is `to_python_value` then `to_db_value`, what `update_from_dict` and an update do; the
  driver adapts the result (on SQLite the adapters Tortoise registers: decimals as `str`,
  datetimes as `isoformat(" ")`).
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any, Callable, Sequence

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.fields import DatetimeField
from tortoise.models import Model

Decoder = Callable[[Any], Any]


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
    """`value` as an update of field `name` sends it to the database. With the model class
    (not an instance) `auto_now` does not replace it: the caller decides the timestamp."""
    field = model._meta.fields_map[name]
    return field.to_db_value(field.to_python_value(value), model)


def column(model: type[Model], name: str) -> str:
    return f'"{model._meta.fields_db_projection[name]}"'


def placeholders(connection: BaseDBAsyncClient, count: int, start: int = 1) -> list[str]:
    """Positional parameters in the connection's style: `?` (SQLite) or `$n` (PostgreSQL)."""
    if connection.capabilities.dialect == "sqlite":
        return ["?"] * count
    return [f"${n}" for n in range(start, start + count)]


def _same(value: Any) -> Any:
    return value


def _typed(field_type: type, value: Any) -> Any:
    return value if value is None else field_type(value)


def _datetime(to_python_value: Decoder, value: Any) -> Any:
    # SQLite returns timestamps as text. Tortoise parses it with iso8601 (ten times slower);
    # `fromisoformat` reads the same instant from what Tortoise wrote (`isoformat(" ")`), and
    # `to_python_value` then applies the configured time zone exactly as it does for text.
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:  # a form only iso8601 reads: Tortoise's own path
            pass
    return to_python_value(value)
