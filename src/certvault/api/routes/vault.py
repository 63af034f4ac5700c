"""REST routes of the vault: folders, grants, secrets, values, protection, approvals, DoubleLock."""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response

from certvault.api.deps import Offset, ServicesDep, require
from certvault.api.fast import BearerFastRoute, Prefetch
from certvault.api.limits import upload_body
from certvault.api.schemas import Message, Page
from certvault.auth.rbac import Actor, Permission
from certvault.container import Services
from certvault.errors import InvalidInput
from certvault.filenames import content_disposition
from certvault.vault import schemas as s
from certvault.vault.core import VaultCore
from certvault.vault.secrets import FileInput

router = APIRouter(prefix="/api/v1/vault", tags=["vault"])
VaultUser = Annotated[Actor, Depends(require(Permission.VAULT_USE))]
Passphrase = Annotated[str | None, Header(alias="X-DoubleLock-Passphrase", description="your DoubleLock passphrase")]


def _files(files: dict[str, s.FileIn]) -> dict[str, FileInput]:
    result = {}
    for slug, item in files.items():
        try:
            result[slug] = (item.filename, base64.b64decode(item.content_base64, validate=True))
        except (binascii.Error, ValueError):
            raise InvalidInput(f"file {slug}: content_base64 is not valid base64") from None
    return result


def _secret_out(svc: Services, actor: Actor, ref: str | uuid.UUID) -> s.SecretOut:
    listing = svc.vault.secrets.get(actor, ref)
    secret, folder = listing.secret, listing.folder
    return s.SecretOut.of(
        secret,
        folder,
        listing.level,
        svc.vault.secrets.field_list(secret),
        svc.vault.protection.active_checkout(secret),
        svc.vault.reader.state(actor, secret, folder),
    )


# ---- folders -----------------------------------------------------------------------------------
@router.get("/folders", response_model=list[s.FolderOut])
def list_folders(svc: ServicesDep, actor: VaultUser) -> list[s.FolderOut]:
    return [s.FolderOut.listing(item) for item in svc.vault.folders.list_folders(actor)]


@router.post("/folders", response_model=s.FolderOut, status_code=201)
def create_folder(body: s.FolderCreate, svc: ServicesDep, actor: VaultUser) -> s.FolderOut:
    return s.FolderOut.of(svc.vault.folders.create(actor, body.name, body.parent), "owner")


@router.get("/folders/{folder_id}", response_model=s.FolderOut)
def get_folder(folder_id: uuid.UUID, svc: ServicesDep, actor: VaultUser) -> s.FolderOut:
    folder, level = svc.vault.folders.get(actor, folder_id)
    return s.FolderOut.of(folder, level)


@router.put("/folders/{folder_id}/inheritance", response_model=s.FolderOut)
def folder_inheritance(folder_id: uuid.UUID, body: s.Inheritance, svc: ServicesDep, actor: VaultUser) -> s.FolderOut:
    return s.FolderOut.of(svc.vault.folders.set_inheritance(actor, folder_id, body.inherit), "owner")


@router.get("/folders/{folder_id}/permissions", response_model=list[s.GrantOut])
def folder_grants(folder_id: uuid.UUID, svc: ServicesDep, actor: VaultUser) -> list[s.GrantOut]:
    return [s.GrantOut.of(g) for g in svc.vault.folders.grants(actor, folder=folder_id)]


@router.post("/folders/{folder_id}/permissions", response_model=Message)
def folder_grant(folder_id: uuid.UUID, body: s.GrantIn, svc: ServicesDep, actor: VaultUser) -> Message:
    svc.vault.folders.grant(actor, principal=body.principal, level=body.level, folder=folder_id)
    return Message(message=f"{body.principal} has {body.level} on the folder")


@router.delete("/folders/{folder_id}/permissions/{principal}", response_model=Message)
def folder_revoke(folder_id: uuid.UUID, principal: str, svc: ServicesDep, actor: VaultUser) -> Message:
    svc.vault.folders.revoke(actor, principal=principal, folder=folder_id)
    return Message(message=f"permission of {principal} revoked")


# ---- secrets -----------------------------------------------------------------------------------
@router.get("/secrets", response_model=Page[s.SecretOut])
def search_secrets(
    svc: ServicesDep,
    actor: VaultUser,
    q: str | None = None,
    folder: str | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: Offset = 0,
) -> Page[s.SecretOut]:
    rows, total = svc.vault.secrets.search(actor, q, folder, limit, offset)
    return Page(
        items=[s.SecretOut.of(r.secret, r.folder, r.level) for r in rows], total=total, limit=limit, offset=offset
    )


