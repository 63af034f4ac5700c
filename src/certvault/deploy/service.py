"""Mappings, deployments and their steps. Targets are integration accounts of kind `deploy`.

A deployment is a row and a job (`deploy.run`): the job reads the row, does the next network step outside
any transaction (deploy, verify or roll back through the target's plugin) and commits its outcome, until
the row is final. `status` is always the last committed step, so a job reclaimed after a worker died goes
on from there; the plugins' steps are safe to repeat.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography import x509
from sqlalchemy import select

from certvault.auth.rbac import Actor, Permission, require
from certvault.certificates.models import CertificateEntry, CertificateVersion, PrivateKeyRecord
from certvault.context import ServiceContext
from certvault.crypto import x509info
from certvault.deploy import events
from certvault.deploy.models import ACTIVE, FINAL, DeployMapping, Deployment
from certvault.errors import Conflict, InvalidInput, NotFound
from certvault.plugins.protocols import CertificateBundle, DeployReceipt, DeployTarget

if TYPE_CHECKING:
    from certvault.certificates.service import CertificateService
    from certvault.events.models import DomainEvent
    from certvault.integrations.models import IntegrationAccount
    from certvault.integrations.service import IntegrationService

RUN_JOB = "deploy.run"
SYSTEM = Actor.system("certvault:deploy")
AUTO_EVENTS = ("certificate.issued", "certificate.renewed")
MAX_REASON = 2000


class TargetBusy(Exception):
    """Another deployment to the same target is under way: this one waits (one at a time per target)."""


@dataclass
class Work:
    """What one step needs, read in a short transaction."""

    id: uuid.UUID
    status: str
    target: DeployTarget
    bundle: CertificateBundle
    receipt: DeployReceipt


class DeployService:
    def __init__(self, ctx: ServiceContext, integrations: IntegrationService,
                 certificates: CertificateService) -> None:
        self._ctx = ctx
        self._s = ctx.session
        self._integrations = integrations
        self._certificates = certificates

    # ---- targets and mappings ----------------------------------------------------------------
    def target(self, ref: uuid.UUID | str) -> IntegrationAccount:
        return self._integrations.find("deploy", ref)

    def map(self, actor: Actor, entry_id: uuid.UUID, target_ref: str, auto: bool = True) -> DeployMapping:
        require(actor, Permission.CERTIFICATES_WRITE)
        entry = self._certificates.get(actor, entry_id)
        target = self.target(target_ref)
        mapping = self._mapping(entry.id, target.id)
        if mapping is None:
            mapping = DeployMapping(id=uuid.uuid4(), entry_id=entry.id, target_id=target.id, created_by=actor.name)
            self._s.add(mapping)
        mapping.auto = auto
        self._s.flush()
        self._ctx.audit.record(actor, "deploy.map", target_type="certificate", target_id=entry.id,
                               details={"target": target.name, "auto": auto})
        return mapping

    def unmap(self, actor: Actor, entry_id: uuid.UUID, target_ref: str) -> None:
        require(actor, Permission.CERTIFICATES_WRITE)
        target = self.target(target_ref)
        mapping = self._mapping(entry_id, target.id)
        if mapping is None:
            raise NotFound(f"certificate {entry_id} is not mapped to deploy target {target.name}")
        self._s.delete(mapping)
        self._ctx.audit.record(actor, "deploy.unmap", target_type="certificate", target_id=entry_id,
                               details={"target": target.name})

    def _mapping(self, entry_id: uuid.UUID, target_id: uuid.UUID) -> DeployMapping | None:
        return self._s.scalar(select(DeployMapping).where(DeployMapping.entry_id == entry_id,
                                                          DeployMapping.target_id == target_id))

    def mappings(self, actor: Actor, entry_id: uuid.UUID | None = None) -> list[tuple[DeployMapping, str, str]]:
        """(mapping, target name, plugin), by certificate then target name."""
        require(actor, Permission.CERTIFICATES_READ)
        from certvault.integrations.models import IntegrationAccount

        stmt = (select(DeployMapping, IntegrationAccount.name, IntegrationAccount.plugin)
                .join(IntegrationAccount, IntegrationAccount.id == DeployMapping.target_id)
                .order_by(DeployMapping.entry_id, IntegrationAccount.name))
        if entry_id is not None:
            stmt = stmt.where(DeployMapping.entry_id == entry_id)
        return [(m, name, plugin) for m, name, plugin in self._s.execute(stmt)]

    # ---- deployments -------------------------------------------------------------------------
    def run(self, actor: Actor, entry_id: uuid.UUID, target_ref: str | None = None,
            trigger: str = "manual", serial: str | None = None) -> list[Deployment]:
        """Queue a deployment to every mapped target (or to one target) of the version with `serial` (the one an
        issuance or renewal stored: it need not be the entry's current one yet) or else the current version."""
        require(actor, Permission.CERTIFICATES_WRITE)
        entry = self._certificates.get(actor, entry_id)
        version = _version_of(entry, serial)
        if version is None:
            raise InvalidInput(f"certificate {entry_id} has no signed version to deploy")
        if target_ref is not None:
            targets = [self.target(target_ref)]
            if not targets[0].enabled:
                raise Conflict(f"deploy target {targets[0].name} is disabled; enable it first")
        else:
            mapped = [self.target(m.target_id) for m, _, _ in self.mappings(actor, entry.id)]
            targets = [t for t in mapped if t.enabled]  # a disabled target is left out until enabled again
            if not targets:
                raise InvalidInput(f"certificate {entry_id} is mapped to no enabled deploy target "
                                   "(certvault deploy map CERT_ID --target NAME)")
        return [self._queue(actor, entry, version, target, trigger) for target in targets]

    def _queue(self, actor: Actor, entry: CertificateEntry, version: CertificateVersion, target: IntegrationAccount,
               trigger: str) -> Deployment:
        active = self._s.scalar(select(Deployment).where(
            Deployment.target_id == target.id, Deployment.version_id == version.id, Deployment.status.in_(ACTIVE)))
        if active is not None:
            return active
        serial = format(x509.load_der_x509_certificate(version.der).serial_number, "x")
        for older in self._s.scalars(select(Deployment).where(  # not started: a newer version replaces it
                Deployment.target_id == target.id, Deployment.entry_id == entry.id, Deployment.status == "queued")):
            self.finish(older.id, "failed", f"superseded by serial {serial} before it started")
        run = Deployment(id=uuid.uuid4(), entry_id=entry.id, version_id=version.id, serial=serial,
                         target_id=target.id, target_name=target.name, plugin=target.plugin, status="queued",
                         trigger=trigger, receipt={}, attempts=0, created_by=actor.name, created_at=self._ctx.now())
        self._s.add(run)
        self._s.flush()
        self._ctx.enqueue(RUN_JOB, {"deployment_id": str(run.id)}, dedup_key=f"deploy:{run.id}", max_attempts=200)
        self._ctx.audit.record(actor, "deploy.run", target_type="certificate", target_id=entry.id,
                               details={"target": target.name, "serial": serial, "deployment": str(run.id),
                                        "trigger": trigger})
        return run

    def on_event(self, event: DomainEvent) -> None:
        """A certificate was issued or renewed: deploy it to every target mapped with auto on."""
        if event.type not in AUTO_EVENTS:
            return
        raw = (event.payload or {}).get("certificate")
        if not raw:
            return
        entry_id = uuid.UUID(str(raw))
        auto = self._s.scalars(select(DeployMapping).where(DeployMapping.entry_id == entry_id,
                                                           DeployMapping.auto.is_(True))).all()
        for mapping in auto:
            if self.target(mapping.target_id).enabled:
                self.run(SYSTEM, entry_id, str(mapping.target_id), trigger=event.type,
                         serial=(event.payload or {}).get("serial"))

    def deployments(self, actor: Actor, entry_id: uuid.UUID | None = None, limit: int = 200) -> list[Deployment]:
        require(actor, Permission.CERTIFICATES_READ)
        stmt = select(Deployment).order_by(Deployment.created_at.desc()).limit(max(1, min(limit, 1000)))
        if entry_id is not None:
            stmt = stmt.where(Deployment.entry_id == entry_id)
        return list(self._s.scalars(stmt))

    def deployment(self, actor: Actor, deployment_id: uuid.UUID) -> Deployment:
        require(actor, Permission.CERTIFICATES_READ)
        run = self._s.get(Deployment, deployment_id, populate_existing=True)
        if run is None:
            raise NotFound(f"no deployment {deployment_id}")
        return run

    def by_version(self, actor: Actor, entry_id: uuid.UUID) -> dict[uuid.UUID, list[Deployment]]:
        """Per version of the certificate, the latest deployment to each target: where it is deployed and verified."""
        latest: dict[tuple[uuid.UUID, str], Deployment] = {}
        for run in reversed(self.deployments(actor, entry_id, limit=1000)):
            latest[(run.version_id, run.target_name)] = run
        out: dict[uuid.UUID, list[Deployment]] = {}
        for (version_id, _), run in sorted(latest.items(), key=lambda kv: kv[0][1]):
            out.setdefault(version_id, []).append(run)
        return out

    # ---- steps (deploy/jobs.py) --------------------------------------------------------------
    def prepare(self, deployment_id: uuid.UUID) -> Work | None:
        """The next step's inputs; None when the deployment is final (or gone). Marks a queued one deploying."""
        run = self._s.get(Deployment, deployment_id, populate_existing=True)
        if run is None or run.status in FINAL:
            return None
        if run.target_id is None:
            self.finish(run.id, "failed", "the deploy target was deleted")
            return None
        busy = self._s.scalar(select(Deployment.id).where(
            Deployment.target_id == run.target_id, Deployment.id != run.id,
            Deployment.status.in_(("deploying", "deployed", "rolling_back")), Deployment.created_at < run.created_at))
        if busy is not None and run.status == "queued":
            raise TargetBusy(f"deploy target {run.target_name} is busy with deployment {busy}")
        account = self.target(run.target_id)
        if run.status == "queued":
            run.status = "deploying"
        run.attempts += 1
        bundle = self._bundle(run)
        target = self._integrations.deploy_target(account, f"deploy {run.id}", audited=run.attempts == 1)
        return Work(run.id, run.status, target, bundle, DeployReceipt(run.target_name, dict(run.receipt)))

    def _bundle(self, run: Deployment) -> CertificateBundle:
        version = self._s.get(CertificateVersion, run.version_id)
        if version is None:
            raise NotFound(f"deployment {run.id}: its certificate version is gone")
        record = self._s.scalar(select(PrivateKeyRecord).where(PrivateKeyRecord.spki_sha256 == version.spki_sha256))
        if record is None:
            raise InvalidInput(f"certificate {run.entry_id} has no stored private key to deploy")
        if run.attempts == 1:
            self._ctx.audit.record(SYSTEM, "certificate.key_use", target_type="certificate", target_id=run.entry_id,
                                   details={"purpose": "deploy", "target": run.target_name, "serial": run.serial})
        leaf = x509.load_der_x509_certificate(version.der)
        chain = self._certificates.chain(SYSTEM, version)
        return CertificateBundle(names=tuple(version.sans or [version.common_name]), serial=run.serial,
                                 cert_pem=x509info.pem(leaf), chain_pem=b"".join(x509info.pem(c) for c in chain),
                                 key_pem=self._ctx.sealer.open(record.sealed, aad=f"cert_keys:{record.id}"),
                                 certificate_id=str(run.entry_id))

    def deployed(self, deployment_id: uuid.UUID, receipt: DeployReceipt) -> None:
        run = self._get(deployment_id)
        run.status, run.receipt, run.deployed_at = "deployed", dict(receipt.details), self._ctx.now()

    def rolling_back(self, deployment_id: uuid.UUID, reason: str, served_serial: str) -> None:
        run = self._get(deployment_id)
        run.status, run.reason, run.served_serial = "rolling_back", reason[:MAX_REASON], served_serial or None

    def finish(self, deployment_id: uuid.UUID, status: str, reason: str | None = None,
               served_serial: str | None = None) -> Deployment:
        """Record the final status and publish the event that says so."""
        run = self._get(deployment_id)
        run.status, run.finished_at = status, self._ctx.now()
        if reason is not None:
            run.reason = reason[:MAX_REASON]
        if served_serial is not None:
            run.served_serial = served_serial
        if status == "verified":
            run.verified_at = run.finished_at
        self._publish(run)
        return run

    def _get(self, deployment_id: uuid.UUID) -> Deployment:
        run = self._s.get(Deployment, deployment_id, populate_existing=True)
        if run is None:
            raise NotFound(f"no deployment {deployment_id}")
        return run

    def _publish(self, run: Deployment) -> None:
        verified = run.status == "verified"
        names = self._certificates.names(SYSTEM, run.entry_id)
        first = names[0] if names else str(run.entry_id)
        what = "verified on" if verified else ("rolled back on" if run.status == "rolled_back" else "failed on")
        why = f" Reason: {run.reason}" if run.reason and not verified else ""
        body = (f"Serial {run.serial} of the certificate for {', '.join(names[:10]) or first} {what} deploy target "
                f"{run.target_name} ({run.plugin}).{why}")
        payload: dict[str, Any] = {"deployment": str(run.id), "certificate": str(run.entry_id), "serial": run.serial,
                                   "target": run.target_name, "status": run.status, "reason": run.reason,
                                   "served_serial": run.served_serial}
        self._ctx.events.publish(events.VERIFIED if verified else events.FAILED,
                                 title=f"Deployment of {first} to {run.target_name} {run.status.replace('_', ' ')}",
                                 body=body, severity="info" if verified else "warning", subject=first,
                                 payload=payload)


def _serial_number(text: str) -> int | None:
    try:
        return int(text.replace(":", ""), 16)
    except ValueError:
        return None


def _version_of(entry: CertificateEntry, serial: str | None) -> CertificateVersion | None:
    """The entry's version with this serial (hex, with or without colons), else its current version."""
    wanted = _serial_number(serial) if serial else None
    found = [v for v in entry.versions if wanted is not None and _serial_number(v.serial) == wanted]
    return found[0] if found else entry.current

