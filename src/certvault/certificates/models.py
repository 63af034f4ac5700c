"""Inventory tables.

An entry is one certificate slot (a set of names) whose current version is denormalised onto it
(`not_after`, issuer, key type) so list and expiry queries never touch the versions. Names and
tags live in their own indexed tables for search at a million rows.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from certvault.db.base import Base, JSONType, Timestamps, UTCDateTime, UUIDPrimaryKey, utcnow


class CertificateEntry(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "cert_entries"

    status: Mapped[str] = mapped_column(String(16), default="active")  # active | pending (CSR only)
    common_name: Mapped[str] = mapped_column(String(255), default="")
    names_key: Mapped[str] = mapped_column(String(40))  # renewals are found through cert_names (see store.py)
    issuer_cn: Mapped[str] = mapped_column(String(255), default="")
    key_algorithm: Mapped[str] = mapped_column(String(16), default="")
    key_size: Mapped[int] = mapped_column(Integer, default=0)
    not_after: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    current_version_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    managed: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(32), default="import")
    owner: Mapped[str | None] = mapped_column(String(255), nullable=True)

    versions: Mapped[list[CertificateVersion]] = relationship(
        back_populates="entry", order_by="CertificateVersion.not_after.desc()", cascade="all, delete-orphan"
    )
    tag_rows: Mapped[list[CertificateTag]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    name_rows: Mapped[list[CertificateName]] = relationship(cascade="all, delete-orphan")

    __table_args__ = (Index("ix_cert_entries_not_after_id", "not_after", "id"),
                      Index("ix_cert_entries_common_name_id", "common_name", "id"),  # the list sorted by name
                      Index("ix_cert_entries_created_at_id", "created_at", "id"),  # ... by date added
                      Index("ix_cert_entries_status", "status"))  # the dashboard's count of pending CSRs

    @property
    def tags(self) -> list[str]:
        return sorted(t.tag for t in self.tag_rows)

    @property
    def current(self) -> CertificateVersion | None:
        return next((v for v in self.versions if v.id == self.current_version_id), None)


class CertificateVersion(UUIDPrimaryKey, Base):
    __tablename__ = "cert_versions"

    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cert_entries.id", ondelete="CASCADE"), index=True)
    fingerprint_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    spki_sha256: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(Text)
    common_name: Mapped[str] = mapped_column(String(255), default="")
    issuer: Mapped[str] = mapped_column(Text)
    issuer_cn: Mapped[str] = mapped_column(String(255), default="")
    serial: Mapped[str] = mapped_column(String(64))
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    key_algorithm: Mapped[str] = mapped_column(String(16))
    key_size: Mapped[int] = mapped_column(Integer)
    signature_algorithm: Mapped[str] = mapped_column(String(64))
    sans: Mapped[list[str]] = mapped_column(JSONType, default=list)
    aki: Mapped[str | None] = mapped_column(String(128), nullable=True)
    der: Mapped[bytes] = mapped_column(LargeBinary)
    source: Mapped[str] = mapped_column(String(32), default="import")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    entry: Mapped[CertificateEntry] = relationship(back_populates="versions")


class IssuerCertificate(UUIDPrimaryKey, Base):
    """A CA certificate seen in a chain; chains are assembled from these by SKI/AKI and names."""

    __tablename__ = "cert_issuers"

    fingerprint_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    subject: Mapped[str] = mapped_column(Text)
    issuer: Mapped[str] = mapped_column(Text)
    common_name: Mapped[str] = mapped_column(String(255), default="")
    ski: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    aki: Mapped[str | None] = mapped_column(String(128), nullable=True)
    subject_hash: Mapped[str] = mapped_column(String(64), index=True)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    self_signed: Mapped[bool] = mapped_column(Boolean, default=False)
    der: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CertificateName(Base):
    """A DNS name, IP or e-mail of an entry's current version. `name_rev` (the name reversed) is the one
    index: exact names, suffixes (wildcards, subdomains) and substrings are all looked up through it,
    because every random-key index costs about one page write per imported certificate."""

    __tablename__ = "cert_names"

    entry_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cert_entries.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    name_rev: Mapped[str] = mapped_column(String(255), index=True)


class CertificateTag(Base):
    __tablename__ = "cert_tags"

    entry_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("cert_entries.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)

    __table_args__ = (Index("ix_cert_tags_tag", "tag"),)


class PrivateKeyRecord(UUIDPrimaryKey, Base):
    """A private key, sealed. It belongs to every version whose SPKI hash equals its own."""

    __tablename__ = "cert_keys"

    spki_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    key_algorithm: Mapped[str] = mapped_column(String(16))
    key_size: Mapped[int] = mapped_column(Integer)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    origin: Mapped[str] = mapped_column(String(16), default="imported")  # imported | generated | issued
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CertificateRequest(UUIDPrimaryKey, Base):
    """A CSR generated here, waiting for (or answered by) an externally signed certificate."""

    __tablename__ = "cert_requests"

    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cert_entries.id", ondelete="CASCADE"), index=True)
    spki_sha256: Mapped[str] = mapped_column(String(64), index=True)
    csr_pem: Mapped[str] = mapped_column(Text)
    key_spec: Mapped[str] = mapped_column(String(16))
    hash_name: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    fulfilled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Sighting(UUIDPrimaryKey, Base):
    """Where a certificate was served: one row per endpoint (IP, port, SNI)."""

    __tablename__ = "cert_sightings"

    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cert_entries.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    ip: Mapped[str] = mapped_column(String(64))
    port: Mapped[int] = mapped_column(Integer)
    sni: Mapped[str] = mapped_column(String(255), default="")
    source: Mapped[str] = mapped_column(String(32), default="discovery")
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("ip", "port", "sni", name="uq_cert_sightings_endpoint"),)
