"""Tortoise models: the schema. Changes go through a migration (`tortoise makemigrations`)."""

from __future__ import annotations

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
