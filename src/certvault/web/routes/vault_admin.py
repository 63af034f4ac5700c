"""Vault pages around the secrets: the approvers' queue, your DoubleLock passphrase, service accounts
(one-time password shown once), notification channels and subscriptions."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from certvault.api.deps import ServicesDep
from certvault.auth.rbac import Permission
from certvault.container import Services
from certvault.errors import CertvaultError, InvalidInput, NotFound
from certvault.events.catalogue import known
from certvault.web.deps import WebUser, page, render
from certvault.web.routes.vault_common import (
    NO_STORE,
    FormDep,
    Poster,
    VaultPage,
    attempt,
    checkbox,
    done_message,
    optional_int,
    see_other,
    templates,
    words,
)

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form()]
AccountsPage = Annotated[WebUser, Depends(page(Permission.USERS_READ))]
SettingsPage = Annotated[WebUser, Depends(page(Permission.SETTINGS_MANAGE))]


def _error(error: CertvaultError | None) -> dict[str, Any]:
    return {"error_message": error.message if error else None, "status_code": error.status_code if error else 200}


# ---- the approvers' queue ---------------------------------------------------------------------------
def _requests(request: Request, svc: Services, user: WebUser, error: CertvaultError | None = None,
              info: str | None = None) -> Response:
    rows: list[dict[str, Any]] = []
    for item in svc.vault.protection.list_requests(user.actor):
        try:
            secret, folder = svc.vault.core.secret_with_folder(item.secret_id)
        except NotFound:  # deleted since the request
            continue
        rows.append({"request": item, "path": f"{folder.path}/{secret.name}", "secret_id": secret.id})
    mine = [r for r in rows if r["request"].requester_id == user.actor.id]
    decide = [r for r in rows if r["request"].requester_id != user.actor.id]
    return render(templates(), request, "vault/requests.html", user, mine=mine, decide=decide, info_message=info,
                  **_error(error))


@router.get("/vault/requests")
def requests_page(request: Request, svc: ServicesDep, user: VaultPage, done: str | None = None) -> Response:
    return _requests(request, svc, user, info=done_message(done))


@router.post("/vault/requests/{request_id}")
def decide(request_id: uuid.UUID, request: Request, svc: ServicesDep, user: Poster, decision: Text = "",
           comment: Text = "") -> Response:
    def run() -> None:
        if decision not in ("approve", "deny"):
            raise InvalidInput("choose approve or deny")
        svc.vault.protection.decide(user.actor, request_id, decision == "approve", comment)

    _, error = attempt(svc, run)
    if error is not None:
        return _requests(request, svc, user, error)
    return see_other("/vault/requests", "decided")


# ---- DoubleLock passphrase --------------------------------------------------------------------------
@router.get("/vault/doublelock")
def doublelock_page(request: Request, svc: ServicesDep, user: VaultPage, done: str | None = None) -> Response:
    return render(templates(), request, "vault/doublelock.html", user, info_message=done_message(done),
                  has_passphrase=svc.vault.doublelock.has_passphrase(user.actor.id))


@router.post("/vault/doublelock")
def doublelock_save(request: Request, svc: ServicesDep, user: Poster, passphrase: Text = "", confirm: Text = "",
                    current: Text = "") -> Response:
    def save() -> None:
        if passphrase != confirm:
            raise InvalidInput("the two passphrases differ")
        svc.vault.doublelock.set_passphrase(user.actor, passphrase, current or None)

    _, error = attempt(svc, save)
    if error is not None:
        return render(templates(), request, "vault/doublelock.html", user, **_error(error),
                      has_passphrase=svc.vault.doublelock.has_passphrase(user.actor.id))
    return see_other("/vault/doublelock", "passphrase")


# ---- service accounts -------------------------------------------------------------------------------
def _accounts(request: Request, svc: Services, user: WebUser, error: CertvaultError | None = None,
              created: dict[str, Any] | None = None) -> Response:
    channels = svc.notifications.list_channels(user.actor) if user.can(Permission.SETTINGS_MANAGE) else []
    response = render(templates(), request, "vault/service_accounts.html", user, created=created,
                      accounts=svc.vault.accounts.list_accounts(user.actor),
                      folders=svc.vault.folders.list_folders(user.actor), channels=channels, **_error(error))
    response.headers.update(NO_STORE)
    return response


@router.get("/vault/service-accounts")
def accounts_page(request: Request, svc: ServicesDep, user: AccountsPage) -> Response:
    return _accounts(request, svc, user)


@router.post("/vault/service-accounts")
def account_create(request: Request, svc: ServicesDep, user: Poster, form: FormDep) -> Response:
    """Create the account and show its password this once (the page is not cached)."""

    def create() -> dict[str, Any]:
        user_row, password = svc.vault.accounts.create(
            user.actor, str(form.get("name", "")), [str(f) for f in form.getlist("folders")],
            allowed_networks=words(str(form.get("allowed_networks", ""))),
            description=str(form.get("description", "")), view_hidden=checkbox(str(form.get("view_hidden", ""))),
            alert_channels=[str(c) for c in form.getlist("alert_channels")])
        return {"name": user_row.username, "password": password}

    created, error = attempt(svc, create)
    return _accounts(request, svc, user, error, created)


# ---- notification channels and subscriptions ---------------------------------------------------------
CHANNEL_KINDS = (("email", "Email (SMTP)"), ("syslog", "Syslog (RFC 5424 / CEF)"),
                 ("webhook", "Webhook (HTTPS JSON, HMAC-signed)"))


def _notifications(request: Request, svc: Services, user: WebUser, error: CertvaultError | None = None,
                   info: str | None = None, kind: str = "email") -> Response:
    """The page; the add form shows only the fields of the chosen channel kind (?kind=)."""
    channels = svc.notifications.list_channels(user.actor)
    names = {c.id: c.name for c in channels}
    subscriptions = [(s, names.get(s.channel_id, "?")) for s in svc.notifications.list_subscriptions(user.actor)]
    outbox = [(m, names.get(m.channel_id, "?")) for m in svc.notifications.list_outbox(user.actor, 20)]
    return render(templates(), request, "vault/notifications.html", user, channels=channels,
                  subscriptions=subscriptions, outbox=outbox, events=known(), info_message=info,
                  channel_kinds=CHANNEL_KINDS, kind=kind if kind in dict(CHANNEL_KINDS) else "email",
                  **_error(error))


@router.get("/vault/notifications")
def notifications_page(request: Request, svc: ServicesDep, user: SettingsPage, done: str | None = None,
                       kind: str = Query(default="email", max_length=20)) -> Response:
    return _notifications(request, svc, user, info=done_message(done), kind=kind)


def channel_options(kind: str, form: dict[str, str]) -> dict[str, Any]:
    """The options of one channel kind from the form's fields (blank ones left to the defaults)."""
    keys = {"email": ("host", "port", "security", "username", "sender", "ca_file"),
            "syslog": ("host", "port", "transport", "format", "ca_file"),
            "webhook": ("url", "ca_file")}.get(kind, ())
    options: dict[str, Any] = {}
    for key in keys:
        value = form.get(f"{kind}.{key}" if key in ("host", "port", "ca_file") else key, "").strip()
        if value:
            options[key] = optional_int(value, key) if key == "port" else value
    if kind == "email":
        options["recipients"] = words(form.get("recipients", ""))
    return options


