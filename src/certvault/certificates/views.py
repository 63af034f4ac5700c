"""Build the shapes every edge shows (API, CLI --json, web pages) from the service."""

from __future__ import annotations

import uuid

from certvault.auth.rbac import Actor
from certvault.certificates.importing import FileResult
from certvault.certificates.schemas import (
    ChainCertOut,
    EntryDetail,
    EntryOut,
    ImportReportOut,
    SightingOut,
    VersionOut,
)
from certvault.certificates.service import CertificateService
from certvault.crypto import x509info


def detail(service: CertificateService, actor: Actor, entry_id: uuid.UUID) -> EntryDetail:
    entry = service.get(actor, entry_id)
    base = EntryOut.model_validate(entry).model_dump()
    versions = []
    for version in entry.versions:
        out = VersionOut.model_validate(version)
        out.current = version.id == entry.current_version_id
        out.has_key = service.has_key(version)
        versions.append(out)
    current = next((v for v in versions if v.current), None)
    chain = []
    if entry.current is not None:
        for cert in service.chain(actor, entry.current):
            chain.append(ChainCertOut(subject=cert.subject.rfc4514_string(), issuer=cert.issuer.rfc4514_string(),
                                      fingerprint_sha256=x509info.fingerprint(cert),
                                      not_after=cert.not_valid_after_utc))
    names = service.names(actor, entry.id)
    request = service.request_of(actor, entry.id) if entry.status == "pending" else None
    return EntryDetail(**base, names=names, current=current, versions=versions, chain=chain,
                       seen=[SightingOut.model_validate(s) for s in service.sightings(actor, entry.id)],
                       csr_pem=request.csr_pem if request else None)


def import_report(results: list[FileResult]) -> ImportReportOut:
    return ImportReportOut(files=results, imported=sum(1 for f in results if f.ok),
                           failed=sum(1 for f in results if not f.ok))
