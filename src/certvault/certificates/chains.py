"""Assemble a certificate's chain from the CA certificates the inventory has seen."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from certvault.certificates.models import IssuerCertificate
from certvault.certificates.store import subject_hash

MAX_DEPTH = 8


def find_issuer(session: Session, issuer_dn: str, aki: str | None) -> IssuerCertificate | None:
    """The CA certificate whose SKI is `aki` (preferred) or whose subject is `issuer_dn`."""
    stmt = select(IssuerCertificate).order_by(IssuerCertificate.not_after.desc()).limit(1)
    if aki:
        found = session.scalars(stmt.where(IssuerCertificate.ski == aki)).first()
        if found is not None:
            return found
    return session.scalars(stmt.where(IssuerCertificate.subject_hash == subject_hash(issuer_dn),
                                      IssuerCertificate.subject == issuer_dn)).first()


def chain_for(session: Session, issuer_dn: str, aki: str | None,
              subject_dn: str | None = None) -> list[IssuerCertificate]:
    """Issuing CA first, up to the root when it is known. Stops at loops and self-signed CAs."""
    chain: list[IssuerCertificate] = []
    seen: set[str] = set()
    if subject_dn is not None and subject_dn == issuer_dn and aki is None:
        return chain  # the certificate is self-signed: it is its own chain
    current = find_issuer(session, issuer_dn, aki)
    while current is not None and current.fingerprint_sha256 not in seen and len(chain) < MAX_DEPTH:
        chain.append(current)
        seen.add(current.fingerprint_sha256)
        if current.self_signed:
            break
        current = find_issuer(session, current.issuer, current.aki)
    return chain
