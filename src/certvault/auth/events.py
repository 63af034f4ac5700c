"""Events of the auth domain (collected by events/catalogue.py), appended where the login is audited: every
login path (REST, web form, the compatible APIs) goes through auth/login.py or auth/tokens.py."""

from __future__ import annotations

from sqlalchemy.orm import Session

from certvault.auth.rbac import Actor
from certvault.db.base import utcnow
from certvault.events.catalogue import EventType
from certvault.events.outbox import EventOutbox

EVENTS = (
    EventType("service_account.login_failed",
              "a service account failed to log in (wrong password, address not allowed)"),
    EventType("service_account.locked", "a service account was locked out after repeated failures"),
    EventType("user.locked", "a user was locked out after repeated failures"),
)


def _payload(who: Actor, reason: str | None) -> dict[str, str | None]:
    return {"account": who.name, "ip": who.ip, "reason": reason, "at": utcnow().isoformat()}


def login_failed(session: Session, who: Actor, reason: str) -> None:
    """A service account failed to log in (a person's failures are audited, not alerted on)."""
    if who.kind != "service":
        return
    EventOutbox(session).publish(
        "service_account.login_failed", title=f"Service account {who.name} failed to log in",
        body=f"{who.name} failed to log in from {who.ip or 'unknown address'}: {reason}.", severity="warning",
        subject=who.name, payload=_payload(who, reason))


def locked_out(session: Session, who: Actor, reason: str) -> None:
    service = who.kind == "service"
    EventOutbox(session).publish(
        "service_account.locked" if service else "user.locked",
        title=f"{'Service account' if service else 'User'} {who.name} locked out",
        body=f"{who.name} was locked out after repeated failed logins (last from {who.ip or 'unknown address'}).",
        severity="critical" if service else "warning", subject=who.name, payload=_payload(who, reason))
