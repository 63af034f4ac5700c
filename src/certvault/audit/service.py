"""Append to and verify the audit chain; search it.

Appends are serialised so `seq` is gapless and each row's hash covers its predecessor's: on
PostgreSQL by locking the chain's head row (SELECT ... FOR UPDATE; an advisory lock only for the
very first append, before the head row exists), on SQLite by the write lock every transaction
holds. The HMAC key is a keyring data key, so someone with database access alone can neither
forge a row nor re-chain after deleting one. An append is three statements built once (head, insert,
head update; on PostgreSQL the last two are one), in the caller's transaction.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Select, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from certvault.audit.models import AuditEvent, AuditHead
from certvault.auth.rbac import Actor, Permission, require
from certvault.db import keyset
from certvault.db.base import utcnow
from certvault.db.dialect import is_postgres
from certvault.db.keyset import COUNT_CAP as COUNT_CAP  # re-exported: the edges' page count cap
from certvault.db.locks import advisory_lock
from certvault.db.search import contains, starts_with
from certvault.errors import InvalidInput
from certvault.safe_text import bounded

GENESIS = "0" * 64
# What one row may hold, whoever sent it (a failed login stores the name an anonymous caller typed): longer
# strings are cut with a marker saying how much (safe_text.bounded), control characters escaped.
NAME_CHARS, DETAIL_CHARS, LIST_ITEMS = 255, 1024, 200
_SENSITIVE = ("password", "secret", "token", "private", "passphrase", "hmac", "key_pem")
_CANONICAL = ("seq", "id", "at", "actor_kind", "actor_id", "actor_name", "ip", "action", "outcome", "target_type",
              "target_id", "details")

_events, _head = cast(Table, AuditEvent.__table__), cast(Table, AuditHead.__table__)
# FOR UPDATE: the head row is the chain's lock on PostgreSQL (SQLite omits the clause; its write lock serialises).
_HEAD_FOR_UPDATE = select(_head.c.seq, _head.c.hash).where(_head.c.id == 1).with_for_update()
_HEAD = select(_head.c.seq, _head.c.hash, _head.c.mac).where(_head.c.id == 1)
_APPEND = insert(_events)
_INSERT_HEAD = insert(_head)
_MOVE_HEAD = update(_head).where(_head.c.id == 1).values(
    seq=bindparam("new_seq"), hash=bindparam("new_hash"), mac=bindparam("new_mac"))
# PostgreSQL takes both in one statement (a data-modifying CTE): one round trip less per audited request.
_APPEND_AND_MOVE_HEAD = _MOVE_HEAD.add_cte(
    insert(_events).values({column.name: bindparam(f"ev_{column.name}") for column in _events.c}).cte("appended"))


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


def bound_details(value: Any, depth: int = 0) -> Any:
    """`details` with every string bounded (keys too), lists cut to LIST_ITEMS and nesting to 8 levels."""
    if isinstance(value, str):
        return bounded(value, DETAIL_CHARS)
    if depth >= 8 and isinstance(value, dict | list):
        return bounded(json.dumps(value, default=str), DETAIL_CHARS)
    if isinstance(value, dict):
        return {bounded(str(k), NAME_CHARS): bound_details(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        kept = [bound_details(v, depth + 1) for v in value[:LIST_ITEMS]]
        return kept + [f"…[{len(value) - LIST_ITEMS:,} more]"] if len(value) > LIST_ITEMS else kept
    return value


def _short(value: object | None, limit: int) -> str | None:
    return None if value is None else bounded(str(value), limit)


def _canonical(row: dict[str, Any]) -> bytes:
    """The bytes a row's HMAC covers (with its predecessor's hash in front)."""
    body = {name: row[name] for name in _CANONICAL}
    body["id"], body["at"] = str(row["id"]), row["at"].isoformat()
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def _stored(ev: AuditEvent) -> dict[str, Any]:
    return {name: getattr(ev, name) for name in _CANONICAL}


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
    before: int | None = None  # keyset paging: rows older than this sequence number (deep pages, no OFFSET)
    count_cap: int | None = None  # count at most this many matches, then stop (a page's "10,000+"); None: exact
    cursor: str | None = None  # AuditPage's cursors (page() only)


NEWEST_FIRST = keyset.Keyset("newest", (keyset.KeyColumn(AuditEvent.seq, "int"),), descending=True)


AuditPage = keyset.ListPage[AuditEvent]  # the log by cursor, newest first


def append_rows(conn: Connection, key: bytes, rows: list[dict[str, Any]], *, lock_wait: float | None = None) -> None:
    """Chain `rows` (built by `AuditLog.event_row`) after the head, in order, in `conn`'s transaction.

    The one place rows join the chain: a single `record` and a group commit of many (audit/group.py)
    both come here. Each row gets its seq, time, predecessor's hash and HMAC under the chain's lock.
    `lock_wait`: on PostgreSQL, seconds to wait for another transaction's hold on the head before failing with
    lock_not_available (SQLite's writer lock, taken at BEGIN, has its own bound: db/engine.py); one statement
    more, which costs no round trip in a pipeline (audit/group.py).
    """
    head = _lock_head(conn, lock_wait)
    if head is None:  # the first append ever: no head row to lock yet
        advisory_lock(conn, "certvault-audit")
        head = _lock_head(conn, lock_wait)
    first_seq, prev_hash = (head[0], head[1]) if head is not None else (0, GENESIS)
    at = utcnow()
    for offset, row in enumerate(rows, 1):
        row["seq"], row["at"], row["prev_hash"] = first_seq + offset, at, prev_hash
        row["hash"] = prev_hash = _mac(key, prev_hash.encode() + _canonical(row))
    last = rows[-1]
    moved = {"new_seq": last["seq"], "new_hash": last["hash"],
             "new_mac": _mac(key, _head_text(last["seq"], last["hash"]))}
    if head is not None and len(rows) == 1 and is_postgres(conn):
        conn.execute(_APPEND_AND_MOVE_HEAD, {**{f"ev_{name}": value for name, value in last.items()}, **moved})
    elif head is not None:
        conn.execute(_APPEND, rows)
        conn.execute(_MOVE_HEAD, moved)
    else:
        conn.execute(_APPEND, rows)
        conn.execute(_INSERT_HEAD, {"id": 1, "seq": last["seq"], "hash": last["hash"], "mac": moved["new_mac"]})


def _lock_head(conn: Connection, lock_wait: float | None) -> Any:
    if not is_postgres(conn):
        return conn.execute(_HEAD_FOR_UPDATE).first()
    # On the driver's cursor: in a pipeline (audit/group.py), its fetch sends BEGIN, the timeout (for this
    # transaction only) and the SELECT in one round trip, where SQLAlchemy would see a result not yet there.
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if lock_wait is not None:
            cursor.execute(f"SET LOCAL lock_timeout = '{max(1, round(lock_wait * 1000))}ms'")
        cursor.execute(_literal_sql(_HEAD_FOR_UPDATE, conn.dialect))
        return cursor.fetchone()
    finally:
        cursor.close()


@functools.cache
def _literal_sql(statement: Any, dialect: Any) -> str:
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def _mac(key: bytes, data: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def _head_text(seq: int, digest: str) -> bytes:
    return f"head:{seq}:{digest}".encode()


class AuditLog:
    def __init__(self, session: Session, key: bytes) -> None:
        self._session = session
        self._key = key
        # Set to a list by `defer()`: rows are collected there instead of written (see audit/group.py).
        self.pending: list[dict[str, Any]] | None = None

    @property
    def key(self) -> bytes:
        return self._key

    def defer(self) -> None:
        """Collect this session's audit rows instead of writing them; the caller must commit them
        (audit/group.py) before acting on what they record."""
        self.pending = []

    @staticmethod
    def event_row(actor: Actor, action: str, *, target_type: str | None = None, target_id: object | None = None,
                  outcome: str = "success", details: dict[str, Any] | None = None) -> dict[str, Any]:
        """An event's own content; `append_rows` adds its place in the chain (seq, at, hashes)."""
        return {
            "seq": None, "id": uuid.uuid4(), "at": None, "actor_kind": actor.kind,
            "actor_id": _short(actor.id or None, 64), "actor_name": bounded(actor.name or "", NAME_CHARS),
            "ip": _short(actor.ip, 64), "action": bounded(action, 64), "outcome": bounded(outcome, 16),
            "target_type": _short(target_type, 64), "target_id": _short(target_id, NAME_CHARS),
            "details": bound_details(json.loads(json.dumps(redact(details or {}), default=str))),
            "prev_hash": None, "hash": None,
        }

    def record(
        self,
        actor: Actor,
        action: str,
        *,
        target_type: str | None = None,
        target_id: object | None = None,
        outcome: str = "success",
        details: dict[str, Any] | None = None,
    ) -> AuditEvent | None:
        """Append an event in the session's transaction and return it; deferred (see `defer`), queue its row
        and return None: it is not an event of the chain until the caller's group commit places it."""
        row = self.event_row(actor, action, target_type=target_type, target_id=target_id, outcome=outcome,
                             details=details)
        if self.pending is not None:  # deferred: the caller commits it with others (see audit/group.py)
            self.pending.append(row)
            return None
        append_rows(self._session.connection(), self._key, [row])
        self._session.flush()  # as before: the caller's pending changes are written by the time it is audited
        return AuditEvent(**row)

    def head_seq(self) -> int:
        """The newest row's sequence number (one row read): it moves whenever anything is recorded, so a page may
        keep figures derived from audited state until it does."""
        row = self._session.execute(_HEAD).first()
        return int(row.seq) if row is not None else 0

    def search(self, actor: Actor, query: AuditQuery) -> tuple[list[AuditEvent], int]:
        require(actor, Permission.AUDIT_READ)
        stmt = self._filtered(select(AuditEvent), query)
        if query.count_cap is None:
            total = self._session.scalar(self._filtered(select(func.count(AuditEvent.seq)), query)) or 0
        else:
            capped = self._filtered(select(AuditEvent.seq), query).limit(query.count_cap + 1).subquery()
            total = self._session.scalar(select(func.count()).select_from(capped)) or 0
        if query.before is not None:
            stmt = stmt.where(AuditEvent.seq < query.before)
        rows = self._session.scalars(
            stmt.order_by(AuditEvent.seq.desc()).limit(min(query.limit, 500)).offset(query.offset)
        ).all()
        return list(rows), total

    def page(self, actor: Actor, query: AuditQuery) -> AuditPage:
        """The log newest first, a page at query.cursor: read down the sequence number's index, no OFFSET;
        counted up to query.count_cap."""
        require(actor, Permission.AUDIT_READ)
        if not 1 <= query.limit <= 500:
            raise InvalidInput("limit must be between 1 and 500")
        cursor = keyset.decode(NEWEST_FIRST, query.cursor) if query.cursor else None
        if cursor is None and query.before is not None:  # `before=SEQ`: the rows after that one, unnumbered
            cursor = keyset.Cursor(NEWEST_FIRST.name, True, (query.before,))
        counted = self._filtered(select(AuditEvent.seq), query)
        if query.count_cap is not None:
            counted = counted.limit(query.count_cap + 1)
        total = self._session.scalar(select(func.count()).select_from(counted.subquery())) or 0
        capped = query.count_cap is not None and total > query.count_cap
        found = keyset.page(self._session, select(AuditEvent), NEWEST_FIRST, cursor, query.limit,
                            None if capped else total, lambda s: self._filtered(s, query))
        return AuditPage.of(found, total, query.count_cap)

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
            if not hmac.compare_digest(ev.hash, self._mac(ev.prev_hash.encode() + _canonical(_stored(ev)))):
                problems.append(f"row {ev.seq} ({ev.action}) was modified")
            expected_seq, prev_hash = ev.seq + 1, ev.hash
        head = self._session.execute(_HEAD).first()
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
            stmt = stmt.where(starts_with(AuditEvent.action, q.action))
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
            stmt = stmt.where(contains(AuditEvent.action, q.text) | contains(AuditEvent.actor_name, q.text)
                              | contains(AuditEvent.target_id, q.text))
        return stmt

    def _mac(self, data: bytes) -> str:
        return _mac(self._key, data)

    def _head_mac(self, seq: int, digest: str) -> str:
        return _mac(self._key, _head_text(seq, digest))
