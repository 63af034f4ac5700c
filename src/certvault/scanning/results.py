"""Storing results: the endpoint row (latest state denormalised), the history row, the current findings,
change events against the previous reachable result (history rows, and domain events for the consumers),
and the served chain in the inventory."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from certvault.auth.rbac import Actor
from certvault.certificates.sightings import Observation, Seen
from certvault.db.base import utcnow
from certvault.errors import CertvaultError
from certvault.events.outbox import EventOutbox
from certvault.scanning.events import publish_changes
from certvault.scanning.findings import Change, Snapshot, changes, parse_not_after, snapshot
from certvault.scanning.models import ScanEndpoint, ScanEvent, ScanFinding, ScanResult

log = logging.getLogger("certvault.scanning")

# record_seen_many(observations) -> one Seen (entry id or refusal) per observation
RecordSeenMany = Callable[[list[Observation]], list[Seen]]
INVENTORY_REFRESH = timedelta(hours=12)
PREFETCH = 200  # endpoints read per query when storing a batch


def _key(host: str, ip: str, port: int, sni: str | None) -> tuple[str, str, int, str]:
    return host, ip, port, sni or ""


def endpoint_identity(result: dict[str, Any]) -> tuple[str, str, int, str | None]:
    target = result.get("target") or {}
    host = str(target.get("host") or target.get("ip") or "").strip().lower()
    ip = str(target.get("ip") or "")
    sni = target.get("sni") or None
    return host, ip, int(target.get("port") or 0), sni


class ResultRecorder:
    def __init__(self, session: Session, record_seen_many: RecordSeenMany | None,
                 outbox: EventOutbox | None = None) -> None:
        self._session = session
        self._record_seen_many = record_seen_many
        self._outbox = outbox  # the changes also go to the domain-event outbox (scanning/events.py)
        self._endpoints: dict[tuple[str, str, int, str], ScanEndpoint] = {}
        self._previous: dict[uuid.UUID, dict[str, Any]] = {}
        self._seen: list[Observation] = []  # chains for the inventory, recorded once per batch

    def store_many(self, actor: Actor, results: list[dict[str, Any]], run_id: uuid.UUID | None) -> list[ScanResult]:
        """Store a batch: endpoints and previous results are read in a few queries, not per result, and
        the served chains go to the inventory in one call."""
        for start in range(0, len(results), PREFETCH):
            self._prefetch(results[start:start + PREFETCH])
        rows = [self.store(actor, result, run_id)[0] for result in results]
        self.flush_inventory()
        return rows

    def store(self, actor: Actor, result: dict[str, Any],
              run_id: uuid.UUID | None) -> tuple[ScanResult, list[ScanEvent]]:
        """Add one result to its endpoint's history and record what changed since the last one."""
        endpoint = self._endpoint_for(result)
        current = snapshot(result)
        previous = self._previous_snapshot(endpoint)
        was_unreachable = endpoint.status == "unreachable"
        row = ScanResult(
            id=uuid.uuid4(), endpoint_id=endpoint.id, run_id=run_id, scanned_at=utcnow(), reachable=current.reachable,
            grade=current.grade, cert_fingerprint=current.certificate.fingerprint if current.certificate else None,
            findings=sorted(current.findings), duration_ms=int(result.get("duration_ms") or 0),
            connections=int(result.get("connections") or 0), result=result,
        )
        self._session.add(row)
        self._session.flush()  # no ORM relationships order the inserts: the result goes before its events
        events = [self._event(endpoint, row, change) for change in changes(previous, current, was_unreachable)]
        if events and self._outbox is not None:
            publish_changes(self._outbox, endpoint, row.id, events)
        if current.reachable and result.get("chain_pem") and self._inventory_is_stale(endpoint, current, row):
            self._queue_for_inventory(result)  # recorded by flush_inventory (a refused chain is not retried)
            endpoint.inventory_seen_at = row.scanned_at
        self._update_endpoint(endpoint, row, current, result)
        if current.reachable:
            self._previous[row.id] = result
        return row, events

    def _inventory_is_stale(self, endpoint: ScanEndpoint, current: Snapshot, row: ScanResult) -> bool:
        """Report a chain when it is new here, or when the inventory's 'last seen' is half a day old.
        Recording is the costliest part of storing a result, and rescans mostly see the same chain."""
        fingerprint = current.certificate.fingerprint if current.certificate else None
        return (endpoint.inventory_seen_at is None or fingerprint != endpoint.cert_fingerprint
                or row.scanned_at - endpoint.inventory_seen_at > INVENTORY_REFRESH)

    # ---- endpoint --------------------------------------------------------------------------------
    def _prefetch(self, results: list[dict[str, Any]]) -> None:
        keys = {_key(*endpoint_identity(r)) for r in results} - set(self._endpoints)
        if not keys:
            return
        stmt = select(ScanEndpoint).where(tuple_(ScanEndpoint.host, ScanEndpoint.ip, ScanEndpoint.port,
                                                 ScanEndpoint.sni_key).in_(list(keys)))
        for endpoint in self._session.scalars(stmt.with_for_update()):  # consecutive results compare in order
            self._endpoints[_key(endpoint.host, endpoint.ip, endpoint.port, endpoint.sni)] = endpoint
        wanted = [e.last_good_result_id for e in self._endpoints.values()
                  if e.last_good_result_id is not None and e.last_good_result_id not in self._previous]
        if wanted:
            rows = self._session.execute(select(ScanResult.id, ScanResult.result).where(ScanResult.id.in_(wanted)))
            self._previous.update({row_id: result for row_id, result in rows})
        self._insert_new(keys - set(self._endpoints))

    def _insert_new(self, keys: set[tuple[str, str, int, str]]) -> None:
        """New endpoints in one statement; if another worker raced us, the per-result path sorts it out."""
        created = [ScanEndpoint(id=uuid.uuid4(), host=host, ip=ip, port=port, sni=sni or None, sni_key=sni,
                                status="new", protocols=[], findings=[], first_seen_at=utcnow())
                   for host, ip, port, sni in keys]
        if not created:
            return
        try:
            with self._session.begin_nested():
                self._session.add_all(created)
        except IntegrityError:
            return
        self._endpoints.update({_key(e.host, e.ip, e.port, e.sni): e for e in created})

    def _endpoint_for(self, result: dict[str, Any]) -> ScanEndpoint:
        host, ip, port, sni = endpoint_identity(result)
        cached = self._endpoints.get(_key(host, ip, port, sni))
        if cached is not None:
            return cached
        found = self._find_endpoint(host, ip, port, sni)
        if found is not None:
            return found
        endpoint = ScanEndpoint(id=uuid.uuid4(), host=host, ip=ip, port=port, sni=sni, sni_key=sni or "",
                                status="new", protocols=[], findings=[])
        try:
            with self._session.begin_nested():  # another worker may insert the same endpoint first
                self._session.add(endpoint)
        except IntegrityError:
            found = self._find_endpoint(host, ip, port, sni)
            if found is None:
                raise
            return found
        self._endpoints[_key(host, ip, port, sni)] = endpoint
        return endpoint

    def _find_endpoint(self, host: str, ip: str, port: int, sni: str | None) -> ScanEndpoint | None:
        stmt = select(ScanEndpoint).where(
            ScanEndpoint.host == host, ScanEndpoint.ip == ip, ScanEndpoint.port == port,
            ScanEndpoint.sni_key == (sni or ""),
        ).with_for_update()  # consecutive results of one endpoint are compared in order
        return self._session.scalar(stmt)

    def _previous_snapshot(self, endpoint: ScanEndpoint) -> Snapshot | None:
        if endpoint.last_good_result_id is None:
            return None
        result = self._previous.get(endpoint.last_good_result_id)
        if result is None:
            previous = self._session.get(ScanResult, endpoint.last_good_result_id)
            result = previous.result if previous is not None else None
        return snapshot(result) if result is not None else None

    def _update_endpoint(self, endpoint: ScanEndpoint, row: ScanResult, current: Snapshot,
                         result: dict[str, Any]) -> None:
        endpoint.latest_result_id = row.id
        endpoint.last_scanned_at = row.scanned_at
        target = result.get("target") or {}
        endpoint.starttls = target.get("starttls") or endpoint.starttls
        if not current.reachable:
            endpoint.status = "unreachable"
            endpoint.last_error = "; ".join(current.errors)[:2000] or "unreachable"
            return
        endpoint.status = "ok"
        endpoint.last_error = "; ".join(current.errors)[:2000] or None
        endpoint.last_good_result_id = row.id
        endpoint.grade = current.grade
        endpoint.protocols = list(current.protocols)
        endpoint.weak_cipher_count = len(current.weak_ciphers)
        cert = current.certificate
        endpoint.cert_fingerprint = cert.fingerprint if cert else None
        endpoint.cert_subject = cert.subject if cert else None
        endpoint.cert_not_after = parse_not_after(cert.not_after) if cert else None
        if set(endpoint.findings or []) != set(current.findings):
            self._replace_findings(endpoint, current.findings)
        endpoint.findings = sorted(current.findings)

    def _replace_findings(self, endpoint: ScanEndpoint, findings: frozenset[str]) -> None:
        self._session.execute(delete(ScanFinding).where(ScanFinding.endpoint_id == endpoint.id))
        self._session.add_all(ScanFinding(endpoint_id=endpoint.id, name=name) for name in sorted(findings))

    def _event(self, endpoint: ScanEndpoint, row: ScanResult, change: Change) -> ScanEvent:
        details = {"host": endpoint.host, "ip": endpoint.ip, "port": endpoint.port, **change.details}
        event = ScanEvent(id=uuid.uuid4(), endpoint_id=endpoint.id, result_id=row.id, type=change.type,
                          subject=change.subject, before=change.before, after=change.after, details=details)
        self._session.add(event)
        return event

    # ---- inventory ---------------------------------------------------------------------------------
    def _queue_for_inventory(self, result: dict[str, Any]) -> None:
        if self._record_seen_many is None:
            return
        host, ip, port, sni = endpoint_identity(result)
        chain = "".join(pem if pem.endswith("\n") else pem + "\n" for pem in result["chain_pem"])
        self._seen.append(Observation(chain.encode(), None if host == ip else host, ip, port, sni, source="scan"))

    def flush_inventory(self) -> None:
        """Record the queued chains in the inventory (one call per batch). A chain the inventory refuses is
        logged and loses nothing else; a failure of the whole call must not lose the results either."""
        seen, self._seen = self._seen, []
        if not seen or self._record_seen_many is None:
            return
        try:
            with self._session.begin_nested():
                outcomes = self._record_seen_many(seen)
        except CertvaultError as exc:
            log.warning("inventory did not record %d chains seen by this batch: %s", len(seen), exc.message)
            return
        for observation, outcome in zip(seen, outcomes, strict=True):
            if outcome.error:
                log.warning("inventory did not record the chain seen at %s:%s: %s", observation.ip,
                            observation.port, outcome.error)
