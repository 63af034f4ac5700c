"""notification tables

Revision ID: notifications_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import certvault.db.base

revision = 'notifications_0001'
down_revision = None
branch_labels = ('notifications',)
depends_on = 'core_0001'


def upgrade() -> None:
    op.create_table('notification_audit_cursor',
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_notification_audit_cursor'))
    )

    op.create_table('notification_channels',
    sa.Column('name', sa.String(length=150), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('options', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('sealed_secret', sa.LargeBinary(), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=150), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_channels')),
    sa.UniqueConstraint('name', name=op.f('uq_notification_channels_name'))
    )

    op.create_table('notification_outbox',
    sa.Column('channel_id', sa.Uuid(), nullable=False),
    sa.Column('event', sa.String(length=100), nullable=False),
    sa.Column('title', sa.String(length=500), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['notification_channels.id'], name=op.f('fk_notification_outbox_channel_id_notification_channels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_outbox'))
    )

    with op.batch_alter_table('notification_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_outbox_channel_id'), ['channel_id'], unique=False)

    op.create_table('notification_subscriptions',
    sa.Column('channel_id', sa.Uuid(), nullable=False),
    sa.Column('event', sa.String(length=100), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=True),
    sa.Column('created_by', sa.String(length=150), nullable=False),
    sa.Column('created_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['notification_channels.id'], name=op.f('fk_notification_subscriptions_channel_id_notification_channels'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_subscriptions'))
    )

    with op.batch_alter_table('notification_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_subscriptions_channel_id'), ['channel_id'], unique=False)
        batch_op.create_index('ix_notification_subscriptions_event', ['event'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('notification_subscriptions', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_subscriptions_event')
        batch_op.drop_index(batch_op.f('ix_notification_subscriptions_channel_id'))

    op.drop_table('notification_subscriptions')

    with op.batch_alter_table('notification_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_outbox_channel_id'))

    op.drop_table('notification_outbox')

    op.drop_table('notification_channels')

    op.drop_table('notification_audit_cursor')
