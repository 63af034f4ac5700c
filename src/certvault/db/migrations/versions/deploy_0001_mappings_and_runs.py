"""deploy: mappings (certificate -> deploy target) and deployments

Revision ID: deploy_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import certvault.db.base

revision = 'deploy_0001'
down_revision = None
branch_labels = ('deploy',)
depends_on = ('certificates_0001', 'integrations_0001')


def upgrade() -> None:
    op.create_table('deploy_mappings',
    sa.Column('entry_id', sa.Uuid(), nullable=False),
    sa.Column('target_id', sa.Uuid(), nullable=False),
    sa.Column('auto', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=150), nullable=False),
    sa.Column('created_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['cert_entries.id'], name=op.f('fk_deploy_mappings_entry_id_cert_entries'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_id'], ['integration_accounts.id'],
                            name=op.f('fk_deploy_mappings_target_id_integration_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deploy_mappings')),
    sa.UniqueConstraint('entry_id', 'target_id', name='uq_deploy_mappings_entry_id')
    )
    op.create_index(op.f('ix_deploy_mappings_entry_id'), 'deploy_mappings', ['entry_id'], unique=False)
    op.create_index(op.f('ix_deploy_mappings_target_id'), 'deploy_mappings', ['target_id'], unique=False)
    op.create_table('deploy_runs',
    sa.Column('entry_id', sa.Uuid(), nullable=False),
    sa.Column('version_id', sa.Uuid(), nullable=False),
    sa.Column('serial', sa.String(length=64), nullable=False),
    sa.Column('target_id', sa.Uuid(), nullable=True),
    sa.Column('target_name', sa.String(length=150), nullable=False),
    sa.Column('plugin', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('trigger', sa.String(length=32), nullable=False),
    sa.Column('receipt', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('served_serial', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=150), nullable=False),
    sa.Column('created_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deployed_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('verified_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['cert_entries.id'], name=op.f('fk_deploy_runs_entry_id_cert_entries'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_id'], ['integration_accounts.id'],
                            name=op.f('fk_deploy_runs_target_id_integration_accounts'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deploy_runs'))
    )
    op.create_index('ix_deploy_runs_entry_id_created_at', 'deploy_runs', ['entry_id', 'created_at'], unique=False)
    op.create_index(op.f('ix_deploy_runs_status'), 'deploy_runs', ['status'], unique=False)
    op.create_index(op.f('ix_deploy_runs_target_id'), 'deploy_runs', ['target_id'], unique=False)


def downgrade() -> None:
    op.drop_table('deploy_runs')
    op.drop_table('deploy_mappings')
