from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Coin',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('symbol', fields.CharField(unique=True, max_length=32)),
                ('name', fields.CharField(max_length=128)),
                ('slug', fields.CharField(unique=True, max_length=128)),
                ('current_price_usd', fields.DecimalField(default=0, max_digits=38, decimal_places=18)),
                ('market_cap_usd', fields.DecimalField(default=0, max_digits=38, decimal_places=18)),
                ('volume_24h_usd', fields.DecimalField(default=0, max_digits=38, decimal_places=18)),
                ('price_change_24h_percent', fields.DecimalField(default=0, max_digits=38, decimal_places=18)),
                ('price_change_7d_percent', fields.DecimalField(default=0, max_digits=38, decimal_places=18)),
                ('price_change_30d_percent', fields.DecimalField(default=0, max_digits=38, decimal_places=18)),
                ('logo_url', fields.CharField(default='', max_length=512)),
                ('description', fields.TextField(default='', unique=False)),
                ('website', fields.CharField(default='', max_length=512)),
                ('whitepaper_url', fields.CharField(default='', max_length=512)),
                ('rank', fields.IntField(default=0)),
                ('is_active', fields.BooleanField(default=True)),
                ('is_tradeable', fields.BooleanField(default=True)),
                ('is_price_up_24h', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'coin', 'app': 'models', 'indexes': [Index(fields=['rank']), Index(fields=['market_cap_usd']), Index(fields=['volume_24h_usd']), Index(fields=['price_change_24h_percent']), Index(fields=['name']), Index(fields=['updated_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Wallet',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user_id', fields.IntField()),
                ('coin', fields.ForeignKeyField('models.Coin', source_field='coin_id', db_constraint=True, to_field='id', related_name='wallets', on_delete=OnDelete.RESTRICT)),
                ('balance', fields.DecimalField(default=0, max_digits=38, decimal_places=18)),
                ('locked_balance', fields.DecimalField(default=0, max_digits=38, decimal_places=18)),
                ('address', fields.CharField(max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'wallet', 'app': 'models', 'unique_together': (('user_id', 'coin'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
