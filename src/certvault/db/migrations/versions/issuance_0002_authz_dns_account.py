"""per-name DNS account and CNAME target on acme_authorizations

Revision ID: issuance_0002
Revises: issuance_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'issuance_0002'
down_revision = 'issuance_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('acme_authorizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dns_account_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('record_target', sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('acme_authorizations', schema=None) as batch_op:
        batch_op.drop_column('record_target')
        batch_op.drop_column('dns_account_id')
