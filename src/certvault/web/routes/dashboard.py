"""The dashboard: counts that link to their filter, the expiry chart per week, what needs attention next."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from certvault.api.deps import ServicesDep
from certvault.certificates.schemas import EntryOut
from certvault.certificates.search import CertificateQuery
from certvault.container import Services
from certvault.issuance.schemas import OrderOut
from certvault.scanning.queries import GRADES
from certvault.web.charts import expiry_chart
from certvault.web.deps import CurrentWebUser, WebUser, render

router = APIRouter(include_in_schema=False)


SUMMARY_SECONDS = 60.0  # ~17 range counts over a million rows cost 100s of ms: kept this long at most


def _summary(request: Request, svc: Services, user: WebUser) -> dict[str, Any]:
    """The expiry counts, kept per server process until anything is audited (every import, renewal and deletion
    is) or a minute passes (expiry moves with the clock). Only a reader gets here, and only through the service
    call is the cache filled."""
    cached = getattr(request.app.state, "dashboard_summary", None)
    head = svc.audit.head_seq()
    if cached is not None and cached[0] > time.monotonic() and cached[1] == head:
        return dict(cached[2])
    summary = svc.certificates.expiry_summary(user.actor)
    request.app.state.dashboard_summary = (time.monotonic() + SUMMARY_SECONDS, head, summary)
    return dict(summary)


def _certificates(request: Request, svc: Services, user: WebUser) -> dict[str, Any]:
    summary = _summary(request, svc, user)
    soon = svc.certificates.search(user.actor, CertificateQuery(expiring_within=36500, sort="expiry", limit=8)).items
    return {"summary": summary, "chart": expiry_chart(summary["weeks"]),
            "next_expiring": [EntryOut.model_validate(e) for e in soon]}


def _operations(svc: Services, user: WebUser) -> dict[str, Any]:
    context: dict[str, Any] = {}
    if user.can("scans.read"):
        counts = svc.scanning.grade_counts(user.actor)
        context["grades"] = [(g, counts[g]) for g in (*GRADES, "none") if counts.get(g)]
    if user.can("acme.read"):
        failed, failed_total = svc.issuance.requests.list_requests(user.actor, "failed", limit=5)
        context.update(failed_orders=[OrderOut.of(o) for o in failed], failed_total=failed_total,
                       acme_accounts=len(svc.issuance.accounts.list_accounts(user.actor)))
    if user.can("vault.use"):
        requests = svc.vault.protection.list_requests(user.actor, "pending")
        context["vault_waiting"] = sum(1 for r in requests if r.requester_id != user.actor.id)
    if user.can("reports.read"):
        context.update(open_tickets=svc.tickets.open_count(user.actor),
                       secrets_overdue=svc.vault.lifecycle.overdue_count(user.actor))
    return context


@router.get("/")
def dashboard(request: Request, svc: ServicesDep, user: CurrentWebUser) -> Response:
    from certvault.web.app import templates

    context = _certificates(request, svc, user) if user.can("certificates.read") else {"summary": None}
    context.update(_operations(svc, user))
    return render(templates, request, "dashboard.html", user, **context)
