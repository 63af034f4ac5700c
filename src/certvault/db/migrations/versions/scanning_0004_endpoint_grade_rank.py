"""scan_endpoints.grade_rank: the grade order (worst first, never graded last) as an indexed column

Revision ID: scanning_0004
Revises: scanning_0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'scanning_0004'
down_revision = 'scanning_0003'
branch_labels = None
depends_on = None

GRADE_ORDER = ("A+", "A", "A-", "B", "C", "D", "E", "F", "M", "T")  # as in scanning/models.py when written


def upgrade() -> None:
    with op.batch_alter_table('scan_endpoints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('grade_rank', sa.Integer(), nullable=False, server_default=str(len(GRADE_ORDER))))
    endpoints = sa.table('scan_endpoints', sa.column('grade', sa.String), sa.column('grade_rank', sa.Integer))
    ranks = {g: len(GRADE_ORDER) - 1 - i for i, g in enumerate(GRADE_ORDER)}
    op.execute(endpoints.update().where(endpoints.c.grade.in_(list(ranks)))
               .values(grade_rank=sa.case(ranks, value=endpoints.c.grade)))
    op.create_index('ix_scan_endpoints_grade_rank_host_id', 'scan_endpoints', ['grade_rank', 'host', 'id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_scan_endpoints_grade_rank_host_id', table_name='scan_endpoints')
    with op.batch_alter_table('scan_endpoints', schema=None) as batch_op:
        batch_op.drop_column('grade_rank')
