"""ACME accounts, DNS accounts, orders (durable state machines), authorizations, managed renewals.

Private keys, EAB HMAC keys, DNS credentials and keystore passwords are sealed (LargeBinary);
everything else here is safe to show to people with ACME read access.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from certvault.db.base import Base, JSONType, Timestamps, UTCDateTime, UUIDPrimaryKey

# Order states, in the order an order moves through them.
CREATED = "created"
AUTHORIZATIONS_PENDING = "authorizations_pending"
CHALLENGES_ANSWERED = "challenges_answered"
VALIDATING = "validating"
FINALIZING = "finalizing"
DOWNLOADING = "downloading"
STORED = "stored"
FAILED = "failed"
STATES = (CREATED, AUTHORIZATIONS_PENDING, CHALLENGES_ANSWERED, VALIDATING, FINALIZING, DOWNLOADING, STORED,
          FAILED)
IN_FLIGHT = (AUTHORIZATIONS_PENDING, CHALLENGES_ANSWERED, VALIDATING, FINALIZING, DOWNLOADING)
ACTIVE = (CREATED, *IN_FLIGHT)


class AcmeAccount(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "acme_accounts"
    __table_args__ = (UniqueConstraint("directory_url", "account_url", name="uq_acme_accounts_directory_account"),)

    name: Mapped[str] = mapped_column(String(150), nullable=False)
    directory_url: Mapped[str] = mapped_column(String(500), nullable=False)
    ca_name: Mapped[str] = mapped_column(String(150), nullable=False)
    email: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="valid")  # valid | deactivated
    account_url: Mapped[str | None] = mapped_column(String(500))
    key_algorithm: Mapped[str] = mapped_column(String(16), nullable=False)
    key_sealed: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    key_thumbprint: Mapped[str] = mapped_column(String(64), nullable=False)
    tos_url: Mapped[str | None] = mapped_column(String(1000))
    tos_agreed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    eab_kid: Mapped[str | None] = mapped_column(String(255))
    eab_hmac_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    ca_bundle_pem: Mapped[str | None] = mapped_column(Text)
    timeout_seconds: Mapped[int] = mapped_column(Integer, nullable=False, default=30)
    max_in_flight: Mapped[int] = mapped_column(Integer, nullable=False, default=100)
    profiles: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    ari_supported: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_by: Mapped[str] = mapped_column(String(150), nullable=False)
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RequestSettings:
    """What to order and how to prove control: shared by orders and managed certificates."""

    names: Mapped[list[str]] = mapped_column(JSONType, nullable=False)
    challenge_type: Mapped[str] = mapped_column(String(16), nullable=False)  # http-01 | dns-01
    fulfilment: Mapped[str] = mapped_column(String(16), nullable=False)  # manual | dns | standalone | webroot
    webroot: Mapped[str | None] = mapped_column(String(500))
    key_algorithm: Mapped[str] = mapped_column(String(16), nullable=False)
    signature_algorithm: Mapped[str] = mapped_column(String(16), nullable=False, default="sha256")
    keystore_type: Mapped[str] = mapped_column(String(16), nullable=False, default="pem")
    keystore_password_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    profile: Mapped[str | None] = mapped_column(String(64))
    key_policy: Mapped[str] = mapped_column(String(16), nullable=False, default="new")  # new | reuse | imported


class ManagedCertificate(UUIDPrimaryKey, Timestamps, RequestSettings, Base):
    """An inventory certificate whose renewal certvault manages through an ACME account."""

    __tablename__ = "acme_managed"

    certificate_entry_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False, unique=True)
    account_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("acme_accounts.id", ondelete="SET NULL"))
    dns_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("integration_accounts.id", ondelete="RESTRICT"))
    reuse_key_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)  # key for "reuse"/"imported" policies
    auto_renew: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    renew_days_before: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")  # active | revoked
    cert_pem: Mapped[str] = mapped_column(Text, nullable=False)
    serial: Mapped[str] = mapped_column(String(64), nullable=False)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ari_cert_id: Mapped[str | None] = mapped_column(String(255))
    ari_window_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ari_window_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ari_explanation_url: Mapped[str | None] = mapped_column(String(1000))
    ari_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ari_urgent: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    renew_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    renew_reason: Mapped[str | None] = mapped_column(String(40))
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_order_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    last_renewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revocation_reason: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(150), nullable=False)


class AcmeOrder(UUIDPrimaryKey, Timestamps, RequestSettings, Base):
    """One certificate order as a durable state machine; `seq` guards each transition."""

    __tablename__ = "acme_orders"
    __table_args__ = (Index("ix_acme_orders_account_state", "account_id", "state"),)

    account_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("acme_accounts.id", ondelete="SET NULL"))
    dns_account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("integration_accounts.id", ondelete="SET NULL"))
    managed_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("acme_managed.id", ondelete="SET NULL"),
                                                         index=True)
    purpose: Mapped[str] = mapped_column(String(16), nullable=False, default="issue")  # issue | renew
    state: Mapped[str] = mapped_column(String(32), nullable=False, default=CREATED, index=True)
    seq: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    key_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    csr_der: Mapped[bytes | None] = mapped_column(LargeBinary)
    replaces: Mapped[str | None] = mapped_column(String(255))
    auto_renew: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    renew_days_before: Mapped[int | None] = mapped_column(Integer)
    verify_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    renew_entry_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    certificate_entry_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    order_url: Mapped[str | None] = mapped_column(String(500))
    finalize_url: Mapped[str | None] = mapped_column(String(500))
    certificate_url: Mapped[str | None] = mapped_column(String(500))
    new_order_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ca_status: Mapped[str | None] = mapped_column(String(16))
    polls: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_check: Mapped[str | None] = mapped_column(Text)
    error_type: Mapped[str | None] = mapped_column(String(100))
    error_message: Mapped[str | None] = mapped_column(Text)
    error_problem: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    serial: Mapped[str | None] = mapped_column(String(64))
    not_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(150), nullable=False)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    authorizations: Mapped[list[AcmeAuthorization]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="AcmeAuthorization.position")


class AcmeAuthorization(UUIDPrimaryKey, Base):
    """One identifier of an order, with the challenge chosen for it and its published response."""

    __tablename__ = "acme_authorizations"

    order_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("acme_orders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    identifier: Mapped[str] = mapped_column(String(255), nullable=False)
    identifier_type: Mapped[str] = mapped_column(String(8), nullable=False, default="dns")
    wildcard: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    url: Mapped[str] = mapped_column(String(500), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    challenge_url: Mapped[str | None] = mapped_column(String(500))
    token: Mapped[str | None] = mapped_column(String(255))
    key_authorization: Mapped[str | None] = mapped_column(String(400))
    record_name: Mapped[str | None] = mapped_column(String(300))
    record_value: Mapped[str | None] = mapped_column(String(300))
    # dns-01 through a DNS account: the account that published it (assigned or chosen for this name) and
    # where it was written (record_name, or the target of a CNAME on it: a delegated validation zone)
    dns_account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    record_target: Mapped[str | None] = mapped_column(String(300))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONType)

    order: Mapped[AcmeOrder] = relationship(back_populates="authorizations")
