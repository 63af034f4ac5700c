"""http-01 through deploy mappings: a mapped target with a webroot (SSH, local, the agent) answers the challenge.

The seed's precedence: when a certificate is mapped to a target that can answer http-01, its renewals are
validated through it (http-01, the file written into the target's webroot and removed afterwards); otherwise
the DNS account does, as configured. Wildcard names cannot use http-01 and stay with DNS. Orders record the
target's id in `webroot` with the fulfilment `deploy` (issuance/fulfil.py calls place and remove).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from certvault.context import ServiceContext
from certvault.deploy.models import DeployMapping
from certvault.errors import IntegrationError, InvalidInput

FULFILMENT = "deploy"
PREFERRED = ("agent", "ssh", "local")  # when several mapped targets answer: the agent on the server itself first


def _answers(plugin: Any) -> bool:
    check = getattr(plugin, "answers_http01", None)
    return bool(check and check())


def _plugin(ctx: ServiceContext, target_id: str) -> Any:
    """Built from a read of its account: the issuance engine calls this between its transactions (a read it
    opens here is closed again, so no transaction outlives the network step)."""
    fresh = not ctx.session.in_transaction()
    try:
        integrations = ctx.integrations()
        account = integrations.find("deploy", target_id)
        if not account.enabled:
            raise IntegrationError(f"deploy target {account.name} is disabled")
        return integrations.deploy_target(account, "http-01", audited=False)
    finally:
        if fresh:
            ctx.session.close()


def responder_for(ctx: ServiceContext, entry_id: uuid.UUID | None, names: Sequence[str]) -> str | None:
    """The id of the mapped, enabled target that answers http-01 for this certificate; None when none does."""
    if entry_id is None or any(n.startswith("*.") for n in names):
        return None
    integrations = ctx.integrations()
    target_ids = ctx.session.scalars(select(DeployMapping.target_id).where(DeployMapping.entry_id == entry_id))
    found = []
    for target_id in target_ids:
        account = integrations.find("deploy", target_id)
        if account.enabled and _answers(integrations.deploy_target(account, "http-01", audited=False)):
            found.append((PREFERRED.index(account.plugin) if account.plugin in PREFERRED else len(PREFERRED),
                          account.name, str(account.id)))
    return min(found)[2] if found else None


def check_target(ctx: ServiceContext, ref: str) -> str:
    """A target named for http-01 by hand (`--http-mode deploy --webroot TARGET`): its id, or why it cannot."""
    integrations = ctx.integrations()
    account = integrations.find("deploy", ref)
    if not _answers(integrations.deploy_target(account, "http-01", audited=False)):
        raise InvalidInput(f"deploy target {account.name} cannot answer http-01 (set its webroot)")
    return str(account.id)


def place(ctx: ServiceContext, target_id: str, token: str, key_authorization: str) -> None:
    _plugin(ctx, target_id).place_http01(token, key_authorization)


def remove(ctx: ServiceContext, target_id: str, token: str) -> None:
    _plugin(ctx, target_id).remove_http01(token)
