"""login failures per address and account, TOTP pending secret and last step

Revision ID: core_0003
Revises: core_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import certvault.db.base

revision = 'core_0003'
down_revision = 'core_0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_failures',
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_ends', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('blocked_until', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_login_failures_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_login_failures'))
    )
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_failures_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_failures_window_ends'), ['window_ends'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_pending', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.BigInteger(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_pending')

    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_failures_window_ends'))
        batch_op.drop_index(batch_op.f('ix_login_failures_user_id'))

    op.drop_table('login_failures')
