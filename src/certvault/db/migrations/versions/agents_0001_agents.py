"""agents: enrolment tokens, agents, their client certificates and their jobs

Revision ID: agents_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import certvault.db.base

revision = 'agents_0001'
down_revision = None
branch_labels = ('agents',)
depends_on = ('core_0001',)

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
_TIME = certvault.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table('agents',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.String(length=150), nullable=False),
    sa.Column('created_at', _TIME, nullable=False),
    sa.Column('enrolled_at', _TIME, nullable=True),
    sa.Column('last_seen_at', _TIME, nullable=True),
    sa.Column('last_address', sa.String(length=64), nullable=True),
    sa.Column('revoked_at', _TIME, nullable=True),
    sa.Column('details', _JSON, nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agents')),
    sa.UniqueConstraint('name', name=op.f('uq_agents_name'))
    )
    op.create_table('agent_enrolment_tokens',
    sa.Column('agent_name', sa.String(length=64), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', _TIME, nullable=False),
    sa.Column('used_at', _TIME, nullable=True),
    sa.Column('created_by', sa.String(length=150), nullable=False),
    sa.Column('created_at', _TIME, nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_enrolment_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_agent_enrolment_tokens_token_hash'))
    )
    op.create_table('agent_certificates',
    sa.Column('agent_id', sa.Uuid(), nullable=False),
    sa.Column('serial', sa.String(length=64), nullable=False),
    sa.Column('not_after', _TIME, nullable=False),
    sa.Column('created_at', _TIME, nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_agent_certificates_agent_id_agents'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_certificates')),
    sa.UniqueConstraint('serial', name=op.f('uq_agent_certificates_serial'))
    )
    op.create_index(op.f('ix_agent_certificates_agent_id'), 'agent_certificates', ['agent_id'], unique=False)
    op.create_table('agent_jobs',
    sa.Column('agent_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('payload', _JSON, nullable=False),
    sa.Column('secret_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('dedup_key', sa.String(length=200), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('available_at', _TIME, nullable=False),
    sa.Column('result', _JSON, nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', _TIME, nullable=False),
    sa.Column('finished_at', _TIME, nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_agent_jobs_agent_id_agents'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_jobs')),
    sa.UniqueConstraint('agent_id', 'dedup_key', name='uq_agent_jobs_agent_id_dedup_key')
    )
    op.create_index(op.f('ix_agent_jobs_agent_id'), 'agent_jobs', ['agent_id'], unique=False)
    op.create_index(op.f('ix_agent_jobs_state'), 'agent_jobs', ['state'], unique=False)
    op.create_index(op.f('ix_agent_jobs_available_at'), 'agent_jobs', ['available_at'], unique=False)


def downgrade() -> None:
    op.drop_table('agent_jobs')
    op.drop_table('agent_certificates')
    op.drop_table('agent_enrolment_tokens')
    op.drop_table('agents')
