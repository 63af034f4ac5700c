"""Composition root: build_app(settings) wires the engine, keyring, services and job handlers.

Nothing else constructs services. Edges (API, web, CLI, worker) get an App and open one
transaction per request/command/job with `app.transaction()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session, sessionmaker

from certvault.audit.service import AuditLog
from certvault.auth import versioning
from certvault.context import ProcessState, ServiceContext
from certvault.db import migrate
from certvault.db.engine import build_engine, build_read_engine
from certvault.db.locks import advisory_lock
from certvault.db.session import NeedsTransaction as NeedsTransaction  # re-exported: edges reach the db only here
from certvault.db.session import build_sessionmaker, transaction
from certvault.db.session import end_transaction as end_transaction
from certvault.db.session import read_sessions as read_sessions
from certvault.jobs.catalog import JobHandlers, collect
from certvault.keyring import master as master_file
from certvault.keyring.service import Keyring, Sealer

if TYPE_CHECKING:  # a service, the job handlers and the worker are imported when first used
    from certvault.agents.service import AgentService
    from certvault.auth.credentials import CredentialLookup
    from certvault.auth.service import AuthService
    from certvault.certificates.service import CertificateService
    from certvault.config import Settings
    from certvault.deploy.service import DeployService
    from certvault.integrations.service import IntegrationService
    from certvault.issuance.service import IssuanceService
    from certvault.jobs.runner import Worker
    from certvault.jobs.schedules import PeriodicJob
    from certvault.notifications.policy_service import PolicyService
    from certvault.notifications.service import NotificationService
    from certvault.pki.service import PkiService
    from certvault.scanning.service import ScanService
    from certvault.system.service import SystemSettings
    from certvault.tickets.service import TicketService
    from certvault.vault.service import VaultService


# Each domain's job module by the prefix of its jobs' names: a worker imports one when it first meets one of its jobs.
JOB_MODULES = {
    "jobs.": "certvault.jobs.jobs",
    "events.": "certvault.events.jobs",
    "auth.": "certvault.auth.jobs",
    "certificates.": "certvault.certificates.jobs",
    "acme.": "certvault.issuance.jobs",
    "scanning.": "certvault.scanning.jobs",
    "vault.": "certvault.vault.jobs",
    "notifications.": "certvault.notifications.jobs",
    "tickets.": "certvault.tickets.jobs",
    "deploy.": "certvault.deploy.jobs",
}


class Services:
    """Every domain service bound to one session (one transaction)."""

    def __init__(self, app: App, session: Session) -> None:
        self.app = app
        self.session = session
        self.settings = app.settings
        self.sealer = Sealer(app.keyring, session)
        self.audit = AuditLog(session, app.keyring.purpose_key("audit"))
        self.ctx = ServiceContext(session, app.settings, app.keyring, self.sealer, self.audit, app.process,
                                  integrations=lambda: self.integrations)

    @cached_property
    def auth(self) -> AuthService:
        from certvault.auth.service import AuthService
        from certvault.vault.core import WEB_SERVICES

        return AuthService(self.session, self.audit, self.sealer, self.settings.security,
                           credentials=self.app.credentials, web_services=lambda: bool(self.system.get(WEB_SERVICES)))

    @cached_property
    def system(self) -> SystemSettings:
        from certvault.system.service import SystemSettings

        return SystemSettings(self.session, self.audit)

    @cached_property
    def pki(self) -> PkiService:
        from certvault.pki.service import PkiService

        def into_inventory(actor: Any, bundle: Any) -> None:  # issued certificates join the inventory
            self.certificates.store_issued(actor, chain_pem=bundle.cert_pem + bundle.chain_pem,
                                           key_pem=bundle.key_pem(), source="internal-ca")

        return PkiService(self.session, self.sealer, self.audit, on_issued=into_inventory)

    @cached_property
    def agents(self) -> AgentService:
        from certvault.agents.service import AgentService

        return AgentService(self.ctx, self.pki, self.certificates)

    @cached_property
    def certificates(self) -> CertificateService:
        from certvault.certificates.service import CertificateService

        return CertificateService(self.ctx)

    @cached_property
    def issuance(self) -> IssuanceService:
        from certvault.issuance.service import IssuanceService

        return IssuanceService(self.ctx, certificates=lambda: self.certificates)

    @cached_property
    def scanning(self) -> ScanService:
        from certvault.scanning.service import ScanService

        return ScanService(self.ctx, inventory=self.certificates)

    @cached_property
    def vault(self) -> VaultService:
        from certvault.vault.core import VaultPeers
        from certvault.vault.service import VaultService

        return VaultService(self.ctx, VaultPeers(auth=lambda: self.auth, notifications=lambda: self.notifications,
                                                 system=lambda: self.system))

    @cached_property
    def integrations(self) -> IntegrationService:
        from certvault.integrations.service import IntegrationService

        return IntegrationService(self.ctx, self.vault, self.app.process.plugins,
                                  certificates=lambda: self.certificates)

    @cached_property
    def tickets(self) -> TicketService:
        from certvault.tickets.service import TicketService

        return TicketService(self.ctx, self.integrations)

    @cached_property
    def deploy(self) -> DeployService:
        from certvault.deploy.service import DeployService

        return DeployService(self.ctx, self.integrations, self.certificates)

    @cached_property
    def notifications(self) -> NotificationService:
        from certvault.notifications.service import NotificationService

        return NotificationService(self.ctx, accounts=lambda: self.integrations, inventory=lambda: self.certificates)

    @cached_property
    def notification_policies(self) -> PolicyService:
        from certvault.notifications.policy_service import PolicyService

        return PolicyService(self.ctx, self.notifications)

    def enqueue(self, name: str, payload: dict[str, Any] | None = None, **options: Any) -> Any:
        return self.ctx.enqueue(name, payload, **options)


class App:
    def __init__(self, settings: Settings, engine: Engine, sessions: sessionmaker[Session],
                 keyring: Keyring) -> None:
        self.settings = settings
        self.engine = engine
        self.sessions = sessions
        self.keyring = keyring
        self.process = ProcessState()
        from certvault.agents.channel import bind as bind_agent_jobs  # the `agent` deploy target's job channel

        bind_agent_jobs(self.process.plugins, self.transaction)
        self._workers: list[Worker] = []
        event.listen(sessions, "after_commit", self._after_commit)
        # Authenticated credentials are cached per process; every change bumps the auth version.
        versioning.install(sessions)
        self.process.access_levels = versioning.VersionedCache(100_000)
        self.read_engine = build_read_engine(engine, pool_size=settings.db.pool_size)

    @cached_property
    def credentials(self) -> CredentialLookup:
        from certvault.auth.credentials import CredentialCache, CredentialLookup

        return CredentialLookup(CredentialCache())

    @cached_property
    def handlers(self) -> JobHandlers:
        """Every job name's handler: a domain's job module is imported when a worker first meets one of its jobs;
        site-specific modules from settings (their names have no known prefix) up front."""
        return JobHandlers(JOB_MODULES, collect(self.settings.worker.job_modules)[0])

    @cached_property
    def schedules(self) -> list[PeriodicJob]:
        return collect([*JOB_MODULES.values(), *self.settings.worker.job_modules])[1]

    def services(self, session: Session) -> Services:
        return Services(self, session)

    @contextmanager
    def transaction(self) -> Iterator[Services]:
        with transaction(self.sessions) as session:
            yield self.services(session)

    @property
    def reads_on_loop(self) -> bool:
        """Whether short reads may run on the event loop: the application has a read engine of its own (a
        private in-memory SQLite database has none, and its one connection may be in use by a thread)."""
        return self.read_engine is not self.engine

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection for short lookups outside the request's transaction (see build_read_engine)."""
        with self.read_engine.connect() as conn:
            yield conn

    def worker(self, **overrides: Any) -> Worker:
        """A job worker. Its jobs run in threads while others query, so every model is declared first (a model
        module imported in one thread while another's query configures the mappers meets half-declared classes,
        and SQLAlchemy then refuses every query). A worker limited to some jobs (`only`) is a command's own:
        the command declares what those jobs load, to start fast."""
        from certvault.jobs.runner import Worker, WorkerConfig

        if overrides.get("only") is None:
            declare_every_model()
        w = self.settings.worker
        config = WorkerConfig(
            concurrency=overrides.get("concurrency", w.concurrency),
            poll_interval=overrides.get("poll_interval", w.poll_interval),
            lease=timedelta(seconds=overrides.get("lease_seconds", w.lease_seconds)),
            only=overrides.get("only"),
        )
        worker = Worker(self.sessions, self.handlers, self.services, config, overrides.get("worker_id"))
        self._workers.append(worker)
        return worker

    def install_schedules(self) -> None:
        from certvault.jobs import queue

        with self.transaction() as svc:
            advisory_lock(svc.session, "certvault-schedules")
            for spec in self.schedules:
                queue.ensure_schedule(svc.session, spec.name, spec.job_name, spec.interval)

    def close(self) -> None:
        for worker in self._workers:
            worker.stop()
        self.engine.dispose()
        self.read_engine.dispose()

    def _after_commit(self, session: Session) -> None:
        if session.info.pop("jobs_enqueued", False):
            for worker in self._workers:
                worker.wake()


def declare_every_model() -> None:
    """Import every model module and configure the mappers, before a process starts threads that query."""
    from sqlalchemy.orm import configure_mappers

    from certvault.db.registry import load_all_models

    load_all_models()
    configure_mappers()


def build_app(settings: Settings, *, run_migrations: bool = True) -> App:
    """Open (creating when missing) the data directory, master key and database."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    master_file.ensure(settings.master_key_path)
    engine = build_engine(settings.database_url, pool_size=settings.db.pool_size, echo=settings.db.echo)
    if run_migrations and not migrate.is_current(engine):
        migrate.upgrade(engine, settings)
    sessions = build_sessionmaker(engine)
    keyring = Keyring(settings.master_key_path, sessions)
    keyring.prepare()
    return App(settings, engine, sessions, keyring)
