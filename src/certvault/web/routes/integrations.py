"""Integration account pages, generated from each plugin's options schema: a new plugin adds no web code.

/integrations/dns, /integrations/notify, ...: the accounts of a kind with test / enable / disable /
delete, and an add form per installed plugin (text, number, yes/no, one-per-line lists, KEY=VALUE
lines, password inputs for secrets). A refusal is shown in plain words above the form it came from.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from certvault.api.deps import ServicesDep
from certvault.auth.rbac import Permission
from certvault.errors import CertvaultError, InvalidInput, NotFound
from certvault.web.deps import WebUser, check_csrf, page, render

router = APIRouter(include_in_schema=False)
Reader = Annotated[WebUser, Depends(page(Permission.ACME_READ))]
Poster = Annotated[WebUser, Depends(check_csrf)]
KINDS = {"dns": "DNS accounts", "notify": "Notification channels", "ticketing": "Help desks",
         "deploy": "Deploy targets"}


def _templates() -> Any:
    from certvault.web.app import templates

    return templates


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise NotFound(f"no page for {kind!r}; choose one of {', '.join(KINDS)}")
    return kind


def field_views(info: Any) -> list[dict[str, Any]]:
    """What the form shows per option: name, label, input kind, required, default, help."""
    schema = info.options_model.model_json_schema()
    required = set(schema.get("required", []))
    views = []
    for name, prop in schema.get("properties", {}).items():
        types = {prop.get("type")} | {p.get("type") for p in prop.get("anyOf", [])}
        widget = ("choice" if "enum" in prop or any("enum" in p for p in prop.get("anyOf", [])) else
                  "yesno" if "boolean" in types else "lines" if "array" in types else "pairs" if "object" in types
                  else "number" if types & {"integer", "number"} else "text")
        choices: list[Any] = prop.get("enum") or next((p["enum"] for p in prop.get("anyOf", []) if "enum" in p), [])
        views.append({"name": name, "label": prop.get("title", name), "widget": widget, "choices": choices,
                      "required": name in required, "default": prop.get("default"),
                      "help": prop.get("description", "")})
    return views


def parse_form(info: Any, form: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """Form fields into options and secrets; empty means "not given", so the plugin's defaults apply."""
    options: dict[str, Any] = {}
    for view in field_views(info):
        raw = str(form.get(f"opt.{view['name']}", "")).strip()
        if not raw:
            continue
        if view["widget"] == "lines":
            options[view["name"]] = [line.strip() for line in raw.splitlines() if line.strip()]
        elif view["widget"] == "pairs":
            options[view["name"]] = dict(_pair(line) for line in raw.splitlines() if line.strip())
        elif view["widget"] == "yesno":
            options[view["name"]] = raw == "yes"
        else:
            options[view["name"]] = raw
    secrets = {f: str(form.get(f"secret.{f}", "")) for f in info.secret_fields if form.get(f"secret.{f}")}
    return options, secrets


MAX_UPLOAD = 256 * 1024


async def read_upload(form: Any, name: str) -> bytes | None:
    """An uploaded file's bytes (None when no file was chosen), refused in words beyond 256 KiB."""
    item = form.get(name)
    if not isinstance(item, UploadFile) or not item.filename:
        return None
    data = await item.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise InvalidInput(f"{name.replace('_', ' ')}: larger than {MAX_UPLOAD // 1024} KiB")
    return data


async def secure_from_form(svc: Any, user: WebUser, kind: str, ref: str, form: Any) -> Any:
    """The mutual TLS form (_security_form.html): keystore upload + password, or an internal CA client
    certificate, and a trusted certificate pasted or uploaded; or clearing either."""
    keystore = await read_upload(form, "client_keystore")
    trusted = await read_upload(form, "trusted_cert_file") or str(form.get("trusted_cert_pem", "")).strip() or None
    clearing = form.get("clear_identity") == "yes" or form.get("clear_trust") == "yes"
    if keystore is None and trusted is None and not str(form.get("client_cert", "")).strip() and not clearing:
        return svc.integrations.find(kind, ref)  # the form was sent with nothing in it: nothing changes
    return svc.integrations.secure(
        user.actor, kind, ref, keystore=keystore,
        keystore_password=str(form.get("keystore_password", "")) if keystore else None,
        client_cert=str(form.get("client_cert", "")).strip() or None, trusted_cert=trusted,
        clear_identity=form.get("clear_identity") == "yes", clear_trust=form.get("clear_trust") == "yes")


