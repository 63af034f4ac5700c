"""the audit watcher is gone (the auth service publishes its events): its cursor, schedule and jobs go too

Revision ID: notifications_0002
Revises: notifications_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'notifications_0002'
down_revision = 'notifications_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table('notification_audit_cursor')
    op.execute("DELETE FROM job_schedules WHERE name = 'notifications.watch_audit'")
    op.execute("DELETE FROM jobs WHERE name = 'notifications.watch_audit' AND status IN ('queued', 'running')")


def downgrade() -> None:
    op.create_table('notification_audit_cursor',
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_notification_audit_cursor'))
    )
