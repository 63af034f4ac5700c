"""Notification pages: policies (list, add, edit, run), the expiry report download, the outbox (pending and
failed messages, retry) and the channels page, whose add form shows only the chosen kind's fields."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from certvault.api.deps import ServicesDep
from certvault.auth.rbac import Permission
from certvault.container import Services
from certvault.errors import CertvaultError, InvalidInput, NotFound
from certvault.notifications.policies import KINDS, PolicySpec
from certvault.notifications.schedule import DAYS
from certvault.web.deps import WebUser, page, render
from certvault.web.routes.integrations import field_views, parse_form
from certvault.web.routes.vault_common import Poster, attempt, see_other, templates

router = APIRouter(include_in_schema=False)
SettingsPage = Annotated[WebUser, Depends(page(Permission.SETTINGS_MANAGE))]
Reader = Annotated[WebUser, Depends(page(Permission.CERTIFICATES_READ))]
DONE = {"added": "Policy added.", "saved": "Policy saved.", "run": "Policy run: its digests are in the outbox.",
        "enabled": "Policy enabled.", "disabled": "Policy disabled.", "deleted": "Policy deleted.",
        "retried": "Message queued again.", "channel": "Channel added.", "tested": "Test message queued.",
        "channel-enabled": "Channel enabled.", "channel-disabled": "Channel disabled.",
        "channel-deleted": "Channel deleted."}
# the field an error is shown next to, by the words the service's message starts with
FIELD_OF = (("policy name", "name"), ("a policy named", "name"), ("policy kind", "kind"),
            ("within days", "within_days"), ("schedule", "schedule"), ("timezone", "timezone"),
            ("scope", "scope"), ("filter", "filters"), ("unknown filter", "filters"), ("no notify", "channels"),
            ("no integration", "channels"))


def _field(message: str) -> str:
    return next((field for words, field in FIELD_OF if message.lower().startswith(words)), "form")


def _words(text: str) -> list[str]:
    return [w.strip() for w in text.replace("\n", ",").split(",") if w.strip()]


# ---- policies -----------------------------------------------------------------------------------------------
def _policies_page(request: Request, svc: Services, user: WebUser, status: int = 200, **context: Any) -> Response:
    book = svc.notification_policies
    policies = [(p, book.channel_names(p)) for p in book.list_policies(user.actor)]
    channels = svc.notifications.list_channels(user.actor)
    done = DONE.get(request.query_params.get("done", ""))
    return render(templates(), request, "notifications/policies.html", user, status_code=status, policies=policies,
                  channels=channels, kinds=KINDS, days=DAYS, info_message=done, **context)


@router.get("/notifications")
def policies_page(request: Request, svc: ServicesDep, user: SettingsPage) -> Response:
    return _policies_page(request, svc, user)


def _spec(form: Any) -> tuple[PolicySpec, list[str]]:
    try:
        within = int(str(form.get("within_days") or "30"))
    except ValueError:
        raise InvalidInput("within days: a whole number of days") from None
    filters: dict[str, Any] = {key: _words(str(form.get(key, ""))) for key in ("tags", "issuers", "owners")}
    filters["origin"] = str(form.get("origin", "")) or None
    spec = PolicySpec(str(form.get("name", "")).strip(), str(form.get("kind", "expiry")), within,
                      str(form.get("schedule", "daily 08:00")), str(form.get("timezone", "UTC")).strip() or "UTC",
                      {k: v for k, v in filters.items() if v}, str(form.get("scope", "new")),
                      str(form.get("enabled", "yes")) == "yes")
    return spec, [str(c) for c in form.getlist("channels")]


def _refused(request: Request, svc: Services, user: WebUser, exc: CertvaultError, form: Any,
             editing: Any = None) -> Response:
    values = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    errors = {_field(exc.message): exc.message}
    if editing is not None:
        return _edit_page(request, svc, user, editing, exc.status_code, errors=errors, values=values,
                          chosen=[str(c) for c in form.getlist("channels")])
    return _policies_page(request, svc, user, exc.status_code, errors=errors, values=values,
                          chosen=[str(c) for c in form.getlist("channels")])


@router.post("/notifications/policies")
async def add_policy(request: Request, svc: ServicesDep, user: Poster) -> Response:
    form = await request.form()

    def add() -> Any:
        spec, channels = _spec(form)
        return svc.notification_policies.add(user.actor, spec, channels)

    _, error = attempt(svc, add)
    if error is not None:
        return _refused(request, svc, user, error, form)
    return see_other("/notifications", "added")


def _edit_page(request: Request, svc: Services, user: WebUser, policy: Any, status: int = 200,
               **context: Any) -> Response:
    context.setdefault("chosen", list(policy.channel_ids))
    return render(templates(), request, "notifications/policy_edit.html", user, status_code=status, policy=policy,
                  channels=svc.notifications.list_channels(user.actor), kinds=KINDS, days=DAYS, **context)


@router.get("/notifications/policies/{ref}")
def edit_page(request: Request, ref: str, svc: ServicesDep, user: SettingsPage) -> Response:
    return _edit_page(request, svc, user, svc.notification_policies.get(user.actor, ref))


@router.post("/notifications/policies/{ref}")
async def save_policy(request: Request, ref: str, svc: ServicesDep, user: Poster) -> Response:
    form = await request.form()
    policy = svc.notification_policies.get(user.actor, ref)

    def save() -> Any:
        spec, channels = _spec(form)
        changes = {k: getattr(spec, k) for k in PolicySpec.__dataclass_fields__}
        return svc.notification_policies.update(user.actor, policy.id, changes, channels)

    _, error = attempt(svc, save)
    if error is not None:
        return _refused(request, svc, user, error, form, editing=policy)
    return see_other("/notifications", "saved")


@router.post("/notifications/policies/{ref}/{action}")
def policy_action(request: Request, ref: str, action: str, svc: ServicesDep, user: Poster) -> Response:
    book = svc.notification_policies
    actions = {"run": lambda: book.run(user.actor, ref),
               "enable": lambda: book.update(user.actor, ref, {"enabled": True}),
               "disable": lambda: book.update(user.actor, ref, {"enabled": False}),
               "delete": lambda: book.delete(user.actor, ref)}
    if action not in actions:
        raise NotFound(f"no action {action!r}; choose run, enable, disable or delete")
    _, error = attempt(svc, actions[action])
    if error is not None:
        return _policies_page(request, svc, user, error.status_code, error_message=error.message)
    return see_other("/notifications", {"run": "run", "enable": "enabled", "disable": "disabled",
                                        "delete": "deleted"}[action])


# ---- report ----------------------------------------------------------------------------------------------------
@router.get("/notifications/reports/expiry.csv")
def expiry_report(svc: ServicesDep, user: Reader, within_days: int = Query(default=30, ge=1, le=3650),
                  tags: str = Query(default="", max_length=2000), issuers: str = Query(default="", max_length=2000),
                  owners: str = Query(default="", max_length=2000), origin: str = Query(default="", max_length=16)
                  ) -> Response:
    filters = {"tags": _words(tags), "issuers": _words(issuers), "owners": _words(owners), "origin": origin or None}
    data = svc.notification_policies.expiry_report_csv(user.actor, within_days, {k: v for k, v in filters.items() if v})
    return Response(data, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="certvault-expiry-{within_days}d.csv"'})


# ---- outbox -----------------------------------------------------------------------------------------------------
def _outbox_page(request: Request, svc: Services, user: WebUser, status: str, code: int = 200,
                 error_message: str | None = None) -> Response:
    names = {c.id: c.name for c in svc.notifications.list_channels(user.actor)}
    states = [status] if status in ("pending", "failed", "sent") else ["pending", "failed"]
    messages = [(m, names.get(m.channel_id, "?")) for s in states
                for m in svc.notifications.list_outbox(user.actor, 200, status=s)]
    return render(templates(), request, "notifications/outbox.html", user, status_code=code, messages=messages,
                  status=status, error_message=error_message,
                  info_message=DONE.get(request.query_params.get("done", "")))


@router.get("/notifications/outbox")
def outbox_page(request: Request, svc: ServicesDep, user: SettingsPage,
                status: str = Query(default="", max_length=16)) -> Response:
    return _outbox_page(request, svc, user, status)


@router.post("/notifications/outbox/{message_id}/retry")
def retry(request: Request, message_id: str, svc: ServicesDep, user: Poster) -> Response:
    import uuid

    try:
        ref = uuid.UUID(message_id)
    except ValueError:
        raise NotFound(f"no outbox message {message_id}") from None
    _, error = attempt(svc, lambda: svc.notifications.retry_message(user.actor, ref))
    if error is not None:
        return _outbox_page(request, svc, user, "", error.status_code, error.message)
    return see_other("/notifications/outbox", "retried")


# ---- channels: the add form shows the fields of the chosen kind only -----------------------------------------------
def _channels_page(request: Request, svc: Services, user: WebUser, kind: str, status: int = 200,
                   **context: Any) -> Response:
    infos = {i.name: i for i in svc.integrations.plugin_infos(user.actor, "notify")}
    chosen = kind if kind in infos else next(iter(infos), "")
    info = infos.get(chosen)
    plugin = {"name": chosen, "title": info.title, "fields": field_views(info), "secrets": list(info.secret_fields),
              "required_secrets": list(info.required_secrets)} if info else None
    kinds = [(i.name, i.title) for i in infos.values()]
    return render(templates(), request, "notifications/channels.html", user, status_code=status,
                  channels=svc.notifications.list_channels(user.actor), kinds=kinds, plugin=plugin,
                  info_message=DONE.get(request.query_params.get("done", "")), **context)


@router.get("/notifications/channels")
def channels_page(request: Request, svc: ServicesDep, user: SettingsPage,
                  kind: str = Query(default="email", max_length=50)) -> Response:
    return _channels_page(request, svc, user, kind)


@router.post("/notifications/channels/add/{kind}")
async def add_channel(request: Request, kind: str, svc: ServicesDep, user: Poster) -> Response:
    form = await request.form()

    def add() -> Any:
        info = svc.integrations.plugins.get("notify", kind)
        options, secrets = parse_form(info, form)
        return svc.integrations.add(user.actor, "notify", kind, str(form.get("name", "")), options, secrets)

    _, error = attempt(svc, add)
    if error is not None:
        values = {k: str(v) for k, v in form.items() if not k.startswith("secret.") and k != "csrf_token"}
        return _channels_page(request, svc, user, kind, error.status_code, form_error=error.message, values=values)
    return see_other(f"/notifications/channels?kind={kind}", "channel")


@router.post("/notifications/channels/{ref}/{action}")
def channel_action(request: Request, ref: str, action: str, svc: ServicesDep, user: Poster) -> Response:
    notify = svc.notifications
    actions = {"test": lambda: notify.send_test(user.actor, ref),
               "enable": lambda: notify.set_channel_enabled(user.actor, ref, True),
               "disable": lambda: notify.set_channel_enabled(user.actor, ref, False),
               "delete": lambda: notify.delete_channel(user.actor, ref)}
    if action not in actions:
        raise NotFound(f"no action {action!r}; choose test, enable, disable or delete")
    _, error = attempt(svc, actions[action])
    if error is not None:
        return _channels_page(request, svc, user, "email", error.status_code, error_message=error.message)
    return see_other("/notifications/channels", {"test": "tested", "enable": "channel-enabled",
                                                 "disable": "channel-disabled", "delete": "channel-deleted"}[action])
