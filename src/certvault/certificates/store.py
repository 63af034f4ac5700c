"""Write certificates into the inventory in batches (the one write path for every source).

A batch is parsed leaves plus the CA certificates and keys that came with them. Lookups are done
with one IN query per kind and rows are inserted with executemany, so an import of 100,000
certificates costs a few hundred statements, not a few hundred thousand.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.sql.elements import BindParameter

from certvault.certificates.models import (
    CertificateEntry,
    CertificateName,
    CertificateRequest,
    CertificateTag,
    CertificateVersion,
    IssuerCertificate,
    PrivateKeyRecord,
)
from certvault.context import ServiceContext
from certvault.crypto import keys, x509info
from certvault.crypto.x509info import CertInfo
from certvault.db import bulk

CHUNK = 500


@dataclass
class Leaf:
    """One certificate to store as a version of some entry."""

    info: CertInfo
    der: bytes
    source: str
    tags: tuple[str, ...] = ()
    managed: bool = True
    entry_id: uuid.UUID | None = None  # force: become a version of this entry


@dataclass
class StoreOutcome:
    """Per leaf fingerprint: the entry it belongs to and what happened."""

    entries: dict[str, uuid.UUID] = field(default_factory=dict)
    created: int = 0
    renewed: int = 0  # became the new current version of an existing entry
    history: int = 0  # an older version added to an existing entry's history
    unchanged: int = 0  # already stored
    keys_added: int = 0
    issuers_added: int = 0
    leaves: int = 0  # certificates stored as versions (new or not)
    first_fingerprint: str | None = None  # of the first leaf, in file order
    key_entries: list[uuid.UUID] = field(default_factory=list)  # entries a key that came alone belongs to


class _TimeOrderedIds:
    """UUIDv7-style ids (48-bit milliseconds, then random): rows inserted together sit together in
    the primary-key and foreign-key indexes, and one urandom call serves a whole batch."""

    def __init__(self) -> None:
        self._pool = b""
        self._at = 0
        self._last = 0
        self._lock = threading.Lock()

    def next(self) -> uuid.UUID:
        with self._lock:
            if self._at + 10 > len(self._pool):
                self._pool, self._at = os.urandom(10 * 1024), 0
            rand = int.from_bytes(self._pool[self._at:self._at + 10], "big")  # an offset: no copy of the pool
            self._at += 10
            millis = max(time.time_ns() // 1_000_000, self._last)
            self._last = millis
        value = (millis << 80) | rand
        value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
        value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
        return uuid.UUID(int=value)


new_id = _TimeOrderedIds().next


def subject_hash(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def name_rows(entry_id: uuid.UUID, names: Iterable[str]) -> list[dict[str, Any]]:
    return [{"entry_id": entry_id, "name": n[:255], "name_rev": n[::-1][:255]} for n in names]


# Lookups built once with expanding IN parameters: a statement object keeps its compiled form, so a
# lookup costs its SQL, not its construction (most of a single certificate's storage otherwise).
_VALUES: BindParameter[Any] = bindparam("values", expanding=True)
_EXISTING = {column.key: select(column).where(column.in_(_VALUES))
             for column in (PrivateKeyRecord.spki_sha256, IssuerCertificate.fingerprint_sha256)}
_KNOWN_VERSIONS = select(CertificateVersion.fingerprint_sha256, CertificateVersion.entry_id).where(
    CertificateVersion.fingerprint_sha256.in_(_VALUES))
_OPEN_REQUESTS = select(CertificateRequest.spki_sha256, CertificateRequest.entry_id).where(
    CertificateRequest.spki_sha256.in_(_VALUES), CertificateRequest.fulfilled_at.is_(None))
# Two single-table lookups rather than a join: each has one obvious plan, also while PostgreSQL's
# statistics still describe an empty table.
_ENTRY_IDS_BY_NAME = select(CertificateName.entry_id).where(CertificateName.name_rev.in_(_VALUES)).distinct()
_ACTIVE_ENTRIES = (select(CertificateEntry.names_key, CertificateEntry.id, CertificateEntry.created_at)
                   .where(CertificateEntry.id.in_(_VALUES), CertificateEntry.status == "active"))
# Certificates without any name (rare): no index serves this, and none is worth its cost on every import.
_ENTRIES_BY_NAMES_KEY = (select(CertificateEntry.names_key, CertificateEntry.id, CertificateEntry.created_at)
                         .where(CertificateEntry.names_key.in_(_VALUES), CertificateEntry.status == "active"))


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


class InventoryStore:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._s = ctx.session

    # ---- keys and issuers ------------------------------------------------------------------
    def store_keys(self, private_keys: Iterable[PrivateKeyTypes], origin: str = "imported") -> int:
        by_spki = {x509info.spki_sha256(k.public_key()): k for k in private_keys}
        existing = self._existing(PrivateKeyRecord.spki_sha256, list(by_spki))
        rows = []
        for spki, key in by_spki.items():
            if spki in existing:
                continue
            key_id = uuid.uuid4()
            algorithm, size = keys.describe(key)
            sealed = self._ctx.sealer.seal(keys.to_pem(key), aad=f"cert_keys:{key_id}")
            rows.append({"id": key_id, "spki_sha256": spki, "key_algorithm": algorithm, "key_size": size,
                         "sealed": sealed, "origin": origin, "created_at": self._ctx.now()})
        if rows:
            self._s.execute(insert(PrivateKeyRecord), rows)
        return len(rows)

    def store_issuers(self, certs: Iterable[x509.Certificate]) -> int:
        by_fp = {x509info.fingerprint(c): c for c in certs}
        existing = self._existing(IssuerCertificate.fingerprint_sha256, list(by_fp))
        rows = []
        for fp, cert in by_fp.items():
            if fp in existing:
                continue
            info = x509info.describe(cert)
            rows.append({"id": uuid.uuid4(), "fingerprint_sha256": fp, "subject": info.subject,
                         "issuer": info.issuer, "common_name": info.common_name[:255], "ski": info.ski,
                         "aki": info.aki, "subject_hash": subject_hash(info.subject),
                         "not_after": info.not_after, "self_signed": info.self_signed,
                         "der": x509info.der(cert), "created_at": self._ctx.now()})
        if rows:
            self._s.execute(insert(IssuerCertificate), rows)
        return len(rows)

    def _existing(self, column: Any, values: list[str]) -> set[str]:
        found: set[str] = set()
        stmt = _EXISTING[column.key]
        for chunk in _chunks(values):
            found.update(self._s.scalars(stmt, {"values": list(chunk)}))
        return found

    # ---- leaves ----------------------------------------------------------------------------
    def store_leaves(self, leaves: Sequence[Leaf], outcome: StoreOutcome | None = None) -> StoreOutcome:
        outcome = outcome or StoreOutcome()
        if len(leaves) >= CHUNK:
            bulk.prepare_bulk_write(self._s)
        unique = list({leaf.info.fingerprint_sha256: leaf for leaf in leaves}.values())
        for chunk in _chunks(unique):
            self._store_chunk(chunk, outcome)
        return outcome

    def _store_chunk(self, leaves: Sequence[Leaf], outcome: StoreOutcome) -> None:
        with bulk.index_lookups(self._s):
            known = self._known_versions([lf.info.fingerprint_sha256 for lf in leaves])
            fresh = [lf for lf in leaves if lf.info.fingerprint_sha256 not in known]
            requests = self._open_requests([lf.info.spki_sha256 for lf in fresh])
            by_names = self._entries_by_names(fresh)
        for leaf in leaves:
            if leaf.info.fingerprint_sha256 in known:
                outcome.entries[leaf.info.fingerprint_sha256] = known[leaf.info.fingerprint_sha256]
                outcome.unchanged += 1
        plan = _Plan(self._ctx.now())
        for leaf in fresh:
            target = leaf.entry_id or requests.get(leaf.info.spki_sha256) or by_names.get(leaf.info.names_key)
            if target is None:
                target = plan.new_entry(leaf)
                by_names[leaf.info.names_key] = target
            plan.add_version(leaf, target, outcome)
        self._apply(plan, requests, outcome)
        self._add_tags([(outcome.entries[lf.info.fingerprint_sha256], lf.tags) for lf in leaves if lf.tags])

    def _known_versions(self, fingerprints: list[str]) -> dict[str, uuid.UUID]:
        return {fp: entry_id for fp, entry_id in self._s.execute(_KNOWN_VERSIONS, {"values": fingerprints})}

    def _open_requests(self, spkis: list[str]) -> dict[str, uuid.UUID]:
        if not spkis:
            return {}
        return {spki: entry_id for spki, entry_id in self._s.execute(_OPEN_REQUESTS, {"values": spkis})}

    def _entries_by_names(self, leaves: Sequence[Leaf]) -> dict[str, uuid.UUID]:
        """names_key → the active entry with exactly those names (the newest, if several). Found through
        the name index (an entry's names are its current names), not an index of names keys: each
        random-key index costs about one page write per imported certificate."""
        wanted = {lf.info.names_key for lf in leaves}
        probes = list({lf.info.names[0][::-1][:255] for lf in leaves if lf.info.names})
        nameless = list({lf.info.names_key for lf in leaves if not lf.info.names})
        ids = list(self._s.scalars(_ENTRY_IDS_BY_NAME, {"values": probes})) if probes else []
        newest: dict[str, tuple[Any, uuid.UUID]] = {}
        for stmt, values in ((_ACTIVE_ENTRIES, ids), (_ENTRIES_BY_NAMES_KEY, nameless)):
            for start in range(0, len(values), CHUNK):
                for key, entry_id, created in self._s.execute(stmt, {"values": values[start:start + CHUNK]}):
                    if key in wanted and (key not in newest or created >= newest[key][0]):
                        newest[key] = (created, entry_id)
        return {key: entry_id for key, (_created, entry_id) in newest.items()}

    def _apply(self, plan: _Plan, requests: dict[str, uuid.UUID], outcome: StoreOutcome) -> None:
        if plan.entries:
            bulk.insert_many(self._s, CertificateEntry.__table__, plan.entries)
            bulk.insert_many(self._s, CertificateName.__table__, plan.names)
        if plan.versions:
            bulk.insert_many(self._s, CertificateVersion.__table__, plan.versions)
        self._promote(plan, requests, outcome)

    def _promote(self, plan: _Plan, requests: dict[str, uuid.UUID], outcome: StoreOutcome) -> None:
        """Make the newest new version current on entries that existed before this batch."""
        existing_ids = list(plan.candidates)
        if not existing_ids:
            return
        rows = self._s.execute(select(CertificateEntry.id, CertificateEntry.not_after, CertificateEntry.names_key)
                               .where(CertificateEntry.id.in_(existing_ids))).all()
        fulfilled = set(requests.values())
        for entry_id, not_after, key in rows:
            leaf, version_id = plan.candidates[entry_id]
            if not_after is not None and leaf.info.not_after <= not_after:
                outcome.history += 1
                continue
            outcome.renewed += 1
            # a managed source (import, issuer) renewing a discovered entry takes it over; a sighting never
            # turns a managed entry back into an unmanaged one
            managed = {"managed": True} if leaf.managed else {}
            self._s.execute(update(CertificateEntry).where(CertificateEntry.id == entry_id).values(
                **_current_columns(leaf.info, version_id), status="active", updated_at=plan.now, **managed))
            if key != leaf.info.names_key:
                self._s.execute(delete(CertificateName).where(CertificateName.entry_id == entry_id))
                self._s.execute(insert(CertificateName), name_rows(entry_id, leaf.info.names))
            if entry_id in fulfilled:
                self._s.execute(update(CertificateRequest).where(CertificateRequest.entry_id == entry_id,
                                                                 CertificateRequest.fulfilled_at.is_(None))
                                .values(fulfilled_at=plan.now))
        promoted = set(existing_ids)
        for obj in list(self._s.identity_map.values()):  # only our entries: callers may hold other objects
            if isinstance(obj, CertificateEntry) and obj.id in promoted:
                self._s.expire(obj)

    def _add_tags(self, pairs: list[tuple[uuid.UUID, tuple[str, ...]]]) -> None:
        if not pairs:
            return
        wanted = {(entry_id, tag) for entry_id, tags in pairs for tag in tags}
        ids = list({entry_id for entry_id, _ in wanted})
        have: set[tuple[uuid.UUID, str]] = set()
        for chunk in _chunks(ids):
            rows = self._s.execute(select(CertificateTag.entry_id, CertificateTag.tag)
                                   .where(CertificateTag.entry_id.in_(chunk)))
            have.update((entry_id, tag) for entry_id, tag in rows)
        new_rows = [{"entry_id": e, "tag": t} for e, t in sorted(wanted - have, key=str)]
        if new_rows:
            self._s.execute(insert(CertificateTag), new_rows)


def _current_columns(info: CertInfo, version_id: uuid.UUID) -> dict[str, Any]:
    return {"common_name": (info.common_name or (info.sans[0] if info.sans else ""))[:255],
            "names_key": info.names_key, "issuer_cn": info.issuer_cn[:255], "key_algorithm": info.key_algorithm,
            "key_size": info.key_size, "not_after": info.not_after, "current_version_id": version_id}


class _Plan:
    """Rows to insert for one chunk, and the versions that may replace an entry's current one."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.entries: list[dict[str, Any]] = []
        self.names: list[dict[str, Any]] = []
        self.versions: list[dict[str, Any]] = []
        self._new_entries: dict[uuid.UUID, dict[str, Any]] = {}
        self.candidates: dict[uuid.UUID, tuple[Leaf, uuid.UUID]] = {}

    def new_entry(self, leaf: Leaf) -> uuid.UUID:
        entry_id = new_id()
        row = {"id": entry_id, "status": "active", "managed": leaf.managed, "source": leaf.source,
               "owner": None, "created_at": self.now, "updated_at": self.now}
        self.entries.append(row)
        self._new_entries[entry_id] = row
        self.names.extend(name_rows(entry_id, leaf.info.names))
        return entry_id

    def add_version(self, leaf: Leaf, entry_id: uuid.UUID, outcome: StoreOutcome) -> None:
        info, version_id = leaf.info, new_id()
        self.versions.append({
            "id": version_id, "entry_id": entry_id, "fingerprint_sha256": info.fingerprint_sha256,
            "spki_sha256": info.spki_sha256, "subject": info.subject, "common_name": info.common_name[:255],
            "issuer": info.issuer, "issuer_cn": info.issuer_cn[:255], "serial": info.serial,
            "not_before": info.not_before, "not_after": info.not_after, "key_algorithm": info.key_algorithm,
            "key_size": info.key_size, "signature_algorithm": info.signature_algorithm[:64], "sans": info.sans,
            "aki": info.aki, "der": leaf.der, "source": leaf.source, "created_at": self.now,
        })
        outcome.entries[info.fingerprint_sha256] = entry_id
        new_row = self._new_entries.get(entry_id)
        if new_row is not None:
            if new_row.get("not_after") is None or info.not_after > new_row["not_after"]:
                if new_row.get("not_after") is None:
                    outcome.created += 1
                else:
                    outcome.renewed += 1
                new_row.update(_current_columns(info, version_id))
            else:
                outcome.history += 1
            return
        best = self.candidates.get(entry_id)
        if best is None or info.not_after > best[0].info.not_after:
            if best is not None:
                outcome.history += 1
            self.candidates[entry_id] = (leaf, version_id)
        else:
            outcome.history += 1
