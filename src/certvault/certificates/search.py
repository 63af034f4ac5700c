"""Inventory search: filters that use indexes on a million entries, sorted by expiry, paginated.

Pages go by keyset (db/keyset.py): a `cursor` names the row to continue from in the chosen sort, so page
5,000 costs what page 2 does. `offset` is kept for the API and CLI up to OFFSET_MAX rows.

Name search is wildcard-aware:
  `www.example.com`  finds entries named exactly that, the wildcard `*.example.com` that covers it,
                     and names below it (`a.www.example.com`);
  `*.example.com`    finds that wildcard and the names it covers (one label below example.com);
  `example`          (no dot) finds names containing the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, false, func, or_, select
from sqlalchemy.orm import Session

from certvault.certificates.models import CertificateEntry, CertificateName, CertificateTag
from certvault.db import keyset
from certvault.db.keyset import COUNT_CAP, KeyColumn, Keyset
from certvault.db.search import LIKE_ESCAPE, contains, like_pattern
from certvault.errors import InvalidInput

SORTS = ("expiry", "-expiry", "name", "-name", "-created", "created")
KEY_TYPE = re.compile(r"^(rsa|ec|ed25519)(\d*)$")
MAX_LIMIT = 500
OFFSET_MAX = 1_000  # beyond this, follow the cursor: an OFFSET reads and drops every row it skips
_ID = KeyColumn(CertificateEntry.id, "uuid")
_EXPIRY = KeyColumn(CertificateEntry.not_after, "datetime", nullable=True)
_NAME, _ADDED = KeyColumn(CertificateEntry.common_name, "str"), KeyColumn(CertificateEntry.created_at, "datetime")
# Each sort is one index read forwards or backwards ((not_after, id), (common_name, id), (created_at, id));
# entries without an expiry (pending requests) come last when sorted by expiry, first when reversed.
KEYSETS = {
    "expiry": Keyset("expiry", (_EXPIRY, _ID)),
    "-expiry": Keyset("-expiry", (_EXPIRY, _ID), descending=True, nulls_last=False),
    "name": Keyset("name", (_NAME, _ID)),
    "-name": Keyset("-name", (_NAME, _ID), descending=True),
    "created": Keyset("created", (_ADDED, _ID)),
    "-created": Keyset("-created", (_ADDED, _ID), descending=True),
}


@dataclass
class CertificateQuery:
    name: str | None = None
    issuer: str | None = None
    tag: str | None = None
    key_type: str | None = None  # rsa | ec | rsa2048 | ec256 ...
    expiring_within: int | None = None  # days; not yet expired
    expired: bool | None = None
    managed: bool | None = None
    source: str | None = None
    status: str | None = None  # active | pending
    expires_from: datetime | None = None  # not_after in [expires_from, expires_to): a week of the dashboard chart
    expires_to: datetime | None = None
    sort: str = "expiry"
    limit: int = 50
    offset: int = 0
    cursor: str | None = None  # a token from a Page's next_cursor / prev_cursor / near (offset is then 0)


@dataclass
class Page(keyset.ListPage[CertificateEntry]):
    limit: int = 50
    offset: int = 0  # the API's and CLI's bounded offset (OFFSET_MAX); pages from the UI go by cursor


def _name_condition(text: str) -> Any:
    name = text.strip().lower().rstrip(".")
    if not name:
        return None
    if name.startswith("*."):
        # the wildcard itself ("moc.elpmaxe.*") and one-label names sort inside this range
        prefix = name[2:][::-1] + "."
        return and_(CertificateName.name_rev >= prefix, CertificateName.name_rev < prefix[:-1] + "/",
                    ~CertificateName.name_rev.like(like_pattern(prefix, before="", after="%.%"), escape=LIKE_ESCAPE))
    if "." not in name:  # a substring of the name is the reversed substring of name_rev
        return contains(CertificateName.name_rev, name[::-1])
    candidates = [name[::-1], ("*." + name.split(".", 1)[1])[::-1]]
    prefix = name[::-1] + "."
    below = and_(CertificateName.name_rev >= prefix, CertificateName.name_rev < prefix[:-1] + "/")
    return or_(CertificateName.name_rev.in_(candidates), below)


def _key_condition(key_type: str) -> Any:
    match = KEY_TYPE.match(key_type.strip().lower())
    if match is None:
        raise InvalidInput(f"unknown key type {key_type!r}; use rsa, ec, rsa2048, ec256 ...")
    algorithm = {"rsa": "RSA", "ec": "EC", "ed25519": "Ed25519"}[match.group(1)]
    condition = CertificateEntry.key_algorithm == algorithm
    if match.group(2):
        condition = and_(condition, CertificateEntry.key_size == int(match.group(2)))
    return condition


def filtered(stmt: Select[Any], q: CertificateQuery, now: datetime) -> Select[Any]:
    if q.name:
        condition = _name_condition(q.name)
        if condition is not None:
            # IN (subquery) rather than EXISTS: the name index picks the few entries first, instead
            # of probing the names of every entry in expiry order
            stmt = stmt.where(CertificateEntry.id.in_(select(CertificateName.entry_id).where(condition)))
    if q.tag:
        stmt = stmt.where(CertificateEntry.id.in_(
            select(CertificateTag.entry_id).where(CertificateTag.tag == q.tag.strip().lower())))
    if q.issuer:
        stmt = stmt.where(contains(CertificateEntry.issuer_cn, q.issuer, ignore_case=True))
    if q.key_type:
        stmt = stmt.where(_key_condition(q.key_type))
    stmt = _time_filters(stmt, q, now)
    if q.managed is not None:
        stmt = stmt.where(CertificateEntry.managed.is_(q.managed))
    if q.source:
        stmt = stmt.where(CertificateEntry.source == q.source)
    if q.status:
        stmt = stmt.where(CertificateEntry.status == q.status)
    return stmt


def _time_filters(stmt: Select[Any], q: CertificateQuery, now: datetime) -> Select[Any]:
    if q.expiring_within is not None:
        if q.expiring_within < 0 or q.expiring_within > 36500:
            raise InvalidInput("expiring_within must be between 0 and 36500 days")
        stmt = stmt.where(CertificateEntry.not_after >= now,
                          CertificateEntry.not_after < now + timedelta(days=q.expiring_within))
    if q.expired is True:
        stmt = stmt.where(CertificateEntry.not_after < now)
    elif q.expired is False:
        stmt = stmt.where(or_(CertificateEntry.not_after >= now, CertificateEntry.not_after.is_(None)))
    if q.expires_from is not None:
        stmt = stmt.where(CertificateEntry.not_after >= q.expires_from)
    if q.expires_to is not None:
        stmt = stmt.where(CertificateEntry.not_after < q.expires_to)
    if q.expired is True and q.expiring_within is not None:
        stmt = stmt.where(false())
    return stmt


def _ordered(stmt: Select[Any], sort: str) -> Select[Any]:
    key = _keyset(sort)
    columns = [c.column for c in key.columns]
    return stmt.order_by(*[c.desc() if key.descending else c.asc() for c in columns])


def _keyset(sort: str) -> Keyset:
    if sort not in KEYSETS:
        raise InvalidInput(f"unknown sort {sort!r}; choose one of {', '.join(SORTS)}")
    return KEYSETS[sort]


def search(session: Session, q: CertificateQuery, now: datetime) -> Page:
    if not 1 <= q.limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    if not 0 <= q.offset <= OFFSET_MAX:
        raise InvalidInput(f"offset must be between 0 and {OFFSET_MAX:,}; page further with the cursor")
    sort = _keyset(q.sort)
    cursor = keyset.decode(sort, q.cursor) if q.cursor else None
    if q.offset and cursor is None:  # the API's and CLI's offset, bounded above
        stmt = filtered(select(CertificateEntry), q, now)
        items = list(session.scalars(_ordered(stmt, q.sort).limit(q.limit).offset(q.offset)))
        counted = _count(session, q, now)
        more = q.offset + len(items) < counted
        after = keyset.Cursor(sort.name, True, sort.key_of(items[-1])) if items and more else None
        return Page(items, min(counted, COUNT_CAP), counted > COUNT_CAP, number=None, has_prev=True, has_next=more,
                    next_cursor=keyset.encode(sort, after) if after else None, limit=q.limit, offset=q.offset)
    total = _count(session, q, now) if cursor is not None and cursor.key is None else None
    found = keyset.page(session, select(CertificateEntry), sort, cursor, q.limit,
                        None if total is None or total > COUNT_CAP else total, lambda s: filtered(s, q, now))
    if total is None:
        whole = found.page == 1 and not found.has_next
        total = len(found.rows) if whole else _count(session, q, now)
    return Page.of(found, total, COUNT_CAP, limit=q.limit)


def _count(session: Session, q: CertificateQuery, now: datetime) -> int:
    """The number of matches, stopping at COUNT_CAP + 1 so a page stays fast at a million rows ("10,000+")."""
    capped = filtered(select(CertificateEntry.id), q, now).limit(COUNT_CAP + 1).subquery()
    return session.scalar(select(func.count()).select_from(capped)) or 0
