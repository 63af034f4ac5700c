"""cert_entries: no index on names_key (renewals are found through cert_names.name_rev)

Revision ID: certificates_0003
Revises: certificates_0002
"""

from __future__ import annotations

from alembic import op

revision = 'certificates_0003'
down_revision = 'certificates_0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_cert_entries_names_key', table_name='cert_entries')


def downgrade() -> None:
    op.create_index('ix_cert_entries_names_key', 'cert_entries', ['names_key'], unique=False)