def _pair(line: str) -> tuple[str, str]:
    key, sep, value = line.partition("=")
    if not sep or not key.strip():
        raise InvalidInput(f"{line.strip()!r} is not KEY=VALUE (one per line)")
    return key.strip(), value.strip()


def _page(request: Request, svc: Any, user: WebUser, kind: str, status: int = 200, **context: Any) -> Response:
    infos = svc.integrations.plugin_infos(user.actor, kind)
    plugins = [{"name": i.name, "title": i.title, "fields": field_views(i), "secrets": list(i.secret_fields),
                "required_secrets": list(i.required_secrets)} for i in infos]
    from certvault.integrations.security import describe_security

    accounts = svc.integrations.list_accounts(user.actor, kind)
    return render(_templates(), request, "integrations.html", user, status_code=status, kind=kind,
                  title=KINDS[kind], accounts=accounts, plugins=plugins, kinds=KINDS,
                  security={a.id: describe_security(a) for a in accounts}, **context)


@router.get("/integrations/{kind}")
def accounts_page(request: Request, kind: str, svc: ServicesDep, user: Reader) -> Response:
    return _page(request, svc, user, _kind(kind))


@router.post("/integrations/{kind}/add/{plugin}")
async def add(request: Request, kind: str, plugin: str, svc: ServicesDep, user: Poster) -> Response:
    form = await request.form()
    name = str(form.get("name", ""))
    try:
        info = svc.integrations.plugins.get(_kind(kind), plugin)
        options, secrets = parse_form(info, form)
        account = svc.integrations.add(user.actor, kind, plugin, name, options, secrets)
    except CertvaultError as exc:
        values = {k: str(v) for k, v in form.items() if not k.startswith("secret.") and k != "csrf_token"}
        return _page(request, svc, user, _kind(kind), exc.status_code, error_plugin=plugin, form_error=exc.message,
                     values=values)
    return RedirectResponse(f"/integrations/{kind}?added={account.name}", status_code=303)


@router.post("/integrations/{kind}/{ref}/security")
async def security(request: Request, kind: str, ref: str, svc: ServicesDep, user: Poster) -> Response:
    form = await request.form()
    try:
        account = await secure_from_form(svc, user, _kind(kind), ref, form)
    except CertvaultError as exc:
        return _page(request, svc, user, kind, exc.status_code, security_ref=ref, security_error=exc.message)
    return RedirectResponse(f"/integrations/{kind}?secured={account.name}", status_code=303)


@router.post("/integrations/{kind}/{ref}/{action}")
def act(request: Request, kind: str, ref: str, action: str, svc: ServicesDep, user: Poster) -> Response:
    kind = _kind(kind)
    try:
        if action == "test" and kind == "notify":  # a channel's test is a message through it
            message = svc.notifications.send_test(user.actor, ref)
            return _page(request, svc, user, kind, info_message=f"Test message queued ({message.id}); "
                                                                   "the outbox shows whether it was delivered.")
        if action == "test":
            result = svc.integrations.check(user.actor, kind, ref)
            return _page(request, svc, user, kind, info_message=result)
        if action in ("enable", "disable"):
            svc.integrations.set_enabled(user.actor, kind, ref, action == "enable")
        elif action == "delete":
            svc.integrations.delete(user.actor, kind, ref)
        else:
            raise NotFound(f"no action {action!r}; choose test, enable, disable or delete")
    except CertvaultError as exc:
        return _page(request, svc, user, kind, exc.status_code, error_message=exc.message)
    return RedirectResponse(f"/integrations/{kind}?done={action}d", status_code=303)
