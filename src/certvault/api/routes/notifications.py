"""Notification channels (email, syslog, webhook), event subscriptions and the delivery outbox."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query

from certvault.api.deps import ServicesDep, require
from certvault.api.schemas import Message
from certvault.auth.rbac import Actor, Permission
from certvault.events.catalogue import known
from certvault.notifications.schemas import (
    ChannelIn,
    ChannelOut,
    ChannelPatch,
    OutboxOut,
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
def outbox(svc: ServicesDep, actor: Actor = Admin, limit: int = Query(default=100, ge=1, le=1000)) -> list[OutboxOut]:
    return [OutboxOut.of(m) for m in svc.notifications.list_outbox(actor, limit)]
