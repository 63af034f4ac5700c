"""A Delinea Secret Server compatible REST subset under /secretserver, for scanners and scripts.

Shapes follow Secret Server's API (integrations.md §4) so `python-tss-sdk` and Qualys-style clients
work unchanged: integer ids, `items[]` with slugs, check-out/check-in, `secretState` and errors as
{"errorCode", "message"}. Every read goes through the vault's one read gate (and its audit).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from certvault.api.compat import CompatRoute, web_services_actor
from certvault.api.deps import ServicesDep, client_ip
from certvault.auth.rbac import Actor
from certvault.container import Services, end_transaction
from certvault.errors import CertvaultError, Forbidden, InvalidInput, NotFound, RateLimited, Unauthenticated
from certvault.filenames import content_disposition
from certvault.vault.secretserver_shapes import field_item, folder_item, secret_summary, stamp

TOKEN_SECONDS = 1200
ERROR_CODES = {
    "CannotView": "API_AccessDenied", "RequiresApproval": "API_RequiresApproval",
    "RequiresDoubleLockPassword": "API_DoubleLockPasswordRequired", "CreateDoubleLockPassword":
    "API_DoubleLockPasswordNotSet", "DoubleLockNoAccess": "API_DoubleLockNoAccess",
    "RequiresCheckout": "API_CheckOutRequired", "HiddenPassword": "API_HiddenPassword",
}


class SecretServerRoute(CompatRoute):
    @staticmethod
    def render_error(exc: CertvaultError) -> Response:
        state = str(exc.details.get("state", ""))
        if isinstance(exc, Unauthenticated):
            code = "API_AuthenticationFailed"
        elif isinstance(exc, NotFound):
            code = "API_NotFound"
        elif state in ERROR_CODES:
            code = ERROR_CODES[state]
        elif isinstance(exc, Forbidden):
            code = "API_AccessDenied"
        else:
            code = "API_BadRequest"
        body: dict[str, Any] = {"errorCode": code, "message": exc.message}
        if state:
            body["secretState"] = state
        return JSONResponse(body, status_code=exc.status_code)


# Secret Server ids are 32-bit integers (0 with ?secretPath= means "by path"); others get a 422, not a DB error.
SecretId = Annotated[int, Path(ge=0, le=2**31 - 1)]
FolderId = Annotated[int, Path(ge=-1, le=2**31 - 1)]
MAX_ID = 2**31 - 1
Skip = Annotated[int, Query(ge=0, le=10_000_000)]

router = APIRouter(prefix="/secretserver", tags=["secret-server"], route_class=SecretServerRoute)


def ss_actor(request: Request, svc: ServicesDep,
             authorization: Annotated[str | None, Header()] = None) -> Actor:
    scheme, _, token = (authorization or "").partition(" ")
    return web_services_actor(request, svc, token if scheme.lower() == "bearer" else None)


SSActor = Annotated[Actor, Depends(ss_actor)]


def _full_secret(svc: Services, actor: Actor, ref: int | None, path: str | None, auto_checkout: bool,
                 passphrase: str | None = None) -> dict[str, Any]:
    read = svc.vault.reader.read(actor, ref, path=path, passphrase=passphrase, auto_checkout=auto_checkout)
    body = secret_summary(svc.ctx.now(), read.secret, read.folder, read.checkout)
    body["items"] = [field_item(i, v, v) for i, v in enumerate(read.values)]
    return body


@router.get("/api/v1/healthcheck")
def healthcheck(svc: ServicesDep) -> dict[str, Any]:
    """Health as Secret Server reports it (the SDK probes this before logging in)."""
    enabled = bool(svc.system.get("web_services.enabled"))
    return {"healthy": True, "Healthy": True, "databaseHealthy": True, "webServicesEnabled": enabled}


class TokenOut(BaseModel):
    access_token: str
    token_type: str
    expires_in: int


@router.post("/oauth2/token", response_model=TokenOut)
def oauth2_token(request: Request, svc: ServicesDep, grant_type: Annotated[str, Form()],
                 username: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
                 domain: Annotated[str | None, Form()] = None) -> Any:
    """Password grant for service accounts and users; the token lasts 20 minutes."""
    try:
        svc.vault.core.require_web_services()
        if grant_type != "password":
            raise InvalidInput(f"unsupported grant_type {grant_type!r}; use password")
        actor = svc.auth.login(username, password, client_ip(request))
        token, _row = svc.auth.issue_oauth_token(actor, TOKEN_SECONDS)
    except CertvaultError as exc:
        return _oauth_error(svc, exc)
    return TokenOut(access_token=token, token_type="bearer", expires_in=TOKEN_SECONDS)


def _oauth_error(svc: Services, exc: CertvaultError) -> JSONResponse:
    """The OAuth error shape (RFC 6749 §5.2, plus Secret Server's `message`). What the refusal recorded (an
    audited failure and its alert event) is kept, as for a raised error."""
    end_transaction(svc.session, exc)
    status = exc.status_code if isinstance(exc, Forbidden | RateLimited) else 400
    code = {403: "access_denied", 429: "slow_down"}.get(status, "invalid_grant")
    return JSONResponse({"error": code, "error_description": exc.message, "message": exc.message},
                        status_code=status)


@router.get("/api/v1/secrets")
def search_secrets(svc: ServicesDep, actor: SSActor,
                   search_text: Annotated[str | None, Query(alias="filter.searchText")] = None,
                   folder_id: Annotated[int | None, Query(alias="filter.folderId", ge=-1, le=MAX_ID)] = None,
                   take: int = Query(default=100, ge=0, le=1000), skip: Skip = 0) -> dict[str, Any]:
    rows, total = svc.vault.secrets.search(actor, search_text, folder_id, take or 100, skip)
    now = svc.ctx.now()
    records = [secret_summary(now, r.secret, r.folder, svc.vault.protection.active_checkout(r.secret)) for r in rows]
    return {"records": records, "total": total, "skip": skip, "take": take, "hasNext": skip + len(rows) < total,
            "hasPrev": skip > 0, "success": True}


@router.get("/api/v1/secrets/lookup")
def lookup_secrets(svc: ServicesDep, actor: SSActor,
                   search_text: Annotated[str | None, Query(alias="filter.searchText")] = None,
                   take: int = Query(default=100, ge=0, le=1000), skip: Skip = 0) -> dict[str, Any]:
    rows, total = svc.vault.secrets.search(actor, search_text, None, take or 100, skip)
    return {"records": [{"id": r.secret.number, "value": r.secret.name} for r in rows], "total": total,
            "skip": skip, "take": take, "success": True}


@router.get("/api/v1/secrets/search-total")
def search_total(svc: ServicesDep, actor: SSActor,
                 search_text: Annotated[str | None, Query(alias="filter.searchText")] = None,
                 folder_id: Annotated[int | None, Query(alias="filter.folderId", ge=-1, le=MAX_ID)] = None) -> int:
    return svc.vault.secrets.search(actor, search_text, folder_id, 1, 0)[1]


@router.get("/api/v1/secrets/{secret_id}")
def get_secret(secret_id: SecretId, svc: ServicesDep, actor: SSActor,
               secret_path: Annotated[str | None, Query(alias="secretPath")] = None,
               auto_checkout: Annotated[bool, Query(alias="autoCheckout")] = False) -> dict[str, Any]:
    """The secret with its items; check-out happens automatically for service accounts."""
    if secret_id == 0 and not secret_path:
        raise NotFound("secret 0 not found (give secretPath to look a secret up by path)")
    return _full_secret(svc, actor, secret_id or None, secret_path if secret_id == 0 else None, auto_checkout)


class Restricted(BaseModel):
    doubleLockPassword: str | None = None  # noqa: N815 (Secret Server's field names)
    comment: str | None = None
    forceCheckIn: bool | None = None  # noqa: N815
    includeInactive: bool | None = None  # noqa: N815
    noAutoCheckout: bool | None = None  # noqa: N815
    ticketNumber: str | None = None  # noqa: N815


@router.post("/api/v1/secrets/{secret_id}/restricted")
def get_restricted(secret_id: SecretId, body: Restricted, svc: ServicesDep, actor: SSActor) -> dict[str, Any]:
    """Read a secret that needs more than a GET: a DoubleLock passphrase (people only)."""
    return _full_secret(svc, actor, secret_id, None, not body.noAutoCheckout, body.doubleLockPassword)


@router.get("/api/v1/secrets/{secret_id}/fields/{slug}")
def get_field(secret_id: SecretId, slug: str, svc: ServicesDep, actor: SSActor,
              auto_checkout: Annotated[bool, Query(alias="autoCheckout")] = False) -> Response:
    """A text field as a JSON string; a file field as its raw bytes (like Secret Server)."""
    read = svc.vault.reader.read(actor, secret_id, slug=slug, auto_checkout=auto_checkout)
    value = read.values[0]
    if value.is_file:
        return Response(value.data, media_type="application/octet-stream",
                        headers={"Content-Disposition": content_disposition(value.filename, slug)})
    return JSONResponse(value.text)


@router.get("/api/v1/secrets/{secret_id}/state")
def get_state(secret_id: SecretId, svc: ServicesDep, actor: SSActor) -> dict[str, Any]:
    listing = svc.vault.secrets.get(actor, secret_id)
    checkout = svc.vault.protection.active_checkout(listing.secret)
    return {"secretState": svc.vault.reader.state(actor, listing.secret, listing.folder),
            "isActive": listing.secret.active, "isCheckedOut": checkout is not None,
            "checkedOutUserDisplayName": checkout.username if checkout else "", "secretName": listing.secret.name}


@router.post("/api/v1/secrets/{secret_id}/check-out")
def check_out(secret_id: SecretId, svc: ServicesDep, actor: SSActor) -> dict[str, Any]:
    svc.vault.protection.check_out(actor, secret_id)
    return {"responseCodes": None}


@router.post("/api/v1/secrets/{secret_id}/check-in")
def check_in(secret_id: SecretId, svc: ServicesDep, actor: SSActor) -> dict[str, Any]:
    secret = svc.vault.protection.check_in(actor, secret_id)
    listing = svc.vault.secrets.get(actor, secret.id)
    return secret_summary(svc.ctx.now(), listing.secret, listing.folder, None)


@router.get("/api/v1/secrets/{secret_id}/audits")
def secret_audits(secret_id: SecretId, svc: ServicesDep, actor: SSActor) -> dict[str, Any]:
    listing = svc.vault.secrets.get(actor, secret_id)
    events = svc.vault.trail(actor, listing.secret.id)
    records = [{"secretAuditId": e.seq, "action": e.action.split(".", 1)[-1].upper(), "dateRecorded": stamp(e.at),
                "byUserDisplayName": e.actor_name, "ipAddress": e.ip or "", "notes": e.outcome,
                "secretId": listing.secret.number} for e in events]
    return {"records": records, "total": len(records), "skip": 0, "take": len(records), "success": True}


# ---- folders ---------------------------------------------------------------------------------------
@router.get("/api/v1/folders/lookup")
def lookup_folders(svc: ServicesDep, actor: SSActor,
                   search_text: Annotated[str | None, Query(alias="filter.searchText")] = None,
                   parent_id: Annotated[int | None, Query(alias="filter.parentFolderId", ge=-1, le=MAX_ID)] = None,
                   direct: Annotated[bool, Query(alias="filter.limitToDirectDescendents")] = False,
                   take: int = Query(default=100, ge=0, le=1000)) -> dict[str, Any]:
    items = [i.folder for i in svc.vault.folders.list_folders(actor)]
    if search_text:
        items = [f for f in items if search_text.lower() in f.name.lower()]
    if parent_id is not None:
        parent, _level = svc.vault.folders.get(actor, str(parent_id))  # one the caller cannot see is not found
        items = [f for f in items if (f.parent_id == parent.id if direct else f.path.startswith(parent.path + "/"))]
    records = [{"id": f.number, "value": f.name} for f in items[: take or 100]]
    return {"records": records, "total": len(items), "take": take, "skip": 0, "success": True}


@router.get("/api/v1/folders/{folder_id}")
def get_folder(folder_id: FolderId, svc: ServicesDep, actor: SSActor,
               folder_path: Annotated[str | None, Query(alias="folderPath")] = None,
               get_all_children: Annotated[bool, Query(alias="getAllChildren")] = False) -> dict[str, Any]:
    ref = folder_path if folder_id == 0 else str(folder_id)
    if not ref:
        raise NotFound("folder 0 not found (give folderPath to look a folder up by path)")
    folder, _level = svc.vault.folders.get(actor, ref)
    parent = svc.vault.core.folder(folder.parent_id) if folder.parent_id else None
    body = folder_item(folder, parent.number if parent else -1)
    if get_all_children:
        body["childFolders"] = [folder_item(child, folder.number) for child in svc.vault.folders.children(folder)]
    return body

