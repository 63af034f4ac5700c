"""Mappings (certificate -> deploy target) and deployments (one version to one target, step by step).

A deployment's `status` is its last committed step, so a worker that dies mid-way leaves a row that says
what to do next: `deploying` runs deploy() again (it keeps its first backups), `deployed` verifies,
`rolling_back` rolls back again. The receipt (backup paths, ARN) is what rollback() needs; never a secret.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from certvault.db.base import Base, JSONType, UTCDateTime, UUIDPrimaryKey, utcnow

# queued -> deploying -> deployed -> verified, or -> rolling_back -> rolled_back; failed when nothing changed
ACTIVE = ("queued", "deploying", "deployed", "rolling_back")
FINAL = ("verified", "rolled_back", "failed")


class DeployMapping(UUIDPrimaryKey, Base):
    __tablename__ = "deploy_mappings"
    __table_args__ = (UniqueConstraint("entry_id", "target_id", name="uq_deploy_mappings_entry_id"),)

    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cert_entries.id", ondelete="CASCADE"), index=True)
    target_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("integration_accounts.id", ondelete="CASCADE"),
                                                 index=True)
    auto: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)  # after issuance and every renewal
    created_by: Mapped[str] = mapped_column(String(150), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Deployment(UUIDPrimaryKey, Base):
    __tablename__ = "deploy_runs"
    __table_args__ = (Index("ix_deploy_runs_entry_id_created_at", "entry_id", "created_at"),)

    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cert_entries.id", ondelete="CASCADE"))
    version_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    serial: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("integration_accounts.id", ondelete="SET NULL"), nullable=True, index=True)
    target_name: Mapped[str] = mapped_column(String(150))  # kept when the target is deleted
    plugin: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    trigger: Mapped[str] = mapped_column(String(32), default="manual")  # manual | certificate.renewed | ...
    receipt: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    served_serial: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(150), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deployed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
