"""cert_names: one index (name_rev); exact and substring name lookups go through it too

Revision ID: certificates_0002
Revises: certificates_0001
"""

from __future__ import annotations

from alembic import op

revision = 'certificates_0002'
down_revision = 'certificates_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_cert_names_name', table_name='cert_names')


def downgrade() -> None:
    op.create_index('ix_cert_names_name', 'cert_names', ['name'], unique=False)
