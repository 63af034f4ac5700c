"""Inventory operations. Every method checks the actor first; writes are audited; nothing commits."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.util import identity_key

from certvault.auth.rbac import Actor, Permission, require
from certvault.certificates import chains, discovery, export, importing, reports, search, sightings
from certvault.certificates.events import import_summary
from certvault.certificates.importing import FileResult, Prepared, audit_details, clean_tags, file_result
from certvault.certificates.models import (
    CertificateEntry,
    CertificateName,
    CertificateRequest,
    CertificateTag,
    CertificateVersion,
    PrivateKeyRecord,
    Sighting,
)
from certvault.certificates.store import InventoryStore, StoreOutcome, name_rows
from certvault.context import ServiceContext
from certvault.crypto import csr, keys, readers, x509info
from certvault.errors import CertvaultError, InvalidInput, NotFound
from certvault.names import check_name

_MANAGED_NAMES = (select(CertificateName.name).distinct()
                  .join(CertificateEntry, CertificateEntry.id == CertificateName.entry_id)
                  .where(CertificateEntry.managed.is_(True), CertificateEntry.status == "active")
                  .order_by(CertificateName.name))


@dataclass(frozen=True)
class Endpoint:
    host: str | None
    ip: str
    port: int
    sni: str | None
    entry_id: uuid.UUID
    last_seen: datetime


class CertificateService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._s = ctx.session
        self._store = InventoryStore(ctx)
        self._sightings = sightings.SightingStore(ctx, self._store)

    # ---- import ------------------------------------------------------------------------------
    def import_data(self, actor: Actor, data: bytes, filename: str, *, password: str | None = None,
                    tags: list[str] | None = None, source: str = "import") -> FileResult:
        """Import one file's bytes. A bad file raises InvalidInput naming it and stores nothing."""
        require(actor, Permission.CERTIFICATES_WRITE)
        label = filename or "upload"
        bundle = readers.read_bundle(data, label, password)
        chunks = importing.prepare(bundle, label, source=source, tags=clean_tags(tags))
        with self._s.begin_nested():
            outcome = self._write(chunks, label)
            result = file_result(label, bundle.format, outcome)
            self._ctx.audit.record(actor, "certificate.import", target_type="certificate",
                                   target_id=result.entry_ids[0] if result.entry_ids else None,
                                   details=audit_details(result))
            if result.certificates > result.unchanged:  # one event per file, however many certificates
                self._ctx.events.publish("certificate.imported", title=f"Certificates imported from {label}",
                                         body=import_summary(result), subject=label, payload=audit_details(result))
        return result

    def import_files(self, actor: Actor, files: list[tuple[str, bytes]], *, password: str | None = None,
                     tags: list[str] | None = None) -> list[FileResult]:
        """Import uploaded (name, bytes) pairs, each on its own: a bad file is reported, the good ones stored.
        CPU work (keystores) and database work: the web edges call it in a worker thread."""
        results = []
        for label, data in files:
            try:
                results.append(self.import_data(actor, data, label, password=password, tags=tags))
            except CertvaultError as exc:
                results.append(FileResult(label, False, error=exc.message))
        return results

    def import_path(self, actor: Actor, path: Path, *, password: str | None = None,
                    tags: list[str] | None = None) -> list[FileResult]:
        """Import a file or every file under a directory, each file on its own: a bad file is
        reported and skipped while the good ones are stored."""
        require(actor, Permission.CERTIFICATES_WRITE)
        results = []
        for file in importing.files_under(path):
            label = importing.display_name(file)
            try:
                label = importing.check_file(file)
                results.append(self.import_data(actor, file.read_bytes(), label, password=password, tags=tags))
            except (CertvaultError, OSError) as exc:
                results.append(FileResult(label, False, error=getattr(exc, "message", None) or f"{label}: {exc}"))
        if not results:
            raise InvalidInput(f"{importing.display_name(path)}: no files to import")
        return results

    def _write(self, chunks: Iterable[Prepared], label: str) -> StoreOutcome:
        """Store chunk after chunk (the next one is parsed meanwhile); keys come with the last."""
        outcome = StoreOutcome()
        for chunk in chunks:
            if chunk.orphan_key_spkis:
                outcome.key_entries += self._check_orphan_keys(chunk.orphan_key_spkis, label)
            outcome.keys_added += self._store.store_keys(chunk.keys)
            outcome.issuers_added += self._store.store_issuers(chunk.issuers)
            if chunk.leaves:
                outcome.first_fingerprint = outcome.first_fingerprint or chunk.leaves[0].info.fingerprint_sha256
                outcome.leaves += len(chunk.leaves)
                self._store.store_leaves(chunk.leaves, outcome)
        return outcome

    def _check_orphan_keys(self, spkis: list[str], label: str) -> list[uuid.UUID]:
        """The stored certificates (entries) each key that came without its certificate belongs to."""
        matched: list[uuid.UUID] = []
        for spki in spkis:
            entries = list(self._s.scalars(select(CertificateVersion.entry_id).distinct()
                                           .where(CertificateVersion.spki_sha256 == spki).limit(20)))
            if not entries:
                raise InvalidInput(f"{label}: contains a private key but no certificate, "
                                   "and no stored certificate uses that key")
            matched += entries
        return matched

    # ---- interfaces for issuers and scanners ---------------------------------------------------
    def store_issued(self, actor: Actor, *, chain_pem: bytes, key_pem: bytes | None, source: str,
                     entry_id: uuid.UUID | None = None, managed: bool = True,
                     tags: list[str] | None = None) -> CertificateEntry:
        """Store a leaf + chain (and its key, sealed) as a new entry or the new current version."""
        stored_id = self.store_issued_id(actor, chain_pem=chain_pem, key_pem=key_pem, source=source,
                                         entry_id=entry_id, managed=managed, tags=tags)
        known = self._s.identity_map.get(identity_key(CertificateEntry, stored_id))
        if known is not None:
            self._s.expire(known)  # loaded before the new version existed
        entry = self._s.get(CertificateEntry, stored_id)
        assert entry is not None
        return entry

    def store_issued_id(self, actor: Actor, *, chain_pem: bytes, key_pem: bytes | None, source: str,
                        entry_id: uuid.UUID | None = None, managed: bool = True,
                        tags: list[str] | None = None) -> uuid.UUID:
        """`store_issued` for callers that need only the entry's id (the ACME engine): nothing is read back."""
        require(actor, Permission.CERTIFICATES_WRITE)
        if entry_id is not None and self._s.scalar(select(CertificateEntry.id).where(
                CertificateEntry.id == entry_id)) is None:
            raise NotFound(f"no certificate with id {entry_id}")
        bundle = readers.read_bundle(chain_pem + (b"\n" + key_pem if key_pem else b""), f"{source} certificate")
        chunks = importing.prepare(bundle, f"{source} certificate", source=source, tags=clean_tags(tags),
                                   managed=managed, entry_id=entry_id)
        outcome = self._write(chunks, f"{source} certificate")
        if outcome.first_fingerprint is None:
            raise InvalidInput(f"{source} certificate: the chain holds no certificate")
        stored_id = outcome.entries[outcome.first_fingerprint]
        self._ctx.audit.record(actor, "certificate.store", target_type="certificate", target_id=stored_id,
                               details={"source": source, "fingerprint": outcome.first_fingerprint,
                                        "with_key": bool(bundle.keys), "renewed": bool(outcome.renewed)})
        return stored_id

    def record_seen(self, actor: Actor, *, chain_pem: bytes, host: str | None, ip: str, port: int,
                    sni: str | None, source: str = "discovery") -> CertificateEntry:
        """Add or update the served certificate and remember where it was seen."""
        require(actor, Permission.DISCOVERY_RUN)
        observation = sightings.Observation(chain_pem, host, ip, port, sni, source)
        parsed = sightings.parse(observation)  # a bad chain raises, naming the endpoint
        entry_id = self._sightings.record([observation], [parsed])[0].entry_id
        self._ctx.audit.record(actor, "certificate.seen", target_type="certificate", target_id=entry_id,
                               details={"host": host, "ip": ip, "port": port, "sni": sni, "source": source})
        assert entry_id is not None
        return self._entry(entry_id)

    def record_seen_many(self, actor: Actor, observations: list[sightings.Observation]) -> list[sightings.Seen]:
        """`record_seen` for a batch (a scan's or a discovery's results): one audit row, nothing read back.
        Returns, per observation, the entry it was recorded on or why its chain was refused (a refused
        chain stores nothing; the others are stored)."""
        require(actor, Permission.DISCOVERY_RUN)
        if not observations:
            return []
        seen = self._sightings.record(observations)
        stored = [s.entry_id for s in seen if s.entry_id is not None]
        self._ctx.audit.record(actor, "certificate.seen", target_type="certificate",
                               target_id=stored[0] if len(set(stored)) == 1 else None,
                               details={"observations": len(observations), "recorded": len(stored),
                                        "refused": len(observations) - len(stored), "certificates": len(set(stored)),
                                        "sources": sorted({o.source for o in observations}),
                                        "endpoints": [o.label for o in observations[:20]]})
        return seen

    def record_discovered(self, actor: Actor, results: list[discovery.Fetched]) -> list[uuid.UUID | None]:
        """Store what a discovery run fetched (entry id per result, None where it failed); one audit row."""
        require(actor, Permission.DISCOVERY_RUN)
        fetched = [(index, item) for index, item in enumerate(results) if item.chain_pem and item.ip]
        observations = [sightings.Observation(item.chain_pem or b"", item.target.host, item.ip or "",
                                              item.target.port, item.target.sni) for _, item in fetched]
        ids: list[uuid.UUID | None] = [None] * len(results)
        for (index, _), seen in zip(fetched, self._sightings.record(observations), strict=True):
            ids[index] = seen.entry_id
        found = [i for i in ids if i is not None]
        self._ctx.audit.record(actor, "certificate.discover", target_type="certificate",
                               details={"targets": len(results), "found": len(found),
                                        "unreachable": len(results) - len(found), "certificates": len(set(found))})
        return ids

    def managed_names(self, actor: Actor) -> list[str]:
        """Every name (DNS, IP, e-mail) on a managed, active certificate, sorted, once each (one query)."""
        require(actor, Permission.CERTIFICATES_READ)
        return list(self._s.scalars(_MANAGED_NAMES))

    def queue_discovery(self, actor: Actor, *, targets: list[str], cidrs: list[str], ports: list[int],
                        sni: str | None, timeout: float = 5.0) -> Any:
        """Check the targets now and let the worker fetch them (network I/O stays out of requests)."""
        require(actor, Permission.DISCOVERY_RUN)
        expanded = discovery.expand(targets, cidrs, discovery.parse_ports(ports), sni)
        if not expanded:
            raise InvalidInput("give at least one target or CIDR range")
        payload = {"targets": targets, "cidrs": cidrs, "ports": ports, "sni": sni, "timeout": timeout,
                   "count": len(expanded), "requested_by": actor.name}
        return self._ctx.enqueue("certificates.discover", payload)

    def endpoints(self, actor: Actor) -> list[Endpoint]:
        require(actor, Permission.CERTIFICATES_READ)
        rows = self._s.scalars(select(Sighting).order_by(Sighting.ip, Sighting.port, Sighting.sni))
        return [Endpoint(r.host, r.ip, r.port, r.sni or None, r.entry_id, r.last_seen) for r in rows]

    def sightings(self, actor: Actor, entry_id: uuid.UUID) -> list[Sighting]:
        require(actor, Permission.CERTIFICATES_READ)
        return list(self._s.scalars(select(Sighting).where(Sighting.entry_id == entry_id)
                                    .order_by(Sighting.last_seen.desc())))

    # ---- reading -------------------------------------------------------------------------------
    def names_of(self, actor: Actor, entry_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
        """The common names of these entries (one query; an audit page names its targets with it)."""
        require(actor, Permission.CERTIFICATES_READ)
        ids = list(dict.fromkeys(entry_ids))[:500]
        if not ids:
            return {}
        stmt = select(CertificateEntry.id, CertificateEntry.common_name).where(CertificateEntry.id.in_(ids))
        return {entry_id: name for entry_id, name in self._s.execute(stmt)}

    def get(self, actor: Actor, entry_id: uuid.UUID) -> CertificateEntry:
        require(actor, Permission.CERTIFICATES_READ)
        return self._entry(entry_id)

    def entry_for_fingerprint(self, actor: Actor, sha256: str) -> uuid.UUID | None:
        """The inventory entry holding the certificate with this SHA-256 fingerprint (a scanned endpoint's)."""
        require(actor, Permission.CERTIFICATES_READ)
        return self._s.scalar(select(CertificateVersion.entry_id)
                              .where(CertificateVersion.fingerprint_sha256 == sha256.lower().replace(":", "")))

    def _entry(self, entry_id: uuid.UUID) -> CertificateEntry:
        stmt = (select(CertificateEntry).where(CertificateEntry.id == entry_id)
                .options(selectinload(CertificateEntry.versions)).execution_options(populate_existing=True))
        entry = self._s.scalar(stmt)
        if entry is None:
            raise NotFound(f"no certificate with id {entry_id}")
        return entry

    def search(self, actor: Actor, query: search.CertificateQuery) -> search.Page:
        require(actor, Permission.CERTIFICATES_READ)
        return search.search(self._s, query, self._ctx.now())

    def chain(self, actor: Actor, version: CertificateVersion) -> list[x509.Certificate]:
        """The issuing chain of a version, assembled from stored CA certificates."""
        require(actor, Permission.CERTIFICATES_READ)
        rows = chains.chain_for(self._s, version.issuer, version.aki, version.subject)
        return [x509.load_der_x509_certificate(r.der) for r in rows
                if r.fingerprint_sha256 != version.fingerprint_sha256]

    def has_key(self, version: CertificateVersion) -> bool:
        return bool(self._s.scalar(select(func.count()).select_from(PrivateKeyRecord)
                                   .where(PrivateKeyRecord.spki_sha256 == version.spki_sha256)))

    def names(self, actor: Actor, entry_id: uuid.UUID) -> list[str]:
        require(actor, Permission.CERTIFICATES_READ)
        return list(self._s.scalars(select(CertificateName.name).where(CertificateName.entry_id == entry_id)
                                    .order_by(CertificateName.name)))

    def request_of(self, actor: Actor, entry_id: uuid.UUID) -> CertificateRequest | None:
        require(actor, Permission.CERTIFICATES_READ)
        return self._s.scalars(select(CertificateRequest).where(CertificateRequest.entry_id == entry_id)
                               .order_by(CertificateRequest.created_at.desc())).first()

    # ---- keys and export -----------------------------------------------------------------------
    def current_key_pem(self, actor: Actor, entry_id: uuid.UUID) -> bytes | None:
        """The current version's private key (PEM, unencrypted). Audited as a key view."""
        require(actor, Permission.KEYS_VIEW)
        entry = self._entry(entry_id)
        key = self._key_for(entry)
        if key is None:
            return None
        self._ctx.audit.record(actor, "certificate.key_view", target_type="certificate", target_id=entry.id,
                               details={"spki_sha256": self._spki_of(entry)})
        return keys.to_pem(key)

    def _spki_of(self, entry: CertificateEntry) -> str | None:
        if entry.current is not None:
            return entry.current.spki_sha256
        request = self._s.scalars(select(CertificateRequest).where(CertificateRequest.entry_id == entry.id)
                                  .order_by(CertificateRequest.created_at.desc())).first()
        return request.spki_sha256 if request else None

    def _key_for(self, entry: CertificateEntry) -> PrivateKeyTypes | None:
        spki = self._spki_of(entry)
        record = self._s.scalar(select(PrivateKeyRecord).where(PrivateKeyRecord.spki_sha256 == spki)) if spki else None
        if record is None:
            return None
        return keys.from_pem(self._ctx.sealer.open(record.sealed, aad=f"cert_keys:{record.id}"))

    def export(self, actor: Actor, entry_id: uuid.UUID, *, fmt: str | None = None, with_key: bool = False,
               with_chain: bool = True, password: str | None = None,
               version_id: uuid.UUID | None = None) -> export.ExportFile:
        require(actor, Permission.CERTIFICATES_EXPORT)
        if with_key:
            require(actor, Permission.KEYS_VIEW)
        # Left out: the keystore type and password the certificate was requested with (e.g. via ACME).
        fmt, password, recorded_password = export.with_defaults(self._ctx, entry_id, fmt, password)
        export.check_request(fmt, with_key, password)
        entry = self._entry(entry_id)
        version = next((v for v in entry.versions if v.id == version_id), None) if version_id else entry.current
        if version is None:
            raise InvalidInput(f"certificate {entry_id} has no such version" if version_id else
                               f"certificate {entry_id} has no signed certificate yet (its CSR is pending)")
        key = None
        if with_key:
            record = self._s.scalar(select(PrivateKeyRecord).where(PrivateKeyRecord.spki_sha256 == version.spki_sha256))
            if record is None:
                raise InvalidInput(f"certificate {entry.common_name} has no stored private key; export without the key")
            key = keys.from_pem(self._ctx.sealer.open(record.sealed, aad=f"cert_keys:{record.id}"))
        cert = x509.load_der_x509_certificate(version.der)
        chain = self.chain(actor, version) if with_chain else []
        result = export.build(fmt, entry.common_name or "certificate", cert, chain, key, password)
        self._ctx.audit.record(actor, "certificate.export", target_type="certificate", target_id=entry.id,
                               details={"format": fmt, "with_key": with_key, "with_chain": with_chain,
                                        "fingerprint": version.fingerprint_sha256,
                                        "as_requested": recorded_password})
        return result

    # ---- CSR -----------------------------------------------------------------------------------
    def create_request(self, actor: Actor, spec: csr.CsrSpec, *, tags: list[str] | None = None,
                       owner: str | None = None) -> tuple[CertificateEntry, bytes]:
        """Generate a key (stored sealed) and a CSR in a pending entry; return the entry and CSR PEM."""
        require(actor, Permission.CERTIFICATES_WRITE)
        tag_values = clean_tags(tags)
        if owner is not None:
            owner = check_name(owner.strip(), "owner", 255, min_length=0) or None
        request, key = csr.build(spec)
        csr_pem = csr.to_pem(request)
        spki = x509info.spki_sha256(key.public_key())
        self._store.store_keys([key], origin="generated")
        names = x509info.entry_names(spec.common_name, list(spec.sans))
        algorithm, size = keys.describe(key)
        entry = CertificateEntry(status="pending", common_name=spec.common_name.strip(),
                                 names_key=x509info.names_key(names), key_algorithm=algorithm, key_size=size,
                                 managed=True, source="csr", owner=owner)
        self._s.add(entry)
        self._s.flush()
        self._s.execute(insert(CertificateName), name_rows(entry.id, names))
        self._s.add(CertificateRequest(entry_id=entry.id, spki_sha256=spki, csr_pem=csr_pem.decode(),
                                       key_spec=spec.key_spec, hash_name=spec.hash_name))
        self._set_tags(entry.id, tag_values)
        self._ctx.audit.record(actor, "certificate.csr", target_type="certificate", target_id=entry.id,
                               details={"cn": spec.common_name, "sans": list(spec.sans), "key": spec.key_spec,
                                        "hash": spec.hash_name})
        return self._entry(entry.id), csr_pem

    # ---- changes -------------------------------------------------------------------------------
    def update(self, actor: Actor, entry_id: uuid.UUID, *, tags: list[str] | None = None,
               owner: str | None = None, managed: bool | None = None) -> CertificateEntry:
        """Set tags (replacing them), the owner, or adopt (managed=True) / release an entry."""
        require(actor, Permission.CERTIFICATES_WRITE)
        entry = self._entry(entry_id)
        changes: dict[str, Any] = {}
        if tags is not None:
            values = clean_tags(tags)
            self._s.execute(delete(CertificateTag).where(CertificateTag.entry_id == entry_id))
            self._set_tags(entry_id, values)
            changes["tags"] = list(values)
        if owner is not None:
            entry.owner = check_name(owner.strip(), "owner", 255, min_length=0) or None
            changes["owner"] = entry.owner
        if managed is not None:
            entry.managed = managed
            changes["managed"] = managed
        action = "certificate.adopt" if managed else "certificate.update"
        self._ctx.audit.record(actor, action, target_type="certificate", target_id=entry_id, details=changes)
        self._s.flush()
        self._s.expire(entry, ["tag_rows"])
        return entry

    def _set_tags(self, entry_id: uuid.UUID, tags: tuple[str, ...]) -> None:
        if tags:
            self._s.execute(insert(CertificateTag), [{"entry_id": entry_id, "tag": t} for t in tags])

    def delete(self, actor: Actor, entry_id: uuid.UUID) -> None:
        require(actor, Permission.CERTIFICATES_WRITE)
        entry = self._entry(entry_id)
        self._ctx.audit.record(actor, "certificate.delete", target_type="certificate", target_id=entry_id,
                               details={"common_name": entry.common_name})
        self._s.delete(entry)
        self._s.flush()

    # ---- dashboard and metrics ----------------------------------------------------------------
    def expiry_summary(self, actor: Actor) -> dict[str, Any]:
        """Counts for the dashboard: total, expired, within_7/30/90 and weeks=[{start,label,count}]."""
        require(actor, Permission.CERTIFICATES_READ)
        return reports.expiry_summary(self._s, self._ctx.now())

    def counts_by_state(self) -> dict[tuple[str, bool], int]:
        """(expired|expiring|valid, managed) -> count, for metrics (no actor: read-only aggregates)."""
        return reports.counts_by_state(self._s, self._ctx.now())
