"""scan_events are the endpoints' change history only: consumers read the domain-event outbox

Revision ID: scanning_0003
Revises: scanning_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import certvault.db.base

revision = 'scanning_0003'
down_revision = 'scanning_0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('scan_events', schema=None) as batch_op:
        batch_op.drop_index('ix_scan_events_pending')
        batch_op.drop_column('consumed_by')
        batch_op.drop_column('consumed_at')
        batch_op.create_index(batch_op.f('ix_scan_events_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('scan_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scan_events_created_at'))
        batch_op.add_column(sa.Column('consumed_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('consumed_by', sa.String(length=100), nullable=True))
        batch_op.create_index('ix_scan_events_pending', ['consumed_at', 'created_at'], unique=False)
