"""vault tables

Revision ID: vault_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import certvault.db.base

revision = 'vault_0001'
down_revision = None
branch_labels = ('vault',)
depends_on = 'core_0001'


def upgrade() -> None:
    op.create_table('vault_doublelock_keys',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('public_key', sa.LargeBinary(), nullable=False),
    sa.Column('encrypted_private_key', sa.LargeBinary(), nullable=False),
    sa.Column('salt', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_vault_doublelock_keys'))
    )

    op.create_table('vault_folders',
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('parent_id', sa.Uuid(), nullable=True),
    sa.Column('path', sa.String(length=1000), nullable=False),
    sa.Column('lineage', sa.Text(), nullable=False),
    sa.Column('inherit_permissions', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=150), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['vault_folders.id'], name=op.f('fk_vault_folders_parent_id_vault_folders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vault_folders')),
    sa.UniqueConstraint('number', name=op.f('uq_vault_folders_number')),
    sa.UniqueConstraint('path', name=op.f('uq_vault_folders_path'))
    )

    with op.batch_alter_table('vault_folders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vault_folders_parent_id'), ['parent_id'], unique=False)

    op.create_table('vault_secrets',
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('folder_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('template', sa.String(length=32), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('system', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('inherit_permissions', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=150), nullable=False),
    sa.Column('expires_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('rotation_days', sa.Integer(), nullable=True),
    sa.Column('rotated_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reminded_for', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('checkout_enabled', sa.Boolean(), nullable=False),
    sa.Column('checkout_minutes', sa.Integer(), nullable=False),
    sa.Column('require_approval', sa.Boolean(), nullable=False),
    sa.Column('hide_password', sa.Boolean(), nullable=False),
    sa.Column('double_lock', sa.Boolean(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['folder_id'], ['vault_folders.id'], name=op.f('fk_vault_secrets_folder_id_vault_folders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vault_secrets')),
    sa.UniqueConstraint('folder_id', 'name', name='uq_vault_secrets_folder_name'),
    sa.UniqueConstraint('number', name=op.f('uq_vault_secrets_number'))
    )

    with op.batch_alter_table('vault_secrets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vault_secrets_folder_id'), ['folder_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vault_secrets_name'), ['name'], unique=False)

    op.create_table('vault_service_accounts',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('view_hidden', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=150), nullable=False),
    sa.Column('created_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_vault_service_accounts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_vault_service_accounts'))
    )

    op.create_table('vault_access_requests',
    sa.Column('secret_id', sa.Uuid(), nullable=False),
    sa.Column('requester_id', sa.Uuid(), nullable=False),
    sa.Column('requester_name', sa.String(length=150), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_by', sa.String(length=150), nullable=True),
    sa.Column('decided_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_comment', sa.Text(), nullable=True),
    sa.Column('expires_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['secret_id'], ['vault_secrets.id'], name=op.f('fk_vault_access_requests_secret_id_vault_secrets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vault_access_requests'))
    )

    with op.batch_alter_table('vault_access_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vault_access_requests_requester_id'), ['requester_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vault_access_requests_secret_id'), ['secret_id'], unique=False)

    op.create_table('vault_checkouts',
    sa.Column('secret_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('username', sa.String(length=150), nullable=False),
    sa.Column('started_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=32), nullable=True),
    sa.Column('automatic', sa.Boolean(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['secret_id'], ['vault_secrets.id'], name=op.f('fk_vault_checkouts_secret_id_vault_secrets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vault_checkouts'))
    )

    with op.batch_alter_table('vault_checkouts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vault_checkouts_secret_id'), ['secret_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vault_checkouts_user_id'), ['user_id'], unique=False)

    op.create_table('vault_doublelock_grants',
    sa.Column('secret_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=False),
    sa.Column('granted_by', sa.String(length=150), nullable=False),
    sa.Column('granted_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['secret_id'], ['vault_secrets.id'], name=op.f('fk_vault_doublelock_grants_secret_id_vault_secrets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('secret_id', 'user_id', name=op.f('pk_vault_doublelock_grants'))
    )

    op.create_table('vault_fields',
    sa.Column('secret_id', sa.Uuid(), nullable=False),
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('is_secret', sa.Boolean(), nullable=False),
    sa.Column('is_file', sa.Boolean(), nullable=False),
    sa.Column('text_value', sa.Text(), nullable=True),
    sa.Column('sealed_value', sa.LargeBinary(), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=True),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('updated_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['secret_id'], ['vault_secrets.id'], name=op.f('fk_vault_fields_secret_id_vault_secrets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vault_fields')),
    sa.UniqueConstraint('secret_id', 'slug', name='uq_vault_fields_secret_slug')
    )

    with op.batch_alter_table('vault_fields', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vault_fields_secret_id'), ['secret_id'], unique=False)

    op.create_table('vault_history',
    sa.Column('secret_id', sa.Uuid(), nullable=False),
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('sealed_value', sa.LargeBinary(), nullable=False),
    sa.Column('replaced_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('replaced_by', sa.String(length=150), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['secret_id'], ['vault_secrets.id'], name=op.f('fk_vault_history_secret_id_vault_secrets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vault_history'))
    )

    with op.batch_alter_table('vault_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vault_history_secret_id'), ['secret_id'], unique=False)

    op.create_table('vault_permissions',
    sa.Column('folder_id', sa.Uuid(), nullable=True),
    sa.Column('secret_id', sa.Uuid(), nullable=True),
    sa.Column('principal_type', sa.String(length=8), nullable=False),
    sa.Column('principal_id', sa.Uuid(), nullable=False),
    sa.Column('level', sa.String(length=8), nullable=False),
    sa.Column('granted_by', sa.String(length=150), nullable=False),
    sa.Column('granted_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['folder_id'], ['vault_folders.id'], name=op.f('fk_vault_permissions_folder_id_vault_folders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['secret_id'], ['vault_secrets.id'], name=op.f('fk_vault_permissions_secret_id_vault_secrets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vault_permissions')),
    sa.UniqueConstraint('folder_id', 'secret_id', 'principal_type', 'principal_id', name='uq_vault_permissions_grant')
    )

    with op.batch_alter_table('vault_permissions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vault_permissions_folder_id'), ['folder_id'], unique=False)
        batch_op.create_index('ix_vault_permissions_principal', ['principal_type', 'principal_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vault_permissions_secret_id'), ['secret_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('vault_permissions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vault_permissions_secret_id'))
        batch_op.drop_index('ix_vault_permissions_principal')
        batch_op.drop_index(batch_op.f('ix_vault_permissions_folder_id'))

    op.drop_table('vault_permissions')

    with op.batch_alter_table('vault_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vault_history_secret_id'))

    op.drop_table('vault_history')

    with op.batch_alter_table('vault_fields', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vault_fields_secret_id'))

    op.drop_table('vault_fields')

    op.drop_table('vault_doublelock_grants')

    with op.batch_alter_table('vault_checkouts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vault_checkouts_user_id'))
        batch_op.drop_index(batch_op.f('ix_vault_checkouts_secret_id'))

    op.drop_table('vault_checkouts')

    with op.batch_alter_table('vault_access_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vault_access_requests_secret_id'))
        batch_op.drop_index(batch_op.f('ix_vault_access_requests_requester_id'))

    op.drop_table('vault_access_requests')

    op.drop_table('vault_service_accounts')

    with op.batch_alter_table('vault_secrets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vault_secrets_name'))
        batch_op.drop_index(batch_op.f('ix_vault_secrets_folder_id'))

    op.drop_table('vault_secrets')

    with op.batch_alter_table('vault_folders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vault_folders_parent_id'))

    op.drop_table('vault_folders')

    op.drop_table('vault_doublelock_keys')
