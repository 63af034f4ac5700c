"""Read and change runtime settings; every change is audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from certvault.audit.service import AuditLog
from certvault.auth.rbac import Actor, Permission, require
from certvault.system.models import Setting

DEFAULTS: dict[str, Any] = {
    "web_services.enabled": True,
}


class SystemSettings:
    def __init__(self, session: Session, audit: AuditLog) -> None:
        self._s = session
        self._audit = audit

    def get(self, key: str) -> Any:
        row = self._s.get(Setting, key)
        return row.value if row is not None else DEFAULTS.get(key)

    def set(self, actor: Actor, key: str, value: Any) -> None:
        require(actor, Permission.SETTINGS_MANAGE)
        row = self._s.get(Setting, key)
        old = row.value if row is not None else DEFAULTS.get(key)
        if row is None:
            row = Setting(key=key)
            self._s.add(row)
        row.value, row.updated_by = value, actor.name
        self._audit.record(actor, "settings.change", target_type="setting", target_id=key,
                           details={"old": old, "new": value})

    def all(self) -> dict[str, Any]:
        values = dict(DEFAULTS)
        values.update({row.key: row.value for row in self._s.query(Setting)})
        return values
