from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from certvault.db.base import Base, UTCDateTime, new_uuid, utcnow


class DataKey(Base):
    """An AES-256 key that seals values, stored only wrapped by a master key."""

    __tablename__ = "data_keys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_uuid)
    purpose: Mapped[str] = mapped_column(String(32), default="secrets", index=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    master_key_id: Mapped[str] = mapped_column(String(40), nullable=False, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
