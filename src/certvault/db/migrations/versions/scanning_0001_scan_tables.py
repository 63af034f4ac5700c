"""scan endpoints, results, events, runs, schedules

Revision ID: scanning_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import certvault.db.base

revision = 'scanning_0001'
down_revision = None
branch_labels = ('scanning',)
depends_on = 'core_0001'


def upgrade() -> None:
    op.create_table('scan_endpoints',
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('port', sa.Integer(), nullable=False),
    sa.Column('sni', sa.String(length=255), nullable=True),
    sa.Column('sni_key', sa.String(length=255), nullable=False),
    sa.Column('starttls', sa.String(length=16), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('grade', sa.String(length=4), nullable=True),
    sa.Column('protocols', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('findings', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('weak_cipher_count', sa.Integer(), nullable=False),
    sa.Column('cert_subject', sa.Text(), nullable=True),
    sa.Column('cert_fingerprint', sa.String(length=64), nullable=True),
    sa.Column('cert_not_after', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('latest_result_id', sa.Uuid(), nullable=True),
    sa.Column('last_good_result_id', sa.Uuid(), nullable=True),
    sa.Column('first_seen_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_scanned_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scan_endpoints')),
    sa.UniqueConstraint('host', 'ip', 'port', 'sni_key', name='uq_scan_endpoints_identity')
    )
    with op.batch_alter_table('scan_endpoints', schema=None) as batch_op:
        batch_op.create_index('ix_scan_endpoints_cert_not_after', ['cert_not_after'], unique=False)
        batch_op.create_index('ix_scan_endpoints_grade', ['grade'], unique=False)
        batch_op.create_index(batch_op.f('ix_scan_endpoints_host'), ['host'], unique=False)
        batch_op.create_index(batch_op.f('ix_scan_endpoints_last_scanned_at'), ['last_scanned_at'], unique=False)

    op.create_table('scan_schedules',
    sa.Column('name', sa.String(length=150), nullable=False),
    sa.Column('frequency', sa.String(length=8), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=True),
    sa.Column('time_of_day', sa.String(length=5), nullable=False),
    sa.Column('spec', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('next_run_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_run_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_run_id', sa.Uuid(), nullable=True),
    sa.Column('created_by', sa.String(length=150), nullable=False),
    sa.Column('created_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scan_schedules')),
    sa.UniqueConstraint('name', name=op.f('uq_scan_schedules_name'))
    )
    with op.batch_alter_table('scan_schedules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scan_schedules_next_run_at'), ['next_run_at'], unique=False)

    op.create_table('scan_findings',
    sa.Column('endpoint_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['endpoint_id'], ['scan_endpoints.id'], name=op.f('fk_scan_findings_endpoint_id_scan_endpoints'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('endpoint_id', 'name', name=op.f('pk_scan_findings'))
    )
    with op.batch_alter_table('scan_findings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scan_findings_name'), ['name'], unique=False)

    op.create_table('scan_runs',
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('requested_by', sa.String(length=150), nullable=False),
    sa.Column('spec', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('schedule_id', sa.Uuid(), nullable=True),
    sa.Column('scheduled_for', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('total_targets', sa.Integer(), nullable=False),
    sa.Column('done_targets', sa.Integer(), nullable=False),
    sa.Column('failed_targets', sa.Integer(), nullable=False),
    sa.Column('batches_total', sa.Integer(), nullable=False),
    sa.Column('batches_done', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['schedule_id'], ['scan_schedules.id'], name=op.f('fk_scan_runs_schedule_id_scan_schedules'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scan_runs')),
    sa.UniqueConstraint('schedule_id', 'scheduled_for', name='uq_scan_runs_schedule_tick')
    )
    with op.batch_alter_table('scan_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scan_runs_created_at'), ['created_at'], unique=False)

    op.create_table('scan_results',
    sa.Column('endpoint_id', sa.Uuid(), nullable=False),
    sa.Column('run_id', sa.Uuid(), nullable=True),
    sa.Column('scanned_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reachable', sa.Boolean(), nullable=False),
    sa.Column('grade', sa.String(length=4), nullable=True),
    sa.Column('cert_fingerprint', sa.String(length=64), nullable=True),
    sa.Column('findings', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('connections', sa.Integer(), nullable=False),
    sa.Column('result', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['endpoint_id'], ['scan_endpoints.id'], name=op.f('fk_scan_results_endpoint_id_scan_endpoints'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['scan_runs.id'], name=op.f('fk_scan_results_run_id_scan_runs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scan_results'))
    )
    with op.batch_alter_table('scan_results', schema=None) as batch_op:
        batch_op.create_index('ix_scan_results_endpoint_time', ['endpoint_id', 'scanned_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_scan_results_run_id'), ['run_id'], unique=False)

    op.create_table('scan_events',
    sa.Column('endpoint_id', sa.Uuid(), nullable=False),
    sa.Column('result_id', sa.Uuid(), nullable=True),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=120), nullable=True),
    sa.Column('before', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('after', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('consumed_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('consumed_by', sa.String(length=100), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['endpoint_id'], ['scan_endpoints.id'], name=op.f('fk_scan_events_endpoint_id_scan_endpoints'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['result_id'], ['scan_results.id'], name=op.f('fk_scan_events_result_id_scan_results'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scan_events'))
    )
    with op.batch_alter_table('scan_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scan_events_endpoint_id'), ['endpoint_id'], unique=False)
        batch_op.create_index('ix_scan_events_pending', ['consumed_at', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_scan_events_type'), ['type'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('scan_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scan_events_type'))
        batch_op.drop_index('ix_scan_events_pending')
        batch_op.drop_index(batch_op.f('ix_scan_events_endpoint_id'))

    op.drop_table('scan_events')
    with op.batch_alter_table('scan_results', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scan_results_run_id'))
        batch_op.drop_index('ix_scan_results_endpoint_time')

    op.drop_table('scan_results')
    with op.batch_alter_table('scan_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scan_runs_created_at'))

    op.drop_table('scan_runs')
    with op.batch_alter_table('scan_findings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scan_findings_name'))

    op.drop_table('scan_findings')
    with op.batch_alter_table('scan_schedules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scan_schedules_next_run_at'))

    op.drop_table('scan_schedules')
    with op.batch_alter_table('scan_endpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scan_endpoints_last_scanned_at'))
        batch_op.drop_index(batch_op.f('ix_scan_endpoints_host'))
        batch_op.drop_index('ix_scan_endpoints_grade')
        batch_op.drop_index('ix_scan_endpoints_cert_not_after')

    op.drop_table('scan_endpoints')