@router.post("/vault/notifications/channels")
def channel_create(request: Request, svc: ServicesDep, user: Poster, name: Text = "", kind: Text = "",
                   secret: Text = "", host: Text = "", port: Text = "", ca_file: Text = "", security: Text = "",
                   username: Text = "", sender: Text = "", recipients: Text = "", transport: Text = "",
                   format: Text = "", url: Text = "") -> Response:  # noqa: A002 - the syslog option's name
    fields = {f"{kind}.host": host, f"{kind}.port": port, f"{kind}.ca_file": ca_file, "security": security,
              "username": username, "sender": sender, "recipients": recipients, "transport": transport,
              "format": format, "url": url}
    return _notify_act(request, svc, user, lambda: svc.notifications.create_channel(
        user.actor, name, kind, channel_options(kind, fields), secret or None), "channel", kind)


@router.post("/vault/notifications/channels/{channel_id}/{action}")
def channel_action(channel_id: uuid.UUID, action: str, request: Request, svc: ServicesDep, user: Poster) -> Response:
    notify = svc.notifications
    actions: dict[str, Callable[[], Any]] = {
        "test": lambda: notify.send_test(user.actor, channel_id),
        "enable": lambda: notify.set_channel_enabled(user.actor, channel_id, True),
        "disable": lambda: notify.set_channel_enabled(user.actor, channel_id, False),
        "delete": lambda: notify.delete_channel(user.actor, channel_id),
    }
    if action not in actions:
        return see_other("/vault/notifications")
    return _notify_act(request, svc, user, actions[action], {"test": "tested", "enable": "enabled",
                                                             "disable": "disabled", "delete": "deleted"}[action])


@router.post("/vault/notifications/subscriptions")
def subscribe(request: Request, svc: ServicesDep, user: Poster, channel: Text = "", event: Text = "",
              subject: Text = "") -> Response:
    return _notify_act(request, svc, user, lambda: svc.notifications.subscribe(
        user.actor, channel, event, subject.strip() or None), "subscribed")


@router.post("/vault/notifications/subscriptions/{subscription_id}/delete")
def unsubscribe(subscription_id: uuid.UUID, request: Request, svc: ServicesDep, user: Poster) -> Response:
    return _notify_act(request, svc, user, lambda: svc.notifications.unsubscribe(user.actor, subscription_id),
                       "unsubscribed")


def _notify_act(request: Request, svc: Services, user: WebUser, action: Callable[[], Any], done: str,
                kind: str = "email") -> Response:
    _, error = attempt(svc, action)
    if error is not None:
        return _notifications(request, svc, user, error, kind=kind)
    return see_other("/vault/notifications", done)
