"""REST routes of help-desk tickets: the ticket list, a sync now, and each help desk's ticket options and
mutual-TLS settings. Help-desk accounts themselves are /api/v1/integrations/ticketing (generated)."""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Depends, Query

from certvault.api.deps import Offset, ServicesDep, require
from certvault.api.schemas import Message
from certvault.auth.rbac import Actor, Permission
from certvault.errors import InvalidInput
from certvault.integrations.schemas import CheckOut
from certvault.tickets.schemas import HelpDeskOut, HelpDeskSettingsIn, TicketOut

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"])
Reader = Depends(require(Permission.REPORTS_READ))
Manager = Depends(require(Permission.SETTINGS_MANAGE))


@router.get("", response_model=list[TicketOut])
def list_tickets(svc: ServicesDep, actor: Actor = Reader, offset: Offset = 0,
                 limit: int = Query(500, ge=1, le=10_000),
                 helpdesk: str | None = Query(None, max_length=150)) -> list[TicketOut]:
    return [TicketOut.of(r, a) for r, a in svc.tickets.records(actor, helpdesk, limit, offset)]


@router.post("/sync", response_model=Message, status_code=202)
def sync(svc: ServicesDep, actor: Actor = Manager) -> Message:
    svc.tickets.request_sync(actor)
    return Message(message="ticket sync queued")


@router.get("/helpdesks", response_model=list[HelpDeskOut])
def helpdesks(svc: ServicesDep, actor: Actor = Manager) -> list[HelpDeskOut]:
    return [HelpDeskOut.of(a, s) for a, s in svc.tickets.helpdesks(actor)]


@router.get("/helpdesks/{ref}", response_model=HelpDeskOut)
def helpdesk(ref: str, svc: ServicesDep, actor: Actor = Manager) -> HelpDeskOut:
    account = svc.integrations.get(actor, "ticketing", ref)
    return HelpDeskOut.of(account, svc.tickets.settings_of(account.id))


@router.put("/helpdesks/{ref}/settings", response_model=HelpDeskOut)
def settings(ref: str, body: HelpDeskSettingsIn, svc: ServicesDep, actor: Actor = Manager) -> HelpDeskOut:
    keystore = None
    if body.client_keystore_b64:
        try:
            keystore = base64.b64decode(body.client_keystore_b64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("client_keystore_b64 is not valid base64") from None
    row = svc.tickets.configure(actor, ref, expiry_tickets=body.expiry_tickets,
                                vulnerability_tickets=body.vulnerability_tickets,
                                resolve_on_renewal=body.resolve_on_renewal, keystore=keystore,
                                keystore_password=body.keystore_password, client_cert=body.client_cert,
                                trusted_cert=body.trusted_cert, clear_identity=body.clear_client_identity,
                                clear_trust=body.clear_trusted_cert)
    return HelpDeskOut.of(svc.tickets.account(ref), row)


@router.post("/helpdesks/{ref}/test", response_model=CheckOut)
def test(ref: str, svc: ServicesDep, actor: Actor = Manager) -> CheckOut:
    return CheckOut(ok=True, result=svc.tickets.check(actor, ref))