@router.post("/secrets", response_model=s.SecretOut, status_code=201)
@upload_body
def create_secret(body: s.SecretCreate, svc: ServicesDep, actor: VaultUser) -> s.SecretOut:
    settings = body.model_dump(
        include={
            "expires_at",
            "rotation_days",
            "checkout_enabled",
            "checkout_minutes",
            "require_approval",
            "hide_password",
        }
    )
    secret = svc.vault.secrets.create(
        actor,
        body.folder,
        body.name,
        body.template,
        body.fields,
        _files(body.files),
        generate_password=body.generate_password,
        **settings,
    )
    return _secret_out(svc, actor, secret.id)


@router.get("/secrets/{secret_id}", response_model=s.SecretOut)
def get_secret(secret_id: uuid.UUID, svc: ServicesDep, actor: VaultUser) -> s.SecretOut:
    return _secret_out(svc, actor, secret_id)


@router.patch("/secrets/{secret_id}", response_model=s.SecretOut)
@upload_body
def update_secret(secret_id: uuid.UUID, body: s.SecretUpdate, svc: ServicesDep, actor: VaultUser) -> s.SecretOut:
    svc.vault.secrets.update(
        actor,
        secret_id,
        fields=body.fields,
        files=_files(body.files),
        name=body.name,
        passphrase=body.doublelock_passphrase,
        generate_password=body.generate_password,
    )
    return _secret_out(svc, actor, secret_id)


@router.delete("/secrets/{secret_id}", response_model=Message)
def delete_secret(secret_id: uuid.UUID, svc: ServicesDep, actor: VaultUser) -> Message:
    svc.vault.secrets.deactivate(actor, secret_id)
    return Message(message="secret deleted")


@router.get("/secrets/{secret_id}/values", response_model=s.SecretValues)
def secret_values(
    secret_id: uuid.UUID, svc: ServicesDep, actor: VaultUser, passphrase: Passphrase = None, auto_checkout: bool = False
) -> s.SecretValues:
    """Read the values (audited). Check-out, approval and DoubleLock apply; hidden passwords are withheld."""
    read = svc.vault.reader.read(actor, secret_id, passphrase=passphrase, auto_checkout=auto_checkout)
    out = s.SecretOut.of(read.secret, read.folder, read.level, checkout=read.checkout, state="None")
    return s.SecretValues(secret=out, fields=[s.FieldData.of(v) for v in read.values], withheld=read.withheld)


def _plain_secret_values(svc: Services, actor: Actor, params: dict[str, str]) -> s.SecretValues:
    return secret_values(uuid.UUID(params["secret_id"]), svc, actor)


# The secrets' rows and the auth version, for all the reads of a loop pass in one statement.
_READ_AHEAD = Prefetch(key=lambda params: uuid.UUID(params["secret_id"]), fetch=VaultCore.rows_ahead,
                       use=lambda svc, secret_id, rows: svc.vault.core.use_rows_ahead(secret_id, rows))


# The read integrations repeat: served by `secret_values` above, with the same checks, minus FastAPI's overhead.
FAST_ROUTES = [
    BearerFastRoute(
        "/api/v1/vault/secrets/{secret_id}/values",
        r"/api/v1/vault/secrets/(?P<secret_id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/values",
        Permission.VAULT_USE,
        _plain_secret_values,
        fallback_headers=frozenset({b"x-doublelock-passphrase"}),
        prefetch=_READ_AHEAD,
    )
]


@router.get("/secrets/{secret_id}/fields/{slug}")
def secret_field(
    secret_id: uuid.UUID,
    slug: str,
    svc: ServicesDep,
    actor: VaultUser,
    passphrase: Passphrase = None,
    auto_checkout: bool = False,
) -> Response:
    """One field's raw value: text/plain for text, the file's bytes for files."""
    read = svc.vault.reader.read(actor, secret_id, slug=slug, passphrase=passphrase, auto_checkout=auto_checkout)
    value = read.values[0]
    if value.is_file:
        return Response(
            value.data,
            media_type="application/octet-stream",
            headers={"Content-Disposition": content_disposition(value.filename, slug)},
        )
    return Response(value.data, media_type="text/plain; charset=utf-8")


