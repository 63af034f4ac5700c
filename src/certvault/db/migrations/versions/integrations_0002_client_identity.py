"""integration accounts: the client certificate offered for mutual TLS (any kind of account)

Revision ID: integrations_0002
Revises: integrations_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import certvault.db.base

revision = 'integrations_0002'
down_revision = 'integrations_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('integration_accounts') as batch:
        batch.add_column(sa.Column('client_identity', certvault.db.base.JSONType, nullable=False,
                                   server_default='{}'))


def downgrade() -> None:
    with op.batch_alter_table('integration_accounts') as batch:
        batch.drop_column('client_identity')
