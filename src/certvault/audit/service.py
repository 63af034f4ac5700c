"""Append to and verify the audit chain; search it.

Appends are serialised (PostgreSQL advisory lock; SQLite's write lock) so `seq` is gapless and
each row's hash covers its predecessor's. The HMAC key is a keyring data key, so someone with
database access alone can neither forge a row nor re-chain after deleting one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from certvault.audit.models import AuditEvent, AuditHead
from certvault.auth.rbac import Actor, Permission, require
from certvault.db.base import utcnow
from certvault.db.locks import advisory_lock

GENESIS = "0" * 64
_SENSITIVE = ("password", "secret", "token", "private", "passphrase", "hmac", "key_pem")


def redact(details: dict[str, Any]) -> dict[str, Any]:
    """Mask values whose key names a secret; audit rows must never carry one."""
    out: dict[str, Any] = {}
    for key, value in details.items():
        if isinstance(value, dict):
            out[key] = redact(value)
        elif any(word in key.lower() for word in _SENSITIVE):
            out[key] = "***"
        else:
            out[key] = value
    return out


def _canonical(ev: AuditEvent) -> bytes:
    body = {
        "seq": ev.seq, "id": str(ev.id), "at": ev.at.isoformat(), "actor_kind": ev.actor_kind,
        "actor_id": ev.actor_id, "actor_name": ev.actor_name, "ip": ev.ip, "action": ev.action,
        "outcome": ev.outcome, "target_type": ev.target_type, "target_id": ev.target_id,
        "details": ev.details,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    problems: list[str]


@dataclass
class AuditQuery:
    action: str | None = None  # prefix match: "auth." finds every auth event
    actor: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None
    limit: int = 50
    offset: int = 0


class AuditLog:
    def __init__(self, session: Session, key: bytes) -> None:
        self._session = session
        self._key = key

    def record(
        self,
        actor: Actor,
        action: str,
        *,
        target_type: str | None = None,
        target_id: object | None = None,
        outcome: str = "success",
        details: dict[str, Any] | None = None,
    ) -> AuditEvent:
        self._lock_chain()
        head = self._session.get(AuditHead, 1)
        prev_seq, prev_hash = (head.seq, head.hash) if head else (0, GENESIS)
        ev = AuditEvent(
            seq=prev_seq + 1, at=utcnow(), actor_kind=actor.kind,
            actor_id=str(actor.id) if actor.id else None, actor_name=actor.name, ip=actor.ip,
            action=action, outcome=outcome, target_type=target_type,
            target_id=str(target_id) if target_id is not None else None,
            details=json.loads(json.dumps(redact(details or {}), default=str)), prev_hash=prev_hash,
        )
        ev.id = uuid.uuid4()
        ev.hash = self._mac(prev_hash.encode() + _canonical(ev))
        self._session.add(ev)
        if head is None:
            head = AuditHead(id=1)
            self._session.add(head)
        head.seq, head.hash = ev.seq, ev.hash
        head.mac = self._head_mac(ev.seq, ev.hash)
        self._session.flush()
        return ev

    def search(self, actor: Actor, query: AuditQuery) -> tuple[list[AuditEvent], int]:
        require(actor, Permission.AUDIT_READ)
        stmt = self._filtered(select(AuditEvent), query)
        total = self._session.scalar(self._filtered(select(func.count(AuditEvent.seq)), query)) or 0
        rows = self._session.scalars(
            stmt.order_by(AuditEvent.seq.desc()).limit(min(query.limit, 500)).offset(query.offset)
        ).all()
        return list(rows), total

    def trail(self, target_type: str, target_id: object, limit: int = 200) -> list[AuditEvent]:
        """A target's own history, for services that let users with access see it."""
        stmt = (
            select(AuditEvent)
            .where(AuditEvent.target_type == target_type, AuditEvent.target_id == str(target_id))
            .order_by(AuditEvent.seq.desc())
            .limit(limit)
        )
        return list(self._session.scalars(stmt))

    def verify(self) -> VerifyResult:
        problems: list[str] = []
        expected_seq, prev_hash, checked = 1, GENESIS, 0
        for ev in self._iter_all():
            checked += 1
            if ev.seq != expected_seq:
                missing = f"{expected_seq}" if ev.seq == expected_seq + 1 else f"{expected_seq}-{ev.seq - 1}"
                problems.append(f"row {missing} deleted (sequence jumps to {ev.seq})")
            if ev.prev_hash != prev_hash:
                problems.append(f"row {ev.seq} does not link to its predecessor")
            if not hmac.compare_digest(ev.hash, self._mac(ev.prev_hash.encode() + _canonical(ev))):
                problems.append(f"row {ev.seq} ({ev.action}) was modified")
            expected_seq, prev_hash = ev.seq + 1, ev.hash
        head = self._session.get(AuditHead, 1)
        if head is not None:
            if not hmac.compare_digest(head.mac, self._head_mac(head.seq, head.hash)):
                problems.append("chain head was tampered with")
            elif head.seq != expected_seq - 1 or head.hash != prev_hash:
                problems.append(f"rows after {expected_seq - 1} deleted (head is at {head.seq})")
        elif checked:
            problems.append("chain head is missing")
        return VerifyResult(not problems, checked, problems)

    def _iter_all(self, batch: int = 2000) -> Iterator[AuditEvent]:
        last = 0
        while True:
            rows = self._session.scalars(
                select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
            ).all()
            if not rows:
                return
            yield from rows
            last = rows[-1].seq
            self._session.expunge_all()

    def _filtered(self, stmt: Select[Any], q: AuditQuery) -> Select[Any]:
        if q.action:
            stmt = stmt.where(AuditEvent.action.startswith(q.action))
        if q.actor:
            stmt = stmt.where(AuditEvent.actor_name == q.actor)
        if q.target_type:
            stmt = stmt.where(AuditEvent.target_type == q.target_type)
        if q.target_id:
            stmt = stmt.where(AuditEvent.target_id == q.target_id)
        if q.outcome:
            stmt = stmt.where(AuditEvent.outcome == q.outcome)
        if q.since:
            stmt = stmt.where(AuditEvent.at >= _aware(q.since))
        if q.until:
            stmt = stmt.where(AuditEvent.at < _aware(q.until))
        if q.text:
            like = f"%{q.text}%"
            stmt = stmt.where(
                AuditEvent.action.like(like) | AuditEvent.actor_name.like(like)
                | AuditEvent.target_id.like(like)
            )
        return stmt

    def _lock_chain(self) -> None:
        advisory_lock(self._session, "certvault-audit")

    def _mac(self, data: bytes) -> str:
        return hmac.new(self._key, data, hashlib.sha256).hexdigest()

    def _head_mac(self, seq: int, digest: str) -> str:
        return self._mac(f"head:{seq}:{digest}".encode())
