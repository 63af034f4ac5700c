"""acme tables

Revision ID: issuance_0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import certvault.db.base

revision = 'issuance_0001'
down_revision = None
branch_labels = ('issuance',)
depends_on = 'core_0001'


def upgrade() -> None:
    op.create_table('acme_accounts',
    sa.Column('name', sa.String(length=150), nullable=False),
    sa.Column('directory_url', sa.String(length=500), nullable=False),
    sa.Column('ca_name', sa.String(length=150), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('account_url', sa.String(length=500), nullable=True),
    sa.Column('key_algorithm', sa.String(length=16), nullable=False),
    sa.Column('key_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('key_thumbprint', sa.String(length=64), nullable=False),
    sa.Column('tos_url', sa.String(length=1000), nullable=True),
    sa.Column('tos_agreed_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('eab_kid', sa.String(length=255), nullable=True),
    sa.Column('eab_hmac_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('ca_bundle_pem', sa.Text(), nullable=True),
    sa.Column('timeout_seconds', sa.Integer(), nullable=False),
    sa.Column('max_in_flight', sa.Integer(), nullable=False),
    sa.Column('profiles', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('ari_supported', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=150), nullable=False),
    sa.Column('deactivated_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_acme_accounts')),
    sa.UniqueConstraint('directory_url', 'account_url', name='uq_acme_accounts_directory_account')
    )
    op.create_table('acme_dns_accounts',
    sa.Column('name', sa.String(length=150), nullable=False),
    sa.Column('provider', sa.String(length=50), nullable=False),
    sa.Column('options', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('secrets_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('created_by', sa.String(length=150), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_acme_dns_accounts')),
    sa.UniqueConstraint('name', name=op.f('uq_acme_dns_accounts_name'))
    )
    op.create_table('acme_managed',
    sa.Column('certificate_entry_id', sa.Uuid(), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=True),
    sa.Column('dns_account_id', sa.Uuid(), nullable=True),
    sa.Column('reuse_key_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('auto_renew', sa.Boolean(), nullable=False),
    sa.Column('renew_days_before', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('cert_pem', sa.Text(), nullable=False),
    sa.Column('serial', sa.String(length=64), nullable=False),
    sa.Column('not_before', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('not_after', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ari_cert_id', sa.String(length=255), nullable=True),
    sa.Column('ari_window_start', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ari_window_end', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ari_explanation_url', sa.String(length=1000), nullable=True),
    sa.Column('ari_checked_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ari_urgent', sa.Boolean(), nullable=False),
    sa.Column('renew_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('renew_reason', sa.String(length=40), nullable=True),
    sa.Column('next_check_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_order_id', sa.Uuid(), nullable=True),
    sa.Column('last_renewed_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('revoked_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revocation_reason', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.String(length=150), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('names', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('challenge_type', sa.String(length=16), nullable=False),
    sa.Column('fulfilment', sa.String(length=16), nullable=False),
    sa.Column('webroot', sa.String(length=500), nullable=True),
    sa.Column('key_algorithm', sa.String(length=16), nullable=False),
    sa.Column('signature_algorithm', sa.String(length=16), nullable=False),
    sa.Column('keystore_type', sa.String(length=16), nullable=False),
    sa.Column('keystore_password_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('profile', sa.String(length=64), nullable=True),
    sa.Column('key_policy', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['acme_accounts.id'], name=op.f('fk_acme_managed_account_id_acme_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['dns_account_id'], ['acme_dns_accounts.id'], name=op.f('fk_acme_managed_dns_account_id_acme_dns_accounts'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_acme_managed')),
    sa.UniqueConstraint('certificate_entry_id', name=op.f('uq_acme_managed_certificate_entry_id'))
    )
    with op.batch_alter_table('acme_managed', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_acme_managed_next_check_at'), ['next_check_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_acme_managed_renew_at'), ['renew_at'], unique=False)

    op.create_table('acme_orders',
    sa.Column('account_id', sa.Uuid(), nullable=True),
    sa.Column('dns_account_id', sa.Uuid(), nullable=True),
    sa.Column('managed_id', sa.Uuid(), nullable=True),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('key_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('csr_der', sa.LargeBinary(), nullable=True),
    sa.Column('replaces', sa.String(length=255), nullable=True),
    sa.Column('auto_renew', sa.Boolean(), nullable=False),
    sa.Column('renew_days_before', sa.Integer(), nullable=True),
    sa.Column('verify_requested_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('renew_entry_id', sa.Uuid(), nullable=True),
    sa.Column('certificate_entry_id', sa.Uuid(), nullable=True),
    sa.Column('order_url', sa.String(length=500), nullable=True),
    sa.Column('finalize_url', sa.String(length=500), nullable=True),
    sa.Column('certificate_url', sa.String(length=500), nullable=True),
    sa.Column('new_order_sent_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ca_status', sa.String(length=16), nullable=True),
    sa.Column('polls', sa.Integer(), nullable=False),
    sa.Column('next_poll_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('waiting_since', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_check', sa.Text(), nullable=True),
    sa.Column('error_type', sa.String(length=100), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('error_problem', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=64), nullable=True),
    sa.Column('not_after', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=150), nullable=False),
    sa.Column('finished_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', certvault.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('names', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('challenge_type', sa.String(length=16), nullable=False),
    sa.Column('fulfilment', sa.String(length=16), nullable=False),
    sa.Column('webroot', sa.String(length=500), nullable=True),
    sa.Column('key_algorithm', sa.String(length=16), nullable=False),
    sa.Column('signature_algorithm', sa.String(length=16), nullable=False),
    sa.Column('keystore_type', sa.String(length=16), nullable=False),
    sa.Column('keystore_password_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('profile', sa.String(length=64), nullable=True),
    sa.Column('key_policy', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['acme_accounts.id'], name=op.f('fk_acme_orders_account_id_acme_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['dns_account_id'], ['acme_dns_accounts.id'], name=op.f('fk_acme_orders_dns_account_id_acme_dns_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['managed_id'], ['acme_managed.id'], name=op.f('fk_acme_orders_managed_id_acme_managed'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_acme_orders'))
    )
    with op.batch_alter_table('acme_orders', schema=None) as batch_op:
        batch_op.create_index('ix_acme_orders_account_state', ['account_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_acme_orders_certificate_entry_id'), ['certificate_entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_acme_orders_managed_id'), ['managed_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_acme_orders_state'), ['state'], unique=False)

    op.create_table('acme_authorizations',
    sa.Column('order_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('identifier', sa.String(length=255), nullable=False),
    sa.Column('identifier_type', sa.String(length=8), nullable=False),
    sa.Column('wildcard', sa.Boolean(), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('challenge_url', sa.String(length=500), nullable=True),
    sa.Column('token', sa.String(length=255), nullable=True),
    sa.Column('key_authorization', sa.String(length=400), nullable=True),
    sa.Column('record_name', sa.String(length=300), nullable=True),
    sa.Column('record_value', sa.String(length=300), nullable=True),
    sa.Column('published_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_at', certvault.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('error', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['acme_orders.id'], name=op.f('fk_acme_authorizations_order_id_acme_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_acme_authorizations'))
    )
    with op.batch_alter_table('acme_authorizations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_acme_authorizations_order_id'), ['order_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('acme_authorizations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_acme_authorizations_order_id'))

    op.drop_table('acme_authorizations')
    with op.batch_alter_table('acme_orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_acme_orders_state'))
        batch_op.drop_index(batch_op.f('ix_acme_orders_managed_id'))
        batch_op.drop_index(batch_op.f('ix_acme_orders_certificate_entry_id'))
        batch_op.drop_index('ix_acme_orders_account_state')

    op.drop_table('acme_orders')
    with op.batch_alter_table('acme_managed', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_acme_managed_renew_at'))
        batch_op.drop_index(batch_op.f('ix_acme_managed_next_check_at'))

    op.drop_table('acme_managed')
    op.drop_table('acme_dns_accounts')
    op.drop_table('acme_accounts')
