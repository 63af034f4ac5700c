"""integration accounts: DNS accounts and notification channels become one table; secrets move to the vault

Revision ID: integrations_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import certvault.db.base

revision = 'integrations_0001'
down_revision = None
branch_labels = ('integrations',)
# After every table the data move touches through the current models (vault, audit, keyring, auth).
depends_on = ('core_0003', 'issuance_0001', 'notifications_0001', 'vault_0001')

_REPOINT = (  # table, column, old referred table, on delete
    ('acme_managed', 'dns_account_id', 'acme_dns_accounts', 'RESTRICT'),
    ('acme_orders', 'dns_account_id', 'acme_dns_accounts', 'SET NULL'),
    ('notification_subscriptions', 'channel_id', 'notification_channels', 'CASCADE'),
    ('notification_outbox', 'channel_id', 'notification_channels', 'CASCADE'),
)


def upgrade() -> None:
    op.create_table('integration_accounts',
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('plugin', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=150), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('options', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('secret_refs', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('connection', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_by', sa.String(length=150), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_integration_accounts')),
    sa.UniqueConstraint('kind', 'name', name='uq_integration_accounts_kind_name')
    )
    from certvault.integrations.legacy import move_legacy_accounts

    config = op.get_context().config
    move_legacy_accounts(op.get_bind(), config.attributes.get("settings") if config is not None else None)
    for table, column, old, ondelete in _REPOINT:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f'fk_{table}_{column}_{old}', type_='foreignkey')
            batch_op.create_foreign_key(batch_op.f(f'fk_{table}_{column}_integration_accounts'),
                                        'integration_accounts', [column], ['id'], ondelete=ondelete)
    op.drop_table('acme_dns_accounts')
    op.drop_table('notification_channels')


def downgrade() -> None:
    raise NotImplementedError("secrets moved into the vault; restore a backup to go back")