@router.post("/secrets/{secret_id}/fields/{slug}/copy", response_model=s.FieldData)
def copy_field(
    secret_id: uuid.UUID, slug: str, svc: ServicesDep, actor: VaultUser, body: s.Unlock | None = None
) -> s.FieldData:
    """The value for a copy-to-clipboard action (audited as a copy)."""
    body = body or s.Unlock()
    read = svc.vault.reader.read(
        actor,
        secret_id,
        slug=slug,
        purpose="copy",
        passphrase=body.doublelock_passphrase,
        auto_checkout=body.auto_checkout,
    )
    return s.FieldData.of(read.values[0])


@router.get("/secrets/{secret_id}/export", response_model=s.SecretValues)
def export_secret(
    secret_id: uuid.UUID,
    svc: ServicesDep,
    actor: VaultUser,
    passphrase: Passphrase = None,
) -> s.SecretValues:
    read = svc.vault.reader.read(actor, secret_id, passphrase=passphrase, purpose="export")
    out = s.SecretOut.of(read.secret, read.folder, read.level, checkout=read.checkout)
    return s.SecretValues(secret=out, fields=[s.FieldData.of(v) for v in read.values], withheld=read.withheld)


@router.patch("/secrets/{secret_id}/settings", response_model=s.SecretOut)
def secret_settings(secret_id: uuid.UUID, body: s.SettingsUpdate, svc: ServicesDep, actor: VaultUser) -> s.SecretOut:
    svc.vault.protection.update_settings(actor, secret_id, **body.changes())
    return _secret_out(svc, actor, secret_id)


@router.get("/secrets/{secret_id}/permissions", response_model=list[s.GrantOut])
def secret_grants(secret_id: uuid.UUID, svc: ServicesDep, actor: VaultUser) -> list[s.GrantOut]:
    return [s.GrantOut.of(g) for g in svc.vault.folders.grants(actor, secret=secret_id)]


@router.post("/secrets/{secret_id}/permissions", response_model=Message)
def secret_grant(secret_id: uuid.UUID, body: s.GrantIn, svc: ServicesDep, actor: VaultUser) -> Message:
    svc.vault.folders.grant(actor, principal=body.principal, level=body.level, secret=secret_id)
    return Message(message=f"{body.principal} has {body.level} on the secret")


@router.delete("/secrets/{secret_id}/permissions/{principal}", response_model=Message)
def secret_revoke(secret_id: uuid.UUID, principal: str, svc: ServicesDep, actor: VaultUser) -> Message:
    svc.vault.folders.revoke(actor, principal=principal, secret=secret_id)
    return Message(message=f"permission of {principal} revoked")


@router.post("/secrets/{secret_id}/checkout", response_model=s.CheckOutOut)
def check_out(
    secret_id: uuid.UUID,
    svc: ServicesDep,
    actor: VaultUser,
    body: s.CheckOutIn | None = None,
) -> s.CheckOutOut | None:
    return s.CheckOutOut.of(svc.vault.protection.check_out(actor, secret_id, (body or s.CheckOutIn()).minutes))


@router.post("/secrets/{secret_id}/checkin", response_model=Message)
def check_in(secret_id: uuid.UUID, svc: ServicesDep, actor: VaultUser, body: s.CheckInIn | None = None) -> Message:
    svc.vault.protection.check_in(actor, secret_id, force=(body or s.CheckInIn()).force)
    return Message(message="checked in")


@router.get("/secrets/{secret_id}/history", response_model=list[s.HistoryOut])
def secret_history(
    secret_id: uuid.UUID,
    svc: ServicesDep,
    actor: VaultUser,
    passphrase: Passphrase = None,
) -> list[s.HistoryOut]:
    return [s.HistoryOut(**e.__dict__) for e in svc.vault.secrets.history(actor, secret_id, passphrase)]


@router.get("/secrets/{secret_id}/audit", response_model=list[s.AuditOut])
def secret_audit(secret_id: uuid.UUID, svc: ServicesDep, actor: VaultUser) -> list[s.AuditOut]:
    return [
        s.AuditOut(
            seq=e.seq, at=e.at, user=e.actor_name, ip=e.ip, action=e.action, outcome=e.outcome, details=e.details
        )
        for e in svc.vault.trail(actor, secret_id)
    ]


# ---- approval for access -------------------------------------------------------------------------
@router.post("/secrets/{secret_id}/access-requests", response_model=s.AccessRequestOut, status_code=201)
def request_access(
    secret_id: uuid.UUID,
    body: s.AccessRequestIn,
    svc: ServicesDep,
    actor: VaultUser,
) -> s.AccessRequestOut:
    return s.AccessRequestOut.of(svc.vault.protection.request_access(actor, secret_id, body.reason, body.minutes))


