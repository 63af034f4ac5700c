"""inventory_seen_at on scan endpoints

Revision ID: scanning_0002
Revises: scanning_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import certvault.db.base

revision = 'scanning_0002'
down_revision = 'scanning_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('scan_endpoints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('inventory_seen_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('scan_endpoints', schema=None) as batch_op:
        batch_op.drop_column('inventory_seen_at')
