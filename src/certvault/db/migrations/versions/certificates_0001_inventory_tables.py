"""inventory tables

Revision ID: certificates_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import certvault.db.base

revision = 'certificates_0001'
down_revision = None
branch_labels = ('certificates',)
depends_on = 'core_0001'


def upgrade() -> None:
    op.create_table('cert_entries',
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('common_name', sa.String(length=255), nullable=False),
    sa.Column('names_key', sa.String(length=40), nullable=False),
    sa.Column('issuer_cn', sa.String(length=255), nullable=False),
    sa.Column('key_algorithm', sa.String(length=16), nullable=False),
    sa.Column('key_size', sa.Integer(), nullable=False),
    sa.Column('not_after', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('current_version_id', sa.Uuid(), nullable=True),
    sa.Column('managed', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('owner', sa.String(length=255), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cert_entries'))
    )
    with op.batch_alter_table('cert_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cert_entries_names_key'), ['names_key'], unique=False)
        batch_op.create_index('ix_cert_entries_not_after_id', ['not_after', 'id'], unique=False)
    op.create_table('cert_issuers',
    sa.Column('fingerprint_sha256', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('issuer', sa.Text(), nullable=False),
    sa.Column('common_name', sa.String(length=255), nullable=False),
    sa.Column('ski', sa.String(length=128), nullable=True),
    sa.Column('aki', sa.String(length=128), nullable=True),
    sa.Column('subject_hash', sa.String(length=64), nullable=False),
    sa.Column('not_after', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('self_signed', sa.Boolean(), nullable=False),
    sa.Column('der', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cert_issuers')),
    sa.UniqueConstraint('fingerprint_sha256', name=op.f('uq_cert_issuers_fingerprint_sha256'))
    )
    with op.batch_alter_table('cert_issuers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cert_issuers_ski'), ['ski'], unique=False)
        batch_op.create_index(batch_op.f('ix_cert_issuers_subject_hash'), ['subject_hash'], unique=False)
    op.create_table('cert_keys',
    sa.Column('spki_sha256', sa.String(length=64), nullable=False),
    sa.Column('key_algorithm', sa.String(length=16), nullable=False),
    sa.Column('key_size', sa.Integer(), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('created_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cert_keys')),
    sa.UniqueConstraint('spki_sha256', name=op.f('uq_cert_keys_spki_sha256'))
    )
    op.create_table('cert_names',
    sa.Column('entry_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('name_rev', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['cert_entries.id'], name=op.f('fk_cert_names_entry_id_cert_entries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('entry_id', 'name', name=op.f('pk_cert_names'))
    )
    with op.batch_alter_table('cert_names', schema=None) as batch_op:
        batch_op.create_index('ix_cert_names_name', ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_cert_names_name_rev'), ['name_rev'], unique=False)
    op.create_table('cert_requests',
    sa.Column('entry_id', sa.Uuid(), nullable=False),
    sa.Column('spki_sha256', sa.String(length=64), nullable=False),
    sa.Column('csr_pem', sa.Text(), nullable=False),
    sa.Column('key_spec', sa.String(length=16), nullable=False),
    sa.Column('hash_name', sa.String(length=16), nullable=False),
    sa.Column('created_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('fulfilled_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['cert_entries.id'], name=op.f('fk_cert_requests_entry_id_cert_entries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cert_requests'))
    )
    with op.batch_alter_table('cert_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cert_requests_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cert_requests_spki_sha256'), ['spki_sha256'], unique=False)
    op.create_table('cert_sightings',
    sa.Column('entry_id', sa.Uuid(), nullable=False),
    sa.Column('version_id', sa.Uuid(), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('port', sa.Integer(), nullable=False),
    sa.Column('sni', sa.String(length=255), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('first_seen', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['cert_entries.id'], name=op.f('fk_cert_sightings_entry_id_cert_entries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cert_sightings')),
    sa.UniqueConstraint('ip', 'port', 'sni', name='uq_cert_sightings_endpoint')
    )
    with op.batch_alter_table('cert_sightings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cert_sightings_entry_id'), ['entry_id'], unique=False)
    op.create_table('cert_tags',
    sa.Column('entry_id', sa.Uuid(), nullable=False),
    sa.Column('tag', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['cert_entries.id'], name=op.f('fk_cert_tags_entry_id_cert_entries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('entry_id', 'tag', name=op.f('pk_cert_tags'))
    )
    with op.batch_alter_table('cert_tags', schema=None) as batch_op:
        batch_op.create_index('ix_cert_tags_tag', ['tag'], unique=False)
    op.create_table('cert_versions',
    sa.Column('entry_id', sa.Uuid(), nullable=False),
    sa.Column('fingerprint_sha256', sa.String(length=64), nullable=False),
    sa.Column('spki_sha256', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('common_name', sa.String(length=255), nullable=False),
    sa.Column('issuer', sa.Text(), nullable=False),
    sa.Column('issuer_cn', sa.String(length=255), nullable=False),
    sa.Column('serial', sa.String(length=64), nullable=False),
    sa.Column('not_before', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('not_after', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('key_algorithm', sa.String(length=16), nullable=False),
    sa.Column('key_size', sa.Integer(), nullable=False),
    sa.Column('signature_algorithm', sa.String(length=64), nullable=False),
    sa.Column('sans', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('aki', sa.String(length=128), nullable=True),
    sa.Column('der', sa.LargeBinary(), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('created_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['cert_entries.id'], name=op.f('fk_cert_versions_entry_id_cert_entries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cert_versions')),
    sa.UniqueConstraint('fingerprint_sha256', name=op.f('uq_cert_versions_fingerprint_sha256'))
    )
    with op.batch_alter_table('cert_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cert_versions_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cert_versions_spki_sha256'), ['spki_sha256'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('cert_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cert_versions_spki_sha256'))
        batch_op.drop_index(batch_op.f('ix_cert_versions_entry_id'))
    op.drop_table('cert_versions')
    with op.batch_alter_table('cert_tags', schema=None) as batch_op:
        batch_op.drop_index('ix_cert_tags_tag')
    op.drop_table('cert_tags')
    with op.batch_alter_table('cert_sightings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cert_sightings_entry_id'))
    op.drop_table('cert_sightings')
    with op.batch_alter_table('cert_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cert_requests_spki_sha256'))
        batch_op.drop_index(batch_op.f('ix_cert_requests_entry_id'))
    op.drop_table('cert_requests')
    with op.batch_alter_table('cert_names', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cert_names_name_rev'))
        batch_op.drop_index('ix_cert_names_name')
    op.drop_table('cert_names')
    op.drop_table('cert_keys')
    with op.batch_alter_table('cert_issuers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cert_issuers_subject_hash'))
        batch_op.drop_index(batch_op.f('ix_cert_issuers_ski'))
    op.drop_table('cert_issuers')
    with op.batch_alter_table('cert_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_cert_entries_not_after_id')
        batch_op.drop_index(batch_op.f('ix_cert_entries_names_key'))
    op.drop_table('cert_entries')
