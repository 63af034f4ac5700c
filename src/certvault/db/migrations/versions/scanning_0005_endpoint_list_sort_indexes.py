"""scan_endpoints: one index per sort of the endpoint list (host, certificate expiry, last scan), id last,
so each page of the list is read by cursor from an index

Revision ID: scanning_0005
Revises: scanning_0004
"""

from __future__ import annotations

from alembic import op

revision = 'scanning_0005'
down_revision = 'scanning_0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_scan_endpoints_host_port_ip_id', 'scan_endpoints', ['host', 'port', 'ip', 'id'], unique=False)
    op.create_index('ix_scan_endpoints_cert_not_after_host_id', 'scan_endpoints', ['cert_not_after', 'host', 'id'],
                    unique=False)
    op.create_index('ix_scan_endpoints_last_scanned_at_host_id', 'scan_endpoints', ['last_scanned_at', 'host', 'id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_scan_endpoints_last_scanned_at_host_id', table_name='scan_endpoints')
    op.drop_index('ix_scan_endpoints_cert_not_after_host_id', table_name='scan_endpoints')
    op.drop_index('ix_scan_endpoints_host_port_ip_id', table_name='scan_endpoints')
