"""What certvault keeps about help desks and their tickets.

`helpdesk_settings`: per ticketing account, which rules run and how it connects (the mTLS client
identity is a reference into the vault or to an inventory certificate; the trusted server certificate is
public PEM). `tickets`: the local record per (help desk, kind, key) — the ticket number and status as last
read, what the ticket is about, and the sync state: `pending` while a change waits (or a create whose
answer was never stored), `failed` after repeated errors, `ok` otherwise. A record whose `lease_until` is
in the future is being worked on by `lease_owner`; nobody else touches the help desk for it until then.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from certvault.db.base import Base, JSONType, Timestamps, UTCDateTime, UUIDPrimaryKey

KINDS = ("expiry", "vulnerability")
SYNC_STATES = ("ok", "pending", "failed")


class HelpDeskSettings(Timestamps, Base):
    __tablename__ = "helpdesk_settings"

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("integration_accounts.id", ondelete="CASCADE"), primary_key=True)
    expiry_tickets: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    vulnerability_tickets: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    resolve_on_renewal: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


class TicketRecord(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "tickets"
    __table_args__ = (UniqueConstraint("account_id", "kind", "key", name="uq_tickets_account_kind_key"),)

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("integration_accounts.id", ondelete="CASCADE"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # KINDS
    key: Mapped[str] = mapped_column(String(320), nullable=False)  # serial (expiry) or domain@IP (vulnerability)
    correlation_key: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    number: Mapped[str | None] = mapped_column(String(64))  # None until the help desk's answer is stored
    status: Mapped[str | None] = mapped_column(String(16))  # protocols.TICKET_STATES, as last read
    remote_status: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str | None] = mapped_column(Text)
    previous_numbers: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    common_name: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    domain: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    ip: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    serial: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    entry_id: Mapped[uuid.UUID | None] = mapped_column()  # the inventory certificate (expiry)
    endpoint_id: Mapped[uuid.UUID | None] = mapped_column()  # the scanned endpoint (vulnerability)
    scan_result_id: Mapped[uuid.UUID | None] = mapped_column()  # the scan result the ticket shows last
    resolved_by_certvault: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    sync_state: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")  # SYNC_STATES
    pending_action: Mapped[str | None] = mapped_column(String(16))  # create | reopen | note | resolve
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
