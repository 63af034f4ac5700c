"""Operate the internal CA: create it on first use, issue server and client certificates."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select
from sqlalchemy.orm import Session

from certvault.audit.service import AuditLog
from certvault.auth.rbac import Actor, Permission, require
from certvault.crypto import issuing, keys, pkcs12
from certvault.db.base import utcnow
from certvault.errors import InvalidInput, NotFound
from certvault.keyring.service import Sealer
from certvault.pki.models import CaAuthority, CaIssued

ROOT_DAYS, INTERMEDIATE_DAYS = 3650, 1825
MAX_LEAF_DAYS = 825


@dataclass
class SignedCsr:
    """A certificate the CA signed for a key it never saw (an agent's CSR)."""

    certificate: x509.Certificate
    chain: list[x509.Certificate]  # issuing intermediate, then root
    record: CaIssued

    @property
    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def chain_pem(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)


@dataclass
class IssuedBundle(SignedCsr):
    """A certificate the CA issued together with its key."""

    key: keys.SigningKey

    def key_pem(self, password: bytes | None = None) -> bytes:
        return keys.to_pem(self.key, password)

    def pkcs12(self, password: str) -> bytes:
        return pkcs12.export(self.record.common_name, self.key, self.certificate, self.chain, password)


class PkiService:
    def __init__(self, session: Session, sealer: Sealer, audit: AuditLog,
                 on_issued: Callable[[Actor, IssuedBundle], None] | None = None) -> None:
        self._s = session
        self._sealer = sealer
        self._audit = audit
        self._on_issued = on_issued

    # ---- the CA itself -----------------------------------------------------------------------
    def ensure_ca(self) -> CaAuthority:
        """Create the root and issuing intermediate on first use; return the issuing CA."""
        issuing_ca = self._active("intermediate")
        if issuing_ca is not None:
            return issuing_ca
        root = self._active("root") or self._create_root()
        root_cert = x509.load_pem_x509_certificate(root.cert_pem.encode())
        key = keys.generate("ec256")
        cert = issuing.sign(
            subject=issuing.name("certvault Issuing CA"), public_key=key.public_key(),
            issuer=root_cert.subject, issuer_key=self._key(root), profile=issuing.INTERMEDIATE,
            days=INTERMEDIATE_DAYS, hash_name="sha384", issuer_cert=root_cert,
        )
        return self._store_authority("certvault Issuing CA", "intermediate", cert, key, root)

    def _create_root(self) -> CaAuthority:
        key = keys.generate("ec384")
        subject = issuing.name("certvault Root CA")
        cert = issuing.sign(subject=subject, public_key=key.public_key(), issuer=subject, issuer_key=key,
                            profile=issuing.ROOT, days=ROOT_DAYS, hash_name="sha384")
        return self._store_authority("certvault Root CA", "root", cert, key, None)

    def _store_authority(self, name: str, kind: str, cert: x509.Certificate, key: keys.SigningKey,
                         parent: CaAuthority | None) -> CaAuthority:
        row = CaAuthority(name=name, kind=kind, parent_id=parent.id if parent else None,
                          cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
                          key_sealed=b"", not_after=cert.not_valid_after_utc)
        self._s.add(row)
        self._s.flush()
        row.key_sealed = self._sealer.seal(keys.to_pem(key), aad=f"ca:{row.id}")
        self._audit.record(Actor.system("internal-ca"), "ca.create", target_type="ca", target_id=row.id,
                           details={"name": name, "kind": kind})
        return row

    def _active(self, kind: str) -> CaAuthority | None:
        return self._s.scalar(
            select(CaAuthority).where(CaAuthority.kind == kind, CaAuthority.active.is_(True))
            .order_by(CaAuthority.created_at.desc()).limit(1)
        )

    def _key(self, authority: CaAuthority) -> keys.SigningKey:
        key = keys.from_pem(self._sealer.open(authority.key_sealed, aad=f"ca:{authority.id}"))
        return key  # type: ignore[return-value]

    def root_pem(self) -> str:
        self.ensure_ca()
        root = self._active("root")
        assert root is not None
        return root.cert_pem

    def chain(self) -> list[x509.Certificate]:
        issuing_ca = self.ensure_ca()
        root = self._s.get(CaAuthority, issuing_ca.parent_id)
        assert root is not None
        return [x509.load_pem_x509_certificate(a.cert_pem.encode()) for a in (issuing_ca, root)]

    # ---- issuance ----------------------------------------------------------------------------
    def issue_server(self, actor: Actor, hostnames: list[str], days: int = 397,
                     key_spec: str = "ec256") -> IssuedBundle:
        require(actor, Permission.CA_ISSUE)
        if not hostnames:
            raise InvalidInput("a server certificate needs at least one host name")
        return self._issue(actor, issuing.SERVER, "server", hostnames[0], hostnames, days, key_spec)

    def issue_client(self, actor: Actor, common_name: str, dns_names: list[str] | None = None,
                     days: int = 365, key_spec: str = "rsa2048") -> IssuedBundle:
        require(actor, Permission.CA_ISSUE)
        if not common_name.strip():
            raise InvalidInput("a client certificate needs a common name (--cn)")
        if len(common_name.strip().encode()) > 64:  # X.520 ub-common-name, counted in UTF-8 bytes
            raise InvalidInput("the common name is longer than 64 bytes")
        return self._issue(actor, issuing.CLIENT, "client", common_name.strip(), dns_names or [], days,
                           key_spec)

    def sign_client_csr(self, actor: Actor, csr_pem: bytes, name: str, lifetime: timedelta) -> SignedCsr:
        """A client certificate for a key held elsewhere (a certvault agent): CN and SAN DNS are `name`, kept
        exactly as given; the CSR proves the key and nothing more (its subject and extensions are ignored)."""
        require(actor, Permission.CA_ISSUE)
        try:
            csr = x509.load_pem_x509_csr(csr_pem)
        except ValueError:
            raise InvalidInput("the certificate signing request is not a PEM CSR") from None
        if not csr.is_signature_valid:
            raise InvalidInput("the certificate signing request's signature does not verify")
        if not timedelta(minutes=1) <= lifetime <= timedelta(days=MAX_LEAF_DAYS):
            raise InvalidInput(f"lifetime must be between one minute and {MAX_LEAF_DAYS} days")
        ca = self.ensure_ca()
        chain = self.chain()
        cert = issuing.sign(subject=issuing.name(name), public_key=csr.public_key(), issuer=chain[0].subject,
                            issuer_key=self._key(ca), profile=issuing.CLIENT, days=1, sans=[name],
                            issuer_cert=chain[0], not_after=datetime.now(UTC) + lifetime)
        record = CaIssued(authority_id=ca.id, serial=format(cert.serial_number, "x"), profile="client",
                          common_name=name, sans=[name], not_after=cert.not_valid_after_utc,
                          cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
                          issued_by=actor.name, details={"csr": True})
        self._s.add(record)
        self._s.flush()
        self._audit.record(actor, "ca.issue", target_type="ca_certificate", target_id=record.id,
                           details={"profile": "client", "cn": name, "sans": [name], "serial": record.serial,
                                    "csr": True})
        return SignedCsr(cert, chain, record)

    def _issue(self, actor: Actor, profile: issuing.Profile, kind: str, cn: str, sans: list[str],
               days: int, key_spec: str) -> IssuedBundle:
        if not 1 <= days <= MAX_LEAF_DAYS:
            raise InvalidInput(f"lifetime must be between 1 and {MAX_LEAF_DAYS} days")
        ca = self.ensure_ca()
        chain = self.chain()
        key = keys.generate(key_spec)
        cert = issuing.sign(subject=issuing.name(cn), public_key=key.public_key(), issuer=chain[0].subject,
                            issuer_key=self._key(ca), profile=profile, days=days, sans=sans,
                            issuer_cert=chain[0])
        record = CaIssued(authority_id=ca.id, serial=format(cert.serial_number, "x"), profile=kind,
                          common_name=cn, sans=sans, not_after=cert.not_valid_after_utc,
                          cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
                          issued_by=actor.name)
        self._s.add(record)
        self._s.flush()
        self._audit.record(actor, "ca.issue", target_type="ca_certificate", target_id=record.id,
                           details={"profile": kind, "cn": cn, "sans": sans, "days": days,
                                    "serial": record.serial})
        bundle = IssuedBundle(cert, chain, record, key)
        if self._on_issued is not None:
            self._on_issued(actor, bundle)
        return bundle

    def list_issued(self, actor: Actor, profile: str | None = None) -> list[CaIssued]:
        require(actor, Permission.CA_READ)
        stmt = select(CaIssued).order_by(CaIssued.created_at.desc())
        if profile:
            stmt = stmt.where(CaIssued.profile == profile)
        return list(self._s.scalars(stmt))

    def revoke(self, actor: Actor, serial: str, reason: int = 0) -> CaIssued:
        require(actor, Permission.CA_ISSUE)
        record = self._s.scalar(select(CaIssued).where(CaIssued.serial == serial.lower()))
        if record is None:
            raise NotFound(f"no certificate with serial {serial} was issued by the internal CA")
        record.revoked_at, record.revocation_reason = utcnow(), reason
        self._audit.record(actor, "ca.revoke", target_type="ca_certificate", target_id=record.id,
                           details={"serial": record.serial, "reason": reason})
        return record

    def is_revoked(self, serial: int) -> bool:
        record = self._s.scalar(select(CaIssued).where(CaIssued.serial == format(serial, "x")))
        return record is not None and record.revoked_at is not None

    def expires(self) -> datetime | None:
        ca = self._active("intermediate")
        return ca.not_after if ca else None
