from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class IssuedOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    serial: str
    profile: str
    common_name: str
    sans: list[str]
    not_after: datetime
    issued_by: str
    revoked_at: datetime | None
    created_at: datetime


class ClientCertRequest(BaseModel):
    common_name: str = Field(min_length=1, max_length=64)
    dns_names: list[str] = []
    days: int = Field(default=365, ge=1, le=825)
    key: str = Field(default="rsa2048", description="ec256 | ec384 | rsa2048 | rsa3072 | rsa4096")
    password: str = Field(min_length=1, description="protects the returned PKCS#12 file")


class RevokeRequest(BaseModel):
    reason: int = Field(default=0, ge=0, le=10)
