"""notification policies (with the default expiry policy), digest parts on outbox messages, new scan findings

Revision ID: notifications_0003
Revises: notifications_0002
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import certvault.db.base

revision = 'notifications_0003'
down_revision = 'notifications_0002'
branch_labels = None
depends_on = None

JSON = certvault.db.base.JSONType
WHEN = certvault.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    policies = op.create_table('notification_policies',
    sa.Column('name', sa.String(length=150), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('within_days', sa.Integer(), nullable=False),
    sa.Column('schedule', sa.String(length=64), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('channel_ids', JSON, nullable=False),
    sa.Column('filters', JSON, nullable=False),
    sa.Column('scope', sa.String(length=8), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('next_run_at', WHEN, nullable=True),
    sa.Column('last_run_at', WHEN, nullable=True),
    sa.Column('last_result', JSON, nullable=False),
    sa.Column('scan_mark', WHEN, nullable=True),
    sa.Column('created_by', sa.String(length=150), nullable=False),
    sa.Column('created_at', WHEN, nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_policies')),
    sa.UniqueConstraint('name', name=op.f('uq_notification_policies_name'))
    )
    with op.batch_alter_table('notification_policies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_policies_next_run_at'), ['next_run_at'], unique=False)

    op.create_table('notification_scan_findings',
    sa.Column('recorded_at', WHEN, nullable=False),
    sa.Column('endpoint_id', sa.String(length=36), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('port', sa.Integer(), nullable=False),
    sa.Column('findings', JSON, nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_scan_findings'))
    )
    with op.batch_alter_table('notification_scan_findings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_scan_findings_recorded_at'), ['recorded_at'], unique=False)

    with op.batch_alter_table('notification_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('html', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('attachments', JSON, nullable=True))
        batch_op.add_column(sa.Column('recipients', JSON, nullable=True))
        batch_op.add_column(sa.Column('items', JSON, nullable=True))

    # From the first start: certificates expiring within 30 days, daily, to the administrators' email
    op.bulk_insert(policies, [{
        'id': uuid.uuid4(), 'name': 'expiring-certificates', 'kind': 'expiry', 'within_days': 30,
        'schedule': 'daily 08:00', 'timezone': 'UTC', 'channel_ids': [], 'filters': {}, 'scope': 'new',
        'enabled': True, 'is_default': True, 'next_run_at': None, 'last_run_at': None, 'last_result': {},
        'scan_mark': None, 'created_by': 'system', 'created_at': datetime.now(UTC),
    }])


def downgrade() -> None:
    with op.batch_alter_table('notification_outbox', schema=None) as batch_op:
        batch_op.drop_column('items')
        batch_op.drop_column('recipients')
        batch_op.drop_column('attachments')
        batch_op.drop_column('html')
    with op.batch_alter_table('notification_scan_findings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_scan_findings_recorded_at'))
    op.drop_table('notification_scan_findings')
    with op.batch_alter_table('notification_policies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_policies_next_run_at'))
    op.drop_table('notification_policies')
