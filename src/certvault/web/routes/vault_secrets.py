"""Secret pages: create from a template, show, edit, reveal and copy (audited), download files, history."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import FormData, UploadFile

from certvault.api.deps import ServicesDep
from certvault.api.limits import upload_body
from certvault.container import Services
from certvault.errors import CertvaultError, InvalidInput
from certvault.filenames import content_disposition
from certvault.vault import templates as tpl
from certvault.vault.access import EDIT, NAMES, OWNER
from certvault.vault.fieldstore import FieldValue
from certvault.vault.lifecycle import due_at
from certvault.vault.protection import holds
from certvault.vault.secrets import FileInput
from certvault.web.deps import WebUser, render
from certvault.web.routes.vault_common import (
    NO_STORE,
    FormDep,
    Poster,
    VaultPage,
    attempt,
    checkbox,
    done_message,
    optional_date,
    optional_int,
    see_other,
    templates,
)

router = APIRouter(include_in_schema=False)
GENERIC_ROWS = 6
MULTILINE = {"private-key", "notes"}


# ---- reading the dynamic template forms ------------------------------------------------------------
def _text(form: FormData, key: str) -> str:
    value = form.get(key)
    return value.replace("\r\n", "\n") if isinstance(value, str) else ""


def _upload(form: FormData, key: str) -> FileInput | None:
    item = form.get(key)
    if isinstance(item, UploadFile) and item.filename:
        content = item.file.read(tpl.MAX_FILE + 1)
        if content:
            return item.filename, content
    return None


def template_values(template: str, form: FormData,
                    existing: list[str] = ()) -> tuple[dict[str, str], dict[str, FileInput]]:  # type: ignore[assignment]
    """Field values and files from a secret form; empty inputs are left out (on edit: unchanged)."""
    fields: dict[str, str] = {}
    files: dict[str, FileInput] = {}
    if template == "generic":
        slugs = [(slug, f"field.{slug}") for slug in existing]
        slugs += [(_text(form, f"key.{n}").strip(), f"value.{n}") for n in range(GENERIC_ROWS)]
        for slug, key in slugs:
            if slug and _text(form, key):
                fields[slug] = _text(form, key)
        file_key = _text(form, "filekey").strip()
        upload = _upload(form, "file.generic")
        if upload is not None:
            if not file_key:
                raise InvalidInput("give the file a field name")
            files[file_key] = upload
        return fields, files
    for spec in tpl.template_fields(template):
        if _text(form, f"field.{spec.slug}"):
            fields[spec.slug] = _text(form, f"field.{spec.slug}")
        upload = _upload(form, f"file.{spec.slug}") if spec.file_allowed else None
        if upload is not None:
            if spec.slug in fields and spec.slug != "file":
                raise InvalidInput(f"field {spec.slug}: paste the value or upload a file, not both")
            fields.pop(spec.slug, None)
            files[spec.slug] = upload
    return fields, files


def _plain_values(template: str, form: FormData) -> dict[str, str]:
    """What the person typed into fields that are not secret, to show again after a refusal."""
    specs = tpl.template_fields(template) if template in tpl.TEMPLATES else ()
    return {s.slug: _text(form, f"field.{s.slug}") for s in specs if not s.is_secret}


# ---- the secret page -------------------------------------------------------------------------------
def secret_view(request: Request, svc: Services, user: WebUser, secret_id: uuid.UUID, *, status: int = 200,
                error: CertvaultError | None = None, info: str | None = None,
                revealed: list[FieldValue] | None = None, withheld: list[str] | None = None) -> Response:
    """The secret page (every check through the services); never cached, values may be on it."""
    actor = user.actor
    listing = svc.vault.secrets.get(actor, secret_id)
    secret, folder = listing.secret, listing.folder
    checkout = svc.vault.protection.active_checkout(secret)
    requests = [r for r in svc.vault.protection.list_requests(actor) if r.secret_id == secret.id]
    response = render(
        templates(), request, "vault/secret.html", user, status_code=status,
        error_message=error.message if error else None, info_message=info,
        secret=secret, folder=folder, level=listing.level, level_name=NAMES[listing.level],
        template_label=tpl.TEMPLATE_LABELS.get(secret.template, secret.template),
        can_edit=listing.level >= EDIT, is_owner=listing.level >= OWNER,
        fields=svc.vault.secrets.field_list(secret), checkout=checkout,
        holds_it=checkout is not None and holds(checkout, actor),
        state=svc.vault.reader.state(actor, secret, folder), due=due_at(secret),
        trail=svc.vault.trail(actor, secret.id, 50), grants=svc.vault.folders.grants(actor, secret=secret.id),
        requests=requests, has_passphrase=svc.vault.doublelock.has_passphrase(actor.id),
        revealed={v.slug: v for v in revealed or []}, withheld=withheld or [], multiline=MULTILINE,
    )
    response.headers.update(NO_STORE)
    return response


@router.get("/vault/secrets/new")
def new_secret_form(request: Request, svc: ServicesDep, user: VaultPage, folder: uuid.UUID,
                    template: str = "password") -> Response:
    return _new_form(request, svc, user, folder, template)


def _new_form(request: Request, svc: Services, user: WebUser, folder_id: uuid.UUID, template: str,
              status: int = 200, error: CertvaultError | None = None, entered: dict[str, str] | None = None,
              name: str = "") -> Response:
    folder, level = svc.vault.folders.get(user.actor, folder_id)
    if template not in tpl.TEMPLATES:
        template = "password"
    return render(templates(), request, "vault/secret_form.html", user, status_code=status, mode="new",
                  folder=folder, folder_level=level, template=template, specs=tpl.template_fields(template),
                  labels=tpl.TEMPLATE_LABELS, generic_rows=range(GENERIC_ROWS), entered=entered or {}, secret_name=name,
                  multiline=MULTILINE, error_message=error.message if error else None)


@router.post("/vault/secrets/new")
@upload_body
def create_secret(request: Request, svc: ServicesDep, user: Poster, form: FormDep) -> Response:
    folder_id, template, name = _text(form, "folder"), _text(form, "template"), _text(form, "name")

    def create() -> uuid.UUID:
        fields, files = template_values(template, form)
        secret = svc.vault.secrets.create(
            user.actor, folder_id, name, template, fields, files,
            expires_at=optional_date(_text(form, "expires_at"), "the expiry date"),
            rotation_days=optional_int(_text(form, "rotation_days"), "the rotation period"),
            checkout_enabled=checkbox(_text(form, "checkout_enabled")) or None,
            checkout_minutes=optional_int(_text(form, "checkout_minutes"), "the check-out period"),
            require_approval=checkbox(_text(form, "require_approval")) or None,
            hide_password=checkbox(_text(form, "hide_password")) or None,
            generate_password=checkbox(_text(form, "generate_password")))
        return secret.id

    secret_id, error = attempt(svc, create)
    if error is not None:
        try:
            target = uuid.UUID(folder_id)
        except ValueError:
            raise error from None
        return _new_form(request, svc, user, target, template, error.status_code, error,
                         _plain_values(template, form), name)
    return see_other(f"/vault/secrets/{secret_id}", "created")


@router.get("/vault/secrets/{secret_id}")
def secret_page(secret_id: uuid.UUID, request: Request, svc: ServicesDep, user: VaultPage,
                done: str | None = None) -> Response:
    return secret_view(request, svc, user, secret_id, info=done_message(done))


@router.post("/vault/secrets/{secret_id}/reveal")
def reveal(secret_id: uuid.UUID, request: Request, svc: ServicesDep, user: Poster, do: Annotated[str, Form()] = "view:",
           passphrase: Annotated[str, Form()] = "", auto_checkout: Annotated[str, Form()] = "") -> Response:
    """Show (purpose view) or copy (purpose copy) one field or all: audited, through every protection."""
    purpose, _, slug = do.partition(":")
    purpose = purpose if purpose in ("view", "copy") else "view"
    read, error = attempt(svc, lambda: svc.vault.reader.read(
        user.actor, secret_id, slug=slug or None, purpose=purpose, passphrase=passphrase or None,
        auto_checkout=checkbox(auto_checkout)))
    if "application/json" in request.headers.get("accept", ""):  # the Copy button's fetch
        if error is not None:
            return JSONResponse({"detail": error.message}, status_code=error.status_code, headers=NO_STORE)
        assert read is not None
        value = read.values[0]
        return JSONResponse({"slug": value.slug, "value": None if value.is_file else value.text}, headers=NO_STORE)
    if error is not None:
        return secret_view(request, svc, user, secret_id, status=error.status_code, error=error)
    assert read is not None
    return secret_view(request, svc, user, secret_id, revealed=read.values, withheld=read.withheld,
                       info="Copy the value below; the copy is in this secret's audit trail." if purpose == "copy"
                       else None)


@router.post("/vault/secrets/{secret_id}/download")
def download(secret_id: uuid.UUID, request: Request, svc: ServicesDep, user: Poster,
             slug: Annotated[str, Form()] = "", passphrase: Annotated[str, Form()] = "") -> Response:
    read, error = attempt(svc, lambda: svc.vault.reader.read(user.actor, secret_id, slug=slug,
                                                             passphrase=passphrase or None))
    if error is not None:
        return secret_view(request, svc, user, secret_id, status=error.status_code, error=error)
    assert read is not None
    value = read.values[0]
    return Response(value.data, media_type="application/octet-stream",
                    headers={"Content-Disposition": content_disposition(value.filename, slug), **NO_STORE})


# ---- editing --------------------------------------------------------------------------------------
def _edit_form(request: Request, svc: Services, user: WebUser, secret_id: uuid.UUID, status: int = 200,
               error: CertvaultError | None = None) -> Response:
    listing = svc.vault.secrets.get(user.actor, secret_id)
    secret = listing.secret
    fields = svc.vault.secrets.field_list(secret)
    return render(templates(), request, "vault/secret_form.html", user, status_code=status, mode="edit",
                  secret=secret, folder=listing.folder, template=secret.template,
                  specs=tpl.template_fields(secret.template), existing=fields, labels=tpl.TEMPLATE_LABELS,
                  generic_rows=range(3), entered={}, secret_name=secret.name, multiline=MULTILINE,
                  checkout=svc.vault.protection.active_checkout(secret),
                  error_message=error.message if error else None)


@router.get("/vault/secrets/{secret_id}/edit")
def edit_form(secret_id: uuid.UUID, request: Request, svc: ServicesDep, user: VaultPage) -> Response:
    return _edit_form(request, svc, user, secret_id)


@router.post("/vault/secrets/{secret_id}/edit")
@upload_body
def edit_secret(secret_id: uuid.UUID, request: Request, svc: ServicesDep, user: Poster, form: FormDep) -> Response:
    def edit() -> None:
        listing = svc.vault.secrets.get(user.actor, secret_id)
        existing = [f.slug for f in svc.vault.secrets.field_list(listing.secret)]
        fields, files = template_values(listing.secret.template, form, existing)
        svc.vault.secrets.update(user.actor, secret_id, fields=fields, files=files, name=_text(form, "name") or None,
                                 passphrase=_text(form, "passphrase") or None,
                                 generate_password=checkbox(_text(form, "generate_password")))

    _, error = attempt(svc, edit)
    if error is not None:
        return _edit_form(request, svc, user, secret_id, error.status_code, error)
    return see_other(f"/vault/secrets/{secret_id}", "edited")


# ---- history and the generator ----------------------------------------------------------------------
@router.get("/vault/secrets/{secret_id}/history")
def history_page(secret_id: uuid.UUID, request: Request, svc: ServicesDep, user: VaultPage) -> Response:
    listing = svc.vault.secrets.get(user.actor, secret_id)
    if listing.secret.double_lock:  # the passphrase comes by POST, never in a URL
        return _history(request, svc, user, secret_id, None, ask=True)
    return _history(request, svc, user, secret_id, None)


@router.post("/vault/secrets/{secret_id}/history")
def history_unlocked(secret_id: uuid.UUID, request: Request, svc: ServicesDep, user: Poster,
                     passphrase: Annotated[str, Form()] = "") -> Response:
    return _history(request, svc, user, secret_id, passphrase or None)


def _history(request: Request, svc: Services, user: WebUser, secret_id: uuid.UUID, passphrase: str | None,
             ask: bool = False) -> Response:
    listing = svc.vault.secrets.get(user.actor, secret_id)
    entries, error = (None, None) if ask else attempt(
        svc, lambda: svc.vault.secrets.history(user.actor, secret_id, passphrase))
    response = render(templates(), request, "vault/history.html", user,
                      status_code=error.status_code if error else 200, secret=listing.secret, folder=listing.folder,
                      entries=entries or [], ask=ask or (error is not None and listing.secret.double_lock),
                      error_message=error.message if error else None)
    response.headers.update(NO_STORE)
    return response


@router.post("/vault/password/generate")
def generate(svc: ServicesDep, user: Poster) -> Response:
    """A password from the policy, for the form's Generate button (nothing is stored)."""
    return JSONResponse({"password": svc.vault.generate_password(user.actor)}, headers=NO_STORE)
