"""Notification channels (email, syslog, webhook), event subscriptions, policies, the expiry report and the
delivery outbox."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from certvault.api.deps import ServicesDep, require
from certvault.api.schemas import Message
from certvault.auth.rbac import Actor, Permission
from certvault.events.catalogue import known
from certvault.notifications.schemas import (
    ChannelIn,
    ChannelOut,
    ChannelPatch,
    OutboxOut,
    PolicyIn,
    PolicyOut,
    PolicyPatch,
    SubscriptionIn,
    SubscriptionOut,
)

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])
Admin = Depends(require(Permission.SETTINGS_MANAGE))


@router.get("/events", response_model=dict[str, str])
def known_events(actor: Actor = Admin) -> dict[str, str]:
    return known()


@router.get("/channels", response_model=list[ChannelOut])
def list_channels(svc: ServicesDep, actor: Actor = Admin) -> list[ChannelOut]:
    return [ChannelOut.of(c) for c in svc.notifications.list_channels(actor)]


@router.post("/channels", response_model=ChannelOut, status_code=201)
def create_channel(body: ChannelIn, svc: ServicesDep, actor: Actor = Admin) -> ChannelOut:
    return ChannelOut.of(svc.notifications.create_channel(actor, body.name, body.kind, body.options, body.secret))


@router.patch("/channels/{channel_id}", response_model=ChannelOut)
def update_channel(channel_id: uuid.UUID, body: ChannelPatch, svc: ServicesDep, actor: Actor = Admin) -> ChannelOut:
    return ChannelOut.of(svc.notifications.set_channel_enabled(actor, channel_id, body.enabled))


@router.delete("/channels/{channel_id}", response_model=Message)
def delete_channel(channel_id: uuid.UUID, svc: ServicesDep, actor: Actor = Admin) -> Message:
    svc.notifications.delete_channel(actor, channel_id)
    return Message(message="channel deleted")


@router.post("/channels/{channel_id}/test", response_model=OutboxOut, status_code=202)
def test_channel(channel_id: uuid.UUID, svc: ServicesDep, actor: Actor = Admin) -> OutboxOut:
    """Queue a test message; its delivery status shows in the outbox."""
    return OutboxOut.of(svc.notifications.send_test(actor, channel_id))


@router.get("/subscriptions", response_model=list[SubscriptionOut])
def list_subscriptions(svc: ServicesDep, actor: Actor = Admin) -> list[SubscriptionOut]:
    return [SubscriptionOut.of(s) for s in svc.notifications.list_subscriptions(actor)]


@router.post("/subscriptions", response_model=SubscriptionOut, status_code=201)
def subscribe(body: SubscriptionIn, svc: ServicesDep, actor: Actor = Admin) -> SubscriptionOut:
    return SubscriptionOut.of(svc.notifications.subscribe(actor, body.channel, body.event, body.subject))


@router.delete("/subscriptions/{subscription_id}", response_model=Message)
def unsubscribe(subscription_id: uuid.UUID, svc: ServicesDep, actor: Actor = Admin) -> Message:
    svc.notifications.unsubscribe(actor, subscription_id)
    return Message(message="subscription removed")


@router.get("/outbox", response_model=list[OutboxOut])
def outbox(svc: ServicesDep, actor: Actor = Admin, limit: int = Query(default=100, ge=1, le=1000),
           status: str | None = Query(default=None, description="pending | failed | sent")) -> list[OutboxOut]:
    names = {c.id: c.name for c in svc.notifications.list_channels(actor)}
    return [OutboxOut.of(m, names.get(m.channel_id)) for m in svc.notifications.list_outbox(actor, limit, status)]


@router.post("/outbox/{message_id}/retry", response_model=OutboxOut)
def retry(message_id: uuid.UUID, svc: ServicesDep, actor: Actor = Admin) -> OutboxOut:
    """A failed message back to pending, with a fresh delivery job."""
    return OutboxOut.of(svc.notifications.retry_message(actor, message_id))


# ---- policies -----------------------------------------------------------------------------------------------
@router.get("/policies", response_model=list[PolicyOut])
def list_policies(svc: ServicesDep, actor: Actor = Admin) -> list[PolicyOut]:
    book = svc.notification_policies
    return [PolicyOut.of(p, book.channel_names(p)) for p in book.list_policies(actor)]


@router.post("/policies", response_model=PolicyOut, status_code=201)
def add_policy(body: PolicyIn, svc: ServicesDep, actor: Actor = Admin) -> PolicyOut:
    policy = svc.notification_policies.add(actor, body.spec(), body.channels)
    return PolicyOut.of(policy, svc.notification_policies.channel_names(policy))


@router.get("/policies/{ref}", response_model=PolicyOut)
def get_policy(ref: str, svc: ServicesDep, actor: Actor = Admin) -> PolicyOut:
    policy = svc.notification_policies.get(actor, ref)
    return PolicyOut.of(policy, svc.notification_policies.channel_names(policy))


@router.patch("/policies/{ref}", response_model=PolicyOut)
def update_policy(ref: str, body: PolicyPatch, svc: ServicesDep, actor: Actor = Admin) -> PolicyOut:
    policy = svc.notification_policies.update(actor, ref, body.changes(), body.channels)
    return PolicyOut.of(policy, svc.notification_policies.channel_names(policy))


@router.delete("/policies/{ref}", response_model=Message)
def delete_policy(ref: str, svc: ServicesDep, actor: Actor = Admin) -> Message:
    svc.notification_policies.delete(actor, ref)
    return Message(message="policy deleted")


@router.post("/policies/{ref}/run", response_model=dict[str, Any])
def run_policy(ref: str, svc: ServicesDep, actor: Actor = Admin) -> dict[str, Any]:
    """Run now: one digest per channel goes to the outbox; the result names them."""
    return svc.notification_policies.run(actor, ref)


# ---- reports --------------------------------------------------------------------------------------------------
@router.get("/reports/expiry.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "the expiry report"}})
def expiry_report(svc: ServicesDep, actor: Actor = Depends(require(Permission.CERTIFICATES_READ)),
                  within_days: int = Query(default=30, ge=1, le=3650),
                  tag: list[str] = Query(default=[], max_length=50),
                  issuer: list[str] = Query(default=[], max_length=50),
                  owner: list[str] = Query(default=[], max_length=50),
                  origin: str | None = Query(default=None, description="managed | discovered")) -> Response:
    filters = {k: v for k, v in {"tags": tag, "issuers": issuer, "owners": owner, "origin": origin}.items() if v}
    data = svc.notification_policies.expiry_report_csv(actor, within_days, filters)
    return Response(data, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="certvault-expiry-{within_days}d.csv"'})
