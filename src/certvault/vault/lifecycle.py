"""Expiry and rotation: when each secret is due, reminders before it, the overdue list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select

from certvault.auth.rbac import Actor, Permission, require
from certvault.vault.core import VaultCore
from certvault.vault.models import Folder, Secret

DEFAULT_REMINDER_DAYS = 14


def due_at(secret: Secret) -> datetime | None:
    """The earlier of the expiry date and the next rotation (last change + rotation period)."""
    dates = [d for d in (secret.expires_at,
                         secret.rotated_at + timedelta(days=secret.rotation_days) if secret.rotation_days else None)
             if d is not None]
    return min(dates) if dates else None


@dataclass
class DueSecret:
    secret: Secret
    folder: Folder
    due: datetime

    @property
    def path(self) -> str:
        return f"{self.folder.path}/{self.secret.name}"


class Lifecycle:
    def __init__(self, core: VaultCore) -> None:
        self._c = core

    def reminder_days(self) -> int:
        value = self._c.system.get("vault.reminder_days")
        return int(value) if isinstance(value, int) and value > 0 else DEFAULT_REMINDER_DAYS

    def dated(self) -> list[DueSecret]:
        stmt = (select(Secret, Folder).join(Folder, Secret.folder_id == Folder.id)
                .where(Secret.active.is_(True), or_(Secret.expires_at.isnot(None), Secret.rotation_days.isnot(None))))
        result = []
        for secret, folder in self._c.s.execute(stmt):
            due = due_at(secret)
            if due is not None:
                result.append(DueSecret(secret, folder, due))
        return sorted(result, key=lambda d: d.due)

    def overdue(self) -> list[DueSecret]:
        now = self._c.ctx.now()
        return [d for d in self.dated() if d.due <= now]

    def overdue_count(self, actor: Actor) -> int:
        """How many secrets are past their expiry or rotation date (the hardening report names them)."""
        require(actor, Permission.REPORTS_READ)
        return len(self.overdue())

    def send_reminders(self) -> int:
        """Publish secret.expiring / secret.overdue once per due date (run by a periodic job)."""
        now = self._c.ctx.now()
        horizon = now + timedelta(days=self.reminder_days())
        sent = 0
        for item in self.dated():
            if item.due > horizon or item.secret.reminded_for == item.due:
                continue
            overdue = item.due <= now
            days = (item.due - now).days
            what = "expiry" if item.secret.expires_at == item.due else "rotation"
            title = (f"Secret {item.path} is overdue for {what}" if overdue
                     else f"Secret {item.path} is due for {what} in {days} days")
            self._c.ctx.events.publish(
                "secret.overdue" if overdue else "secret.expiring", title=title,
                body=f"{title} ({item.due:%Y-%m-%d %H:%M} UTC).", severity="warning" if not overdue else "critical",
                subject=item.secret.name, payload={"secret": item.path, "due": item.due.isoformat(), "kind": what})
            item.secret.reminded_for = item.due
            sent += 1
        return sent
