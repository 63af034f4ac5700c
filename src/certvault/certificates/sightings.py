"""Where certificates were seen: the chains servers present to discovery and scans, stored in bulk.

A batch of observations costs a few statements whatever its size: the chains' CA certificates and
leaves go through the store's batched write path, the version ids come back in one query, and the
endpoints are upserted with one INSERT ... ON CONFLICT executemany.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from sqlalchemy import bindparam, func, select

from certvault.certificates.models import CertificateVersion, Sighting
from certvault.certificates.store import CHUNK, InventoryStore, Leaf, new_id
from certvault.context import ServiceContext
from certvault.crypto import readers, x509info
from certvault.db import dialect
from certvault.db.base import table_of
from certvault.errors import CertvaultError, InvalidInput


@dataclass(frozen=True)
class Observation:
    """A chain a server presented at (ip, port, sni); `host` is the name it was reached by, if any."""

    chain_pem: bytes
    host: str | None
    ip: str
    port: int
    sni: str | None = None
    source: str = "discovery"

    @property
    def label(self) -> str:
        return f"{self.host or self.ip}:{self.port}"


@dataclass(frozen=True)
class Seen:
    """What became of one observation: the entry it was recorded on, or why it was refused."""

    entry_id: uuid.UUID | None
    error: str | None = None


@dataclass
class _Parsed:
    leaf: Leaf
    issuers: list[x509.Certificate]


_VERSION_IDS = select(CertificateVersion.fingerprint_sha256, CertificateVersion.id).where(
    CertificateVersion.fingerprint_sha256.in_(bindparam("values", expanding=True)))
_SIGHTINGS = table_of(Sighting)


def parse(observation: Observation) -> _Parsed:
    """The leaf (first certificate) and the CA certificates of a chain; InvalidInput when unusable."""
    bundle = readers.read_bundle(observation.chain_pem, observation.label)
    if not bundle.certificates:
        raise InvalidInput(f"{observation.label}: the server sent no certificate")
    leaf_cert, rest = bundle.certificates[0], bundle.certificates[1:]
    leaf = Leaf(x509info.describe(leaf_cert), x509info.der(leaf_cert), observation.source, (), False)
    return _Parsed(leaf, [c for c in rest if _is_ca(c)])


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except (x509.ExtensionNotFound, ValueError):  # absent, or malformed (as describe() treats it)
        return False


class SightingStore:
    def __init__(self, ctx: ServiceContext, store: InventoryStore) -> None:
        self._ctx = ctx
        self._s = ctx.session
        self._store = store

    def record(self, observations: list[Observation], parsed: list[_Parsed | CertvaultError] | None = None
               ) -> list[Seen]:
        """Store every usable chain and where it was seen; a refused chain changes nothing."""
        parsed = parsed if parsed is not None else [_parse_or_error(o) for o in observations]
        good = [(o, p) for o, p in zip(observations, parsed, strict=True) if isinstance(p, _Parsed)]
        issuers = {x509info.fingerprint(c): c for _, p in good for c in p.issuers}
        self._store.store_issuers(list(issuers.values()))
        outcome = self._store.store_leaves([p.leaf for _, p in good])
        versions = self._version_ids(list(outcome.entries))
        rows: dict[tuple[str, int, str], dict[str, Any]] = {}
        now = self._ctx.now()
        for observation, item in good:
            fingerprint = item.leaf.info.fingerprint_sha256
            key = (observation.ip, observation.port, observation.sni or "")
            rows[key] = {"id": new_id(), "entry_id": outcome.entries[fingerprint], "version_id": versions[fingerprint],
                         "host": observation.host, "ip": observation.ip, "port": observation.port,
                         "sni": observation.sni or "", "source": observation.source, "first_seen": now,
                         "last_seen": now}
        if rows:
            self._upsert(list(rows.values()))
        return [Seen(outcome.entries[p.leaf.info.fingerprint_sha256]) if isinstance(p, _Parsed)
                else Seen(None, p.message) for p in parsed]

    def _version_ids(self, fingerprints: list[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for start in range(0, len(fingerprints), CHUNK):
            found.update({fp: version_id for fp, version_id in self._s.execute(
                _VERSION_IDS, {"values": fingerprints[start:start + CHUNK]})})
        return found

    def _upsert(self, rows: list[dict[str, Any]]) -> None:
        """New endpoints are inserted; known ones take the new entry, version and last_seen (first_seen
        stays, a known host name is kept when this observation has none)."""
        stmt = dialect.upsert(self._s, _SIGHTINGS)
        stmt = stmt.on_conflict_do_update(
            index_elements=["ip", "port", "sni"],
            set_={"entry_id": stmt.excluded.entry_id, "version_id": stmt.excluded.version_id,
                  "last_seen": stmt.excluded.last_seen, "source": stmt.excluded.source,
                  "host": func.coalesce(stmt.excluded.host, _SIGHTINGS.c.host)})
        for start in range(0, len(rows), CHUNK):
            self._s.execute(stmt, rows[start:start + CHUNK])


def _parse_or_error(observation: Observation) -> _Parsed | CertvaultError:
    try:
        return parse(observation)
    except CertvaultError as exc:
        return exc
