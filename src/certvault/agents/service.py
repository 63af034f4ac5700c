"""Agents: one-time enrolment, mutual-TLS identity checked on every call, certificate rotation, leased jobs.

An agent holds its own key; certvault signs its CSRs with the internal CA (CN and SAN DNS = the agent's
name as given). Every agent call presents that certificate; `authenticate` accepts it only when the
internal CA issued it, it is in its validity period, neither it nor its agent is revoked, and it is one of
the agent's current certificates. While an agent rotates it has two; its first call with the new one
removes the old one.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session, aliased

from certvault.agents.models import Agent, AgentCertificate, AgentJob, EnrolmentToken
from certvault.auth.rbac import Actor, Permission, Role, require
from certvault.context import ServiceContext
from certvault.errors import Conflict, IntegrationError, InvalidInput, NotFound, Unauthenticated
from certvault.pki.models import CaIssued

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
NAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
JOB_KINDS = ("http01.place", "http01.remove", "deploy", "rollback", "tls.check", "inventory.report")
LEASE = timedelta(seconds=120)
SEEN_EVERY = timedelta(seconds=30)  # last_seen_at is written at most this often per agent (polls are frequent)
MAX_CSR_BYTES = 8192
MAX_RESULT_ITEMS = 500
SUPERSEDED = 4  # RFC 5280 CRLReason of a replaced agent certificate
_HELD = aliased(AgentCertificate)
ISSUER_TTL = 60.0
# Built once (every agent call runs them): the agent, the presented certificate, whether older ones remain
# (a rotation to finish) and whether the internal CA revoked it; then its ready jobs.
_IDENTITY = (
    select(Agent, _HELD, select(AgentCertificate.id).where(AgentCertificate.agent_id == Agent.id,
                                                           AgentCertificate.created_at < _HELD.created_at).exists(),
           CaIssued.revoked_at)
    .join(_HELD, _HELD.agent_id == Agent.id).outerjoin(CaIssued, CaIssued.serial == _HELD.serial)
    .where(_HELD.serial == bindparam("serial"))
)
_READY = (
    select(AgentJob).where(AgentJob.agent_id == bindparam("agent"), AgentJob.state.in_(("queued", "leased")),
                           AgentJob.available_at <= bindparam("now"))
    .order_by(AgentJob.created_at).limit(bindparam("limit")).with_for_update(skip_locked=True)
)
_ISSUERS: dict[str, tuple[float, x509.Certificate]] = {}


class CaSigner(Protocol):
    """What the agents need of the internal CA (PkiService)."""

    def sign_client_csr(self, actor: Actor, csr_pem: bytes, name: str, lifetime: timedelta) -> Any: ...

    def chain(self) -> list[x509.Certificate]: ...

    def revoke(self, actor: Actor, serial: str, reason: int = 0) -> Any: ...


@dataclass(frozen=True)
class AgentIdentity:
    id: uuid.UUID
    name: str
    serial: str
    not_after: datetime

    @property
    def actor(self) -> Actor:
        return Actor(name=f"agent:{self.name}", role=Role.OPERATOR, kind="service", id=self.id, via="agent")


@dataclass(frozen=True)
class Issued:
    agent: str
    cert_pem: bytes
    chain_pem: bytes
    serial: str
    not_after: datetime


@dataclass(frozen=True)
class LeasedJob:
    id: uuid.UUID
    kind: str
    payload: dict[str, Any]
    attempts: int


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_agent_name(name: str) -> str:
    if not NAME.match(name or "") or len(name) > 64:
        raise InvalidInput("agent name: 1 to 64 letters, digits, hyphens and dots, a DNS name (kept as typed)")
    return name


class AgentService:
    def __init__(self, ctx: ServiceContext, ca: CaSigner, inventory: Any) -> None:
        self._ctx = ctx
        self._s: Session = ctx.session
        self._ca = ca
        self._inventory = inventory

    # ---- enrolment ---------------------------------------------------------------------------
    def create_token(self, actor: Actor, name: str, expires_in: timedelta) -> tuple[str, EnrolmentToken]:
        """A one-time token for enrolling agent `name`; the token is shown once, only its hash is kept."""
        require(actor, Permission.CA_ISSUE)
        check_agent_name(name)
        limit = self._ctx.settings.agents.token_max_seconds
        if not timedelta(minutes=1) <= expires_in <= timedelta(seconds=limit):
            raise InvalidInput(f"--expires-in must be between 1 minute and {limit} seconds (agents.token_max_seconds)")
        agent = self._by_name(name)
        if agent is not None and agent.revoked_at is None and agent.enrolled_at is not None:
            raise Conflict(f"agent {name} is enrolled; revoke it before enrolling it again")
        token = "cvat_" + secrets.token_urlsafe(32)
        row = EnrolmentToken(agent_name=name, token_hash=token_hash(token), expires_at=self._ctx.now() + expires_in,
                             created_by=actor.name)
        self._s.add(row)
        self._s.flush()
        self._ctx.audit.record(actor, "agent.token_create", target_type="agent", target_id=name,
                               details={"expires_at": row.expires_at.isoformat()})
        return token, row

    def enroll(self, token: str, csr_pem: bytes, address: str | None, details: dict[str, str]) -> Issued:
        """Spend a token: the agent's first certificate for the key in its CSR."""
        if len(csr_pem) > MAX_CSR_BYTES or not token or len(token) > 200:
            raise InvalidInput("enrolment needs a token and a CSR of at most 8 KiB")
        row = self._s.scalar(select(EnrolmentToken).where(EnrolmentToken.token_hash == token_hash(token))
                             .with_for_update())
        now = self._ctx.now()
        if row is None or row.used_at is not None or row.expires_at <= now:
            raise Unauthenticated("the enrolment token is unknown, used or expired; create a new one")
        row.used_at = now
        agent = self._by_name(row.agent_name) or Agent(name=row.agent_name, created_by=row.created_by)
        if agent.enrolled_at is not None and agent.revoked_at is None:
            raise Conflict(f"agent {agent.name} is enrolled already")
        self._s.add(agent)
        agent.revoked_at, agent.enrolled_at, agent.last_address = None, now, address
        agent.details = _clean_details(details)
        self._s.flush()
        self._s.execute(delete(AgentCertificate).where(AgentCertificate.agent_id == agent.id))
        issued = self._sign(agent, csr_pem)
        self._ctx.audit.record(Actor.system(f"agent:{agent.name}", via="agent"), "agent.enroll", target_type="agent",
                               target_id=agent.name, details={"serial": issued.serial, "ip": address})
        return issued

    def renew(self, agent: AgentIdentity, csr_pem: bytes) -> Issued:
        """A new certificate over the agent's current mTLS session; the old one stays valid until the new one
        is first used (or it expires)."""
        if len(csr_pem) > MAX_CSR_BYTES:
            raise InvalidInput("the CSR is larger than 8 KiB")
        row = self._s.get(Agent, agent.id)
        assert row is not None
        issued = self._sign(row, csr_pem)
        self._ctx.audit.record(agent.actor, "agent.renew", target_type="agent", target_id=agent.name,
                               details={"serial": issued.serial, "previous": agent.serial})
        return issued

    def _sign(self, agent: Agent, csr_pem: bytes) -> Issued:
        lifetime = timedelta(seconds=self._ctx.settings.agents.cert_seconds)
        signed = self._ca.sign_client_csr(Actor.system("agents", via="agent"), csr_pem, agent.name, lifetime)
        self._s.add(AgentCertificate(agent_id=agent.id, serial=signed.record.serial, not_after=signed.record.not_after))
        self._s.flush()
        return Issued(agent.name, signed.cert_pem, signed.chain_pem, signed.record.serial, signed.record.not_after)

    # ---- identity on every call ---------------------------------------------------------------
    def authenticate(self, cert_der: bytes | None, address: str | None = None) -> AgentIdentity:
        if not cert_der:
            raise Unauthenticated("the agent API needs a client certificate from certvault's internal CA")
        cert = self._issued_here(cert_der)
        serial = format(cert.serial_number, "x")
        found = self._s.execute(_IDENTITY, {"serial": serial}).first()
        if found is None:
            raise Unauthenticated("this client certificate belongs to no agent (replaced or never enrolled)")
        agent, held, has_older, revoked_at_ca = found
        if agent.revoked_at is not None or revoked_at_ca is not None:
            raise Unauthenticated(f"agent {agent.name} is revoked")
        if has_older:
            self._retire_older(agent, held)
        self._seen(agent, address)
        return AgentIdentity(agent.id, agent.name, serial, held.not_after)

    def _issued_here(self, cert_der: bytes) -> x509.Certificate:
        try:
            cert = x509.load_der_x509_certificate(cert_der)
            cert.verify_directly_issued_by(self._issuer())
        except (ValueError, TypeError, InvalidSignature):
            raise Unauthenticated("the client certificate was not issued by certvault's internal CA") from None
        now = self._ctx.now()
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise Unauthenticated("the client certificate is expired (or not yet valid)")
        return cert

    def _issuer(self) -> x509.Certificate:
        """The internal CA's issuing certificate, kept a minute per database (read on every agent call)."""
        key = self._ctx.settings.database_url
        cached = _ISSUERS.get(key)
        if cached is None or cached[0] < time.monotonic():
            cached = _ISSUERS[key] = (time.monotonic() + ISSUER_TTL, self._ca.chain()[0])
        return cached[1]

    def _retire_older(self, agent: Agent, held: AgentCertificate) -> None:
        """The first call with the newest certificate removes the ones it replaces (revoked as superseded)."""
        system = Actor.system(f"agent:{agent.name}", via="agent")
        older = list(self._s.scalars(select(AgentCertificate).where(AgentCertificate.agent_id == agent.id,
                                                                    AgentCertificate.created_at < held.created_at)))
        for cert in older:
            self._ca.revoke(system, cert.serial, SUPERSEDED)
            self._s.delete(cert)
        self._ctx.audit.record(system, "agent.rotated", target_type="agent", target_id=agent.name,
                               details={"serial": held.serial, "replaced": [c.serial for c in older]})

    def _seen(self, agent: Agent, address: str | None) -> None:
        now = self._ctx.now()
        if agent.last_seen_at is None or now - agent.last_seen_at >= SEEN_EVERY or agent.last_address != address:
            agent.last_seen_at, agent.last_address = now, address

    # ---- management ----------------------------------------------------------------------------
    def agents(self, actor: Actor) -> list[tuple[Agent, AgentCertificate | None]]:
        require(actor, Permission.CA_READ)
        rows = list(self._s.scalars(select(Agent).order_by(Agent.name)))
        newest: dict[uuid.UUID, AgentCertificate] = {}
        for cert in self._s.scalars(select(AgentCertificate).order_by(AgentCertificate.created_at)):
            newest[cert.agent_id] = cert
        return [(agent, newest.get(agent.id)) for agent in rows]

    def revoke(self, actor: Actor, name: str) -> Agent:
        """Refuse the agent from its next call on; its certificates are revoked at the internal CA too."""
        require(actor, Permission.CA_ISSUE)
        agent = self._by_name(name)
        if agent is None:
            raise NotFound(f"no agent named {name}")
        agent.revoked_at = agent.revoked_at or self._ctx.now()
        certs = list(self._s.scalars(select(AgentCertificate).where(AgentCertificate.agent_id == agent.id)))
        for cert in certs:
            self._ca.revoke(actor, cert.serial, 0)
        self._s.execute(update(AgentJob).where(AgentJob.agent_id == agent.id, AgentJob.state.in_(("queued", "leased")))
                        .values(state="failed", error="the agent was revoked", finished_at=self._ctx.now()))
        self._ctx.audit.record(actor, "agent.revoke", target_type="agent", target_id=name,
                               details={"serials": [c.serial for c in certs]})
        return agent

    def describe(self, name: str) -> str:
        """One line for a deploy target's connection test."""
        agent = self._by_name(name)
        if agent is None or agent.enrolled_at is None:
            raise IntegrationError(f"no enrolled agent named {name}")
        if agent.revoked_at is not None:
            raise IntegrationError(f"agent {name} is revoked")
        seen = agent.last_seen_at.strftime("%Y-%m-%d %H:%M:%S UTC") if agent.last_seen_at else "never"
        return f"agent {name} is enrolled; last seen {seen} from {agent.last_address or 'unknown'}"

    def _by_name(self, name: str) -> Agent | None:
        return self._s.scalar(select(Agent).where(Agent.name == name))

    # ---- jobs ----------------------------------------------------------------------------------
    def submit(self, agent_name: str, kind: str, payload: dict[str, Any], *, dedup_key: str | None = None,
               secret: bytes | None = None) -> uuid.UUID:
        """Queue work for an enrolled agent (same dedup key: the existing job, unless it finished)."""
        if kind not in JOB_KINDS:
            raise InvalidInput(f"unknown agent job kind {kind!r}")
        agent = self._by_name(agent_name)
        if agent is None or agent.revoked_at is not None or agent.enrolled_at is None:
            raise NotFound(f"no enrolled agent named {agent_name}")
        if dedup_key:
            existing = self._s.scalar(select(AgentJob).where(AgentJob.agent_id == agent.id,
                                                             AgentJob.dedup_key == dedup_key))
            if existing is not None and existing.state in ("queued", "leased"):
                return existing.id
            if existing is not None:
                self._s.delete(existing)
                self._s.flush()
        job = AgentJob(id=uuid.uuid4(), agent_id=agent.id, kind=kind, payload=payload, dedup_key=dedup_key,
                       available_at=self._ctx.now())
        if secret is not None:
            job.secret_sealed = self._ctx.sealer.seal(secret, aad=f"agent-job:{job.id}")
        self._s.add(job)
        self._s.flush()
        return job.id

    def job(self, job_id: uuid.UUID) -> AgentJob:
        job = self._s.get(AgentJob, job_id)
        if job is None:
            raise NotFound(f"no agent job {job_id}")
        return job

    def lease(self, agent: AgentIdentity, limit: int = 10) -> list[LeasedJob]:
        """Hand out the agent's ready jobs (new, or leased before and not reported within the lease)."""
        now = self._ctx.now()
        rows = list(self._s.scalars(_READY, {"agent": agent.id, "now": now, "limit": limit}))
        leased = []
        for job in rows:
            job.state, job.available_at, job.attempts = "leased", now + LEASE, job.attempts + 1
            payload = dict(job.payload)
            if job.secret_sealed is not None:
                payload["secret"] = self._ctx.sealer.open_text(job.secret_sealed, aad=f"agent-job:{job.id}")
            leased.append(LeasedJob(job.id, job.kind, payload, job.attempts))
        return leased

    def report(self, agent: AgentIdentity, job_id: uuid.UUID, ok: bool, result: dict[str, Any],
               error: str | None) -> AgentJob:
        """Record a job's outcome once; a repeated report (at-least-once delivery) changes nothing."""
        job = self._s.get(AgentJob, job_id)
        if job is None or job.agent_id != agent.id:
            raise NotFound(f"agent {agent.name} has no job {job_id}")
        if job.state in ("done", "failed"):
            return job
        if ok and job.kind == "inventory.report":
            result = {**result, "stored": self._store_found(agent, result.get("certificates", []))}
            result.pop("certificates", None)
        job.state, job.result, job.finished_at = ("done" if ok else "failed"), result, self._ctx.now()
        job.error = None if ok else (error or "failed")[:2000]
        job.secret_sealed = None  # the key it carried is no longer needed
        return job

    def _store_found(self, agent: AgentIdentity, found: list[dict[str, str]]) -> int:
        """Certificates the agent found in local files or certificate stores join the inventory (as imports
        labelled with the agent and the place, certificates only)."""
        stored = 0
        for item in found[:MAX_RESULT_ITEMS]:
            pem = str(item.get("pem", "")).encode()
            label = f"{agent.name}:{str(item.get('path', ''))[:300]}"
            try:
                self._inventory.import_data(agent.actor, pem, label, source="agent")
                stored += 1
            except InvalidInput:
                continue
        return stored

    def ready_agents(self, now: datetime) -> set[uuid.UUID]:
        """Agents with a job to hand out now (one query per process per tick wakes every waiting poll)."""
        return set(self._s.scalars(select(AgentJob.agent_id).where(
            AgentJob.state.in_(("queued", "leased")), AgentJob.available_at <= now).distinct()))

    def jobs(self, actor: Actor, agent_name: str | None = None, limit: int = 100) -> list[tuple[AgentJob, str]]:
        require(actor, Permission.CA_READ)
        stmt = select(AgentJob, Agent.name).join(Agent, Agent.id == AgentJob.agent_id)
        if agent_name:
            stmt = stmt.where(Agent.name == agent_name)
        return [(job, name) for job, name in self._s.execute(stmt.order_by(AgentJob.created_at.desc()).limit(limit))]


def _clean_details(details: dict[str, str]) -> dict[str, str]:
    return {k: str(v)[:100] for k, v in list(details.items())[:8] if k in ("platform", "version", "hostname")}

