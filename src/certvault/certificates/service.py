"""Inventory operations (to be built). `expiry_summary` feeds the dashboard."""

from __future__ import annotations

from typing import Any

from certvault.auth.rbac import Actor, Permission, require
from certvault.context import ServiceContext


class CertificateService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    def expiry_summary(self, actor: Actor) -> dict[str, Any]:
        """Counts for the dashboard: total, expired, within_7/30/90 and weeks=[{start,label,count}]."""
        require(actor, Permission.CERTIFICATES_READ)
        return {"total": 0, "expired": 0, "within_7": 0, "within_30": 0, "within_90": 0, "weeks": []}
