"""Job handlers and periodic schedules of the ACME domain (a few lines each)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from certvault.acme_client import AcmeError
from certvault.auth.rbac import Actor
from certvault.issuance.clients import AccountRef, client_for
from certvault.issuance.engine import ADVANCE_JOB, CLEANUP_JOB, OrderEngine, cleanup_order
from certvault.issuance.models import AcmeAccount, ManagedCertificate
from certvault.jobs.runner import Handler, JobContext
from certvault.jobs.schedules import PeriodicJob

RENEWAL_ACTOR = Actor.system("acme-renewal", via="job")


def advance_order(ctx: JobContext, payload: dict[str, Any]) -> None:
    OrderEngine(ctx).advance(uuid.UUID(payload["order_id"]), payload.get("seq"))


def cleanup(ctx: JobContext, payload: dict[str, Any]) -> None:
    cleanup_order(ctx, uuid.UUID(payload["order_id"]), bool(payload.get("cancelled")))


def scan_renewals(ctx: JobContext, payload: dict[str, Any]) -> None:
    ctx.services.issuance.renewals.scan_due(RENEWAL_ACTOR)


def check_ari(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Ask the CA for the renewal window (network outside any transaction), then record it."""
    from cryptography import x509

    managed_id = uuid.UUID(payload["managed_id"])
    with ctx.step() as svc:
        managed = svc.session.get(ManagedCertificate, managed_id)
        account = svc.session.get(AcmeAccount, managed.account_id) if managed and managed.account_id else None
        if managed is None or account is None:
            return
        ref, cert_pem, c = AccountRef.of(svc.ctx, account), managed.cert_pem, svc.ctx
    window, error = None, None
    try:
        with client_for(c, ref) as client:
            window = client.renewal_info(x509.load_pem_x509_certificate(cert_pem.encode()))
    except AcmeError as exc:
        error = f"renewal information: {exc.message}"
    ctx.services.issuance.renewals.apply_ari(managed_id, window, error)


HANDLERS: dict[str, Handler] = {
    ADVANCE_JOB: advance_order,
    CLEANUP_JOB: cleanup,
    "acme.renewals.scan": scan_renewals,
    "acme.ari.check": check_ari,
}
SCHEDULES: list[PeriodicJob] = [PeriodicJob("acme.renewals.scan", "acme.renewals.scan", timedelta(minutes=5))]
