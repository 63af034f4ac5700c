"""Inventory search: filters that use indexes on a million entries, sorted by expiry, paginated.

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
from certvault.db.search import LIKE_ESCAPE, contains, like_pattern
from certvault.errors import InvalidInput

SORTS = ("expiry", "-expiry", "name", "-name", "-created", "created")
KEY_TYPE = re.compile(r"^(rsa|ec|ed25519)(\d*)$")
MAX_LIMIT = 500
COUNT_CAP = 10_000


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


@dataclass
class Page:
    items: list[CertificateEntry]
    total: int
    total_capped: bool  # the count stopped at COUNT_CAP
    limit: int
    offset: int


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
    if sort not in SORTS:
        raise InvalidInput(f"unknown sort {sort!r}; choose one of {', '.join(SORTS)}")
    if sort == "expiry":
        return stmt.order_by(CertificateEntry.not_after.asc(), CertificateEntry.id.asc())
    if sort == "-expiry":
        return stmt.order_by(CertificateEntry.not_after.desc(), CertificateEntry.id.desc())
    if sort == "name":
        return stmt.order_by(CertificateEntry.common_name.asc(), CertificateEntry.id.asc())
    if sort == "-name":
        return stmt.order_by(CertificateEntry.common_name.desc(), CertificateEntry.id.desc())
    if sort == "created":
        return stmt.order_by(CertificateEntry.created_at.asc(), CertificateEntry.id.asc())
    return stmt.order_by(CertificateEntry.created_at.desc(), CertificateEntry.id.desc())


def search(session: Session, q: CertificateQuery, now: datetime) -> Page:
    if not 1 <= q.limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    if q.offset < 0:
        raise InvalidInput("offset must not be negative")
    stmt = _ordered(filtered(select(CertificateEntry), q, now), q.sort)
    items = list(session.scalars(stmt.limit(q.limit).offset(q.offset)))
    if q.offset == 0 and len(items) < q.limit:
        return Page(items, len(items), False, q.limit, q.offset)
    # Counting stops at a cap so a page stays fast at a million rows; the UI shows "10,000+".
    capped = filtered(select(CertificateEntry.id), q, now).limit(COUNT_CAP + 1).subquery()
    total = session.scalar(select(func.count()).select_from(capped)) or 0
    return Page(items, min(total, COUNT_CAP), total > COUNT_CAP, q.limit, q.offset)
