from tortoise import migrations
from tortoise.migrations import operations as ops
from crypto_service.db.models import TransactionKind
from tortoise.fields.base import OnDelete
from uuid import uuid4
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LedgerTransaction',
            fields=[
                ('seq', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('id', fields.UUIDField(default=uuid4, unique=True)),
                ('kind', fields.CharEnumField(description='DEPOSIT: deposit\nWITHDRAWAL: withdrawal\nTRANSFER: transfer', enum_type=TransactionKind, max_length=16)),
                ('coin', fields.ForeignKeyField('models.Coin', source_field='coin_id', db_constraint=True, to_field='id', related_name='transactions', on_delete=OnDelete.RESTRICT)),
                ('amount', fields.DecimalField(max_digits=38, decimal_places=18)),
                ('from_user_id', fields.IntField(null=True)),
                ('to_user_id', fields.IntField(null=True)),
                ('idempotency_scope', fields.CharField(null=True, max_length=32)),
                ('idempotency_key', fields.CharField(null=True, max_length=128)),
                ('destination_address', fields.CharField(default='', max_length=128)),
                ('note', fields.CharField(default='', max_length=256)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'ledger_transaction', 'app': 'models', 'unique_together': (('idempotency_scope', 'idempotency_key'),), 'indexes': [Index(fields=['from_user_id', 'seq']), Index(fields=['to_user_id', 'seq'])], 'pk_attr': 'seq', 'table_description': 'One balance change, immutable once written: a correction is a new transaction.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LedgerEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('transaction', fields.ForeignKeyField('models.LedgerTransaction', source_field='transaction_id', db_constraint=True, to_field='seq', related_name='entries', on_delete=OnDelete.RESTRICT)),
                ('coin', fields.ForeignKeyField('models.Coin', source_field='coin_id', db_constraint=True, to_field='id', related_name='entries', on_delete=OnDelete.RESTRICT)),
                ('user_id', fields.IntField(null=True)),
                ('amount', fields.DecimalField(max_digits=38, decimal_places=18)),
            ],
            options={'table': 'ledger_entry', 'app': 'models', 'indexes': [Index(fields=['user_id', 'coin_id'])], 'pk_attr': 'id', 'table_description': 'One side of a transaction. Per coin, all entries sum to zero: deposits and withdrawals'},
            bases=['Model'],
        ),
    ]
