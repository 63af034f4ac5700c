"""Turn audit rows into events: failed logins and lockouts reach the channels whatever the entry point.

Every login path (REST, web, the compatible APIs) already audits its failures, so watching the audit
chain catches them all without each path knowing about notifications.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from certvault.audit.models import AuditEvent
from certvault.db.locks import advisory_lock
from certvault.notifications.models import AuditCursor
from certvault.notifications.service import NotificationService

WATCH_JOB = "notifications.watch_audit"
CURSOR = "auth-events"
BATCH = 500
FIRST_RUN_LOOKBACK = timedelta(hours=1)


def event_for(row: AuditEvent) -> tuple[str, str, str, str] | None:
    """(event, title, body, severity) for audit rows that alert, else None."""
    who, ip = row.actor_name, row.ip or "unknown address"
    reason = str((row.details or {}).get("reason", ""))
    service = row.actor_kind == "service"
    if row.action == "auth.lockout":
        if service:
            return ("service_account.locked", f"Service account {who} locked out",
                    f"{who} was locked out after repeated failed logins (last from {ip}).", "critical")
        return ("user.locked", f"User {who} locked out",
                f"{who} was locked out after repeated failed logins (last from {ip}).", "warning")
    failed_login = row.action == "auth.login" and row.outcome in ("failure", "denied")
    if service and (failed_login or row.action == "auth.ip_denied"):
        reason = reason or "source address not allowed"
        return ("service_account.login_failed", f"Service account {who} failed to log in",
                f"{who} failed to log in from {ip}: {reason}.", "warning")
    return None


def watch_audit(notifications: NotificationService) -> int:
    """Publish events for new audit rows; returns how many were published."""
    session = notifications.ctx.session
    advisory_lock(session, "certvault-notify-audit")
    cursor = session.get(AuditCursor, CURSOR)
    if cursor is None:
        since = notifications.ctx.now() - FIRST_RUN_LOOKBACK
        start = session.scalar(select(func.max(AuditEvent.seq)).where(AuditEvent.at < since)) or 0
        cursor = AuditCursor(name=CURSOR, last_seq=start)
        session.add(cursor)
    rows = session.scalars(select(AuditEvent).where(AuditEvent.seq > cursor.last_seq)
                           .order_by(AuditEvent.seq).limit(BATCH)).all()
    published = 0
    for row in rows:
        found = event_for(row)
        if found is not None:
            event, title, body, severity = found
            notifications.publish(event, title, body, severity=severity, subject=row.actor_name,
                                  details={"account": row.actor_name, "ip": row.ip,
                                           "reason": (row.details or {}).get("reason"),
                                           "at": row.at.isoformat()})
            published += 1
        cursor.last_seq = row.seq
    if len(rows) == BATCH:
        notifications.ctx.enqueue(WATCH_JOB, {}, dedup_key="notify-watch-audit-more")
    return published
