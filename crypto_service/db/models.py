"""Tortoise models: the schema. Changes go through a migration (`tortoise makemigrations`)."""

from __future__ import annotations

import enum
import uuid

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


def money_field(**kwargs) -> fields.DecimalField:
    # 38 digits with 18 fractional: NUMERIC(38,18) on PostgreSQL, exact text on SQLite.
    return fields.DecimalField(max_digits=38, decimal_places=18, **kwargs)


class Coin(Model):
    id = fields.IntField(primary_key=True)
    symbol = fields.CharField(max_length=32, unique=True)  # stored upper-case
    name = fields.CharField(max_length=128)
    slug = fields.CharField(max_length=128, unique=True)  # stored lower-case

    current_price_usd = money_field(default=0)
    market_cap_usd = money_field(default=0)
    volume_24h_usd = money_field(default=0)

    price_change_24h_percent = money_field(default=0)
    price_change_7d_percent = money_field(default=0)
    price_change_30d_percent = money_field(default=0)

    logo_url = fields.CharField(max_length=512, default="")
    description = fields.TextField(default="")
    website = fields.CharField(max_length=512, default="")
    whitepaper_url = fields.CharField(max_length=512, default="")

    rank = fields.IntField(default=0)
    is_active = fields.BooleanField(default=True)
    is_tradeable = fields.BooleanField(default=True)
    is_price_up_24h = fields.BooleanField(default=False)

    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "coin"
        indexes = (
            Index(fields=("rank",)),
            Index(fields=("market_cap_usd",)),
            Index(fields=("volume_24h_usd",)),
            Index(fields=("price_change_24h_percent",)),
            Index(fields=("name",)),
            Index(fields=("updated_at",)),
        )


class Wallet(Model):
    id = fields.IntField(primary_key=True)
    user_id = fields.IntField()
    coin: fields.ForeignKeyRelation[Coin] = fields.ForeignKeyField(
        "models.Coin", related_name="wallets", on_delete=fields.RESTRICT
    )
    balance = money_field(default=0)
    locked_balance = money_field(default=0)
    address = fields.CharField(max_length=128)

    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "wallet"
        unique_together = (("user_id", "coin"),)


class TransactionKind(str, enum.Enum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    TRANSFER = "transfer"


class LedgerTransaction(Model):
    """One balance change, immutable once written: a correction is a new transaction."""

    seq = fields.BigIntField(primary_key=True)  # insertion order, for "newest first"
    id = fields.UUIDField(unique=True, default=uuid.uuid4)
    kind = fields.CharEnumField(TransactionKind, max_length=16)
    coin: fields.ForeignKeyRelation[Coin] = fields.ForeignKeyField(
        "models.Coin", related_name="transactions", on_delete=fields.RESTRICT
    )
    amount = money_field()
    from_user_id = fields.IntField(null=True)  # None: money from outside (a deposit)
    to_user_id = fields.IntField(null=True)  # None: money to outside (a withdrawal)
    # The caller's idempotency key, unique within its scope: "deposit" for deposits' external
    # transaction ids, "user:N" for the idempotency-key metadata of user N's withdrawals and
    # transfers. A replay finds this row instead of moving money again.
    idempotency_scope = fields.CharField(max_length=32, null=True)
    idempotency_key = fields.CharField(max_length=128, null=True)
    destination_address = fields.CharField(max_length=128, default="")
    note = fields.CharField(max_length=256, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "ledger_transaction"
        unique_together = (("idempotency_scope", "idempotency_key"),)
        indexes = (Index(fields=("from_user_id", "seq")), Index(fields=("to_user_id", "seq")))


class LedgerEntry(Model):
    """One side of a transaction. Per coin, all entries sum to zero: deposits and withdrawals
    post against the coin's external account (user_id None)."""

    id = fields.BigIntField(primary_key=True)
    transaction: fields.ForeignKeyRelation[LedgerTransaction] = fields.ForeignKeyField(
        "models.LedgerTransaction", related_name="entries", on_delete=fields.RESTRICT
    )
    coin: fields.ForeignKeyRelation[Coin] = fields.ForeignKeyField(
        "models.Coin", related_name="entries", on_delete=fields.RESTRICT
    )
    user_id = fields.IntField(null=True)
    amount = money_field()  # signed: negative leaves the account

    class Meta:
        table = "ledger_entry"
        indexes = (Index(fields=("user_id", "coin_id")),)