@router.get("/access-requests", response_model=list[s.AccessRequestOut])
def list_requests(svc: ServicesDep, actor: VaultUser, status: str | None = None) -> list[s.AccessRequestOut]:
    return [s.AccessRequestOut.of(r) for r in svc.vault.protection.list_requests(actor, status)]


@router.post("/access-requests/{request_id}/decision", response_model=s.AccessRequestOut)
def decide(request_id: uuid.UUID, body: s.DecisionIn, svc: ServicesDep, actor: VaultUser) -> s.AccessRequestOut:
    return s.AccessRequestOut.of(svc.vault.protection.decide(actor, request_id, body.approve, body.comment))


# ---- DoubleLock ----------------------------------------------------------------------------------
@router.put("/doublelock/passphrase", response_model=Message)
def set_passphrase(body: s.PassphraseIn, svc: ServicesDep, actor: VaultUser) -> Message:
    svc.vault.doublelock.set_passphrase(actor, body.passphrase, body.current)
    return Message(message="DoubleLock passphrase saved")


@router.post("/secrets/{secret_id}/doublelock", response_model=s.SecretOut)
def enable_doublelock(secret_id: uuid.UUID, svc: ServicesDep, actor: VaultUser) -> s.SecretOut:
    svc.vault.doublelock.enable(actor, secret_id)
    return _secret_out(svc, actor, secret_id)


@router.post("/secrets/{secret_id}/doublelock/disable", response_model=s.SecretOut)
def disable_doublelock(
    secret_id: uuid.UUID,
    body: s.PassphraseOnly,
    svc: ServicesDep,
    actor: VaultUser,
) -> s.SecretOut:
    svc.vault.doublelock.disable(actor, secret_id, body.doublelock_passphrase)
    return _secret_out(svc, actor, secret_id)


@router.post("/secrets/{secret_id}/doublelock/share", response_model=Message)
def share_doublelock(secret_id: uuid.UUID, body: s.ShareIn, svc: ServicesDep, actor: VaultUser) -> Message:
    svc.vault.doublelock.share(actor, secret_id, body.user, body.doublelock_passphrase)
    return Message(message=f"DoubleLock shared with {body.user}")


# ---- tools and administration ----------------------------------------------------------------------
@router.post("/password/generate", response_model=s.PasswordOut)
def generate_password(svc: ServicesDep, actor: VaultUser) -> s.PasswordOut:
    return s.PasswordOut(password=svc.vault.generate_password(actor))


def _account(info: object) -> s.ServiceAccountOut:
    user, settings, folders = info.user, info.settings, info.folders  # type: ignore[attr-defined]
    return s.ServiceAccountOut(
        id=user.id,
        name=user.username,
        folders=folders,
        allowed_networks=user.allowed_networks,
        view_hidden=bool(settings and settings.view_hidden),
        locked_until=user.locked_until,
        last_login_at=user.last_login_at,
    )


@router.get("/service-accounts", response_model=list[s.ServiceAccountOut])
def list_service_accounts(
    svc: ServicesDep,
    actor: Actor = Depends(require(Permission.USERS_READ)),
) -> list[s.ServiceAccountOut]:
    return [_account(info) for info in svc.vault.accounts.list_accounts(actor)]


@router.post("/service-accounts", response_model=s.ServiceAccountCreated, status_code=201)
def create_service_account(
    body: s.ServiceAccountCreate, svc: ServicesDep, actor: Actor = Depends(require(Permission.USERS_MANAGE))
) -> s.ServiceAccountCreated:
    user, password = svc.vault.accounts.create(
        actor,
        body.name,
        body.folders,
        allowed_networks=body.allowed_networks,
        description=body.description,
        view_hidden=body.view_hidden,
        alert_channels=body.alert_channels,
    )
    info = svc.vault.accounts.info(user)
    return s.ServiceAccountCreated(account=_account(info), one_time_password=password)


@router.get("/hardening", response_model=s.HardeningOut)
def hardening(svc: ServicesDep, actor: Actor = Depends(require(Permission.REPORTS_READ))) -> s.HardeningOut:
    report = svc.vault.hardening.report(actor)
    return s.HardeningOut(
        generated_at=report.generated_at,
        status=report.status,
        checks=[s.HardeningCheck(**c.__dict__) for c in report.checks],
    )
