"""help-desk settings and the local ticket records

Revision ID: tickets_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import certvault.db.base

revision = 'tickets_0001'
down_revision = None
branch_labels = ('tickets',)
depends_on = ('integrations_0001',)

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def _timestamps() -> list[sa.Column]:
    return [sa.Column('created_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
            sa.Column('updated_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False)]


def upgrade() -> None:
    op.create_table('helpdesk_settings',
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('expiry_tickets', sa.Boolean(), nullable=False),
    sa.Column('vulnerability_tickets', sa.Boolean(), nullable=False),
    sa.Column('resolve_on_renewal', sa.Boolean(), nullable=False),
    *_timestamps(),
    sa.ForeignKeyConstraint(['account_id'], ['integration_accounts.id'],
                            name=op.f('fk_helpdesk_settings_account_id_integration_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', name=op.f('pk_helpdesk_settings'))
    )
    op.create_table('tickets',
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=320), nullable=False),
    sa.Column('correlation_key', sa.String(length=64), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=True),
    sa.Column('remote_status', sa.String(length=64), nullable=True),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('previous_numbers', _JSON, nullable=False),
    sa.Column('common_name', sa.String(length=255), nullable=False),
    sa.Column('domain', sa.String(length=255), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('serial', sa.String(length=64), nullable=False),
    sa.Column('entry_id', sa.Uuid(), nullable=True),
    sa.Column('endpoint_id', sa.Uuid(), nullable=True),
    sa.Column('scan_result_id', sa.Uuid(), nullable=True),
    sa.Column('resolved_by_certvault', sa.Boolean(), nullable=False),
    sa.Column('sync_state', sa.String(length=16), nullable=False),
    sa.Column('pending_action', sa.String(length=16), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease_owner', sa.String(length=120), nullable=True),
    sa.Column('lease_until', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_synced_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    *_timestamps(),
    sa.ForeignKeyConstraint(['account_id'], ['integration_accounts.id'],
                            name=op.f('fk_tickets_account_id_integration_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tickets')),
    sa.UniqueConstraint('account_id', 'kind', 'key', name='uq_tickets_account_kind_key')
    )
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tickets_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tickets_correlation_key'), ['correlation_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tickets_correlation_key'))
        batch_op.drop_index(batch_op.f('ix_tickets_account_id'))
    op.drop_table('tickets')
    op.drop_table('helpdesk_settings')
