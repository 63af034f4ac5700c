"""cert_entries: indexes for the list's sortable columns (name, added) and the dashboard's pending count

Revision ID: certificates_0004
Revises: certificates_0003
"""

from __future__ import annotations

from alembic import op

revision = 'certificates_0004'
down_revision = 'certificates_0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_cert_entries_common_name_id', 'cert_entries', ['common_name', 'id'], unique=False)
    op.create_index('ix_cert_entries_created_at_id', 'cert_entries', ['created_at', 'id'], unique=False)
    op.create_index('ix_cert_entries_status', 'cert_entries', ['status'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_cert_entries_status', table_name='cert_entries')
    op.drop_index('ix_cert_entries_created_at_id', table_name='cert_entries')
    op.drop_index('ix_cert_entries_common_name_id', table_name='cert_entries')
