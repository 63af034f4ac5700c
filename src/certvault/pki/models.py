from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from certvault.db.base import Base, JSONType, UTCDateTime, UUIDPrimaryKey, utcnow


class CaAuthority(UUIDPrimaryKey, Base):
    """A CA certificate of the internal PKI with its sealed private key."""

    __tablename__ = "ca_authorities"

    name: Mapped[str] = mapped_column(String(150), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # root | intermediate
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("ca_authorities.id"))
    cert_pem: Mapped[str] = mapped_column(Text, nullable=False)
    key_sealed: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaIssued(UUIDPrimaryKey, Base):
    """A certificate the internal CA issued (its key, if kept, lives in the inventory)."""

    __tablename__ = "ca_issued"

    authority_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ca_authorities.id"), index=True)
    serial: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    profile: Mapped[str] = mapped_column(String(16), nullable=False)  # server | client
    common_name: Mapped[str] = mapped_column(String(255), nullable=False)
    sans: Mapped[list[str]] = mapped_column(JSONType, default=list)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    cert_pem: Mapped[str] = mapped_column(Text, nullable=False)
    issued_by: Mapped[str] = mapped_column(String(150), nullable=False)
    certificate_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # inventory entry, when stored
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revocation_reason: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
