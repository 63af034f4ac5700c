"""Job handlers and periodic schedules of this domain."""

from __future__ import annotations

from typing import Any

from certvault.auth.rbac import Actor
from certvault.certificates import discovery
from certvault.jobs.runner import Handler, JobContext
from certvault.jobs.schedules import PeriodicJob


def discover(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Fetch every target's chain first (no transaction open), then store the results."""
    targets = discovery.expand(payload.get("targets", []), payload.get("cidrs", []),
                               discovery.parse_ports(payload.get("ports") or [443]), payload.get("sni"))
    results = discovery.fetch_all(targets, timeout=float(payload.get("timeout", 5.0)))
    actor = Actor.system(f"discovery:{payload.get('requested_by', 'api')}")
    ctx.services.certificates.record_discovered(actor, results)


HANDLERS: dict[str, Handler] = {"certificates.discover": discover}
SCHEDULES: list[PeriodicJob] = []
