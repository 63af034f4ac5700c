"""A read-only HashiCorp Vault KV v2 endpoint: mount `secret` is the vault root, the path is the
folder path plus the secret name. Existing Vault clients (hvac, the vault CLI) read certvault secrets
unchanged with X-Vault-Token set to a certvault API token.
"""

from __future__ import annotations

import base64
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from certvault.api.compat import CompatRoute, web_services_actor
from certvault.api.deps import ServicesDep
from certvault.auth.rbac import Actor
from certvault.container import Services
from certvault.errors import CertvaultError, Forbidden, NotFound, Unauthenticated
from certvault.vault.core import normalize_path
from certvault.vault.fieldstore import FieldValue

MOUNT = "secret"


class VaultKVRoute(CompatRoute):
    @staticmethod
    def render_error(exc: CertvaultError) -> Response:
        if isinstance(exc, NotFound):
            return JSONResponse({"errors": []}, status_code=404)
        if isinstance(exc, Unauthenticated):
            return JSONResponse({"errors": [f"permission denied: {exc.message}"]}, status_code=401)
        if isinstance(exc, Forbidden) or exc.status_code == 409:
            return JSONResponse({"errors": ["permission denied", exc.message]}, status_code=403)
        return JSONResponse({"errors": [exc.message]}, status_code=400)


router = APIRouter(prefix="/v1", tags=["vault-kv-v2"], route_class=VaultKVRoute)


def kv_actor(request: Request, svc: ServicesDep,
             x_vault_token: Annotated[str | None, Header()] = None,
             authorization: Annotated[str | None, Header()] = None) -> Actor:
    token = x_vault_token
    if not token and authorization and authorization.lower().startswith("bearer "):
        token = authorization[7:]
    try:
        return web_services_actor(request, svc, token)
    except Unauthenticated as exc:
        if token:  # Vault answers a bad token with 403 "permission denied"
            raise Forbidden(exc.message) from None
        raise


KVActor = Annotated[Actor, Depends(kv_actor)]


def _envelope(data: Any) -> dict[str, Any]:
    return {"request_id": str(uuid.uuid4()), "lease_id": "", "renewable": False, "lease_duration": 0, "data": data,
            "wrap_info": None, "warnings": None, "auth": None}


def _value(v: FieldValue) -> str:
    if v.is_file:
        try:
            return v.data.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(v.data).decode()
    return v.text


def _stamp(value: Any) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _check_mount(mount: str) -> None:
    if mount != MOUNT:
        raise NotFound(f"no mount {mount!r}; certvault serves its vault at mount {MOUNT!r}")


@router.get("/{mount}/data/{path:path}")
def read_secret(mount: str, path: str, svc: ServicesDep, actor: KVActor,
                version: int | None = Query(default=None, ge=0)) -> dict[str, Any]:
    """The current version of the secret at <folder path>/<secret name> (check-out is automatic)."""
    _check_mount(mount)
    secret, _folder = svc.vault.core.secret_by_path(path)
    if version not in (None, 0, secret.version):
        raise NotFound(f"only the current version ({secret.version}) is served")
    read = svc.vault.reader.read(actor, secret.id, auto_checkout=True)
    metadata = {"created_time": _stamp(read.secret.updated_at), "custom_metadata": {
        "certvault_id": str(read.secret.id), "template": read.secret.template},
        "deletion_time": "", "destroyed": False, "version": read.secret.version}
    return _envelope({"data": {v.slug: _value(v) for v in read.values}, "metadata": metadata})


def _list(svc: Services, actor: Actor, path: str) -> dict[str, Any]:
    prefix = normalize_path(path)
    keys: set[str] = set()
    for item in svc.vault.folders.list_folders(actor):
        folder_path = item.folder.path
        if prefix and not folder_path.startswith(prefix + "/"):
            continue
        rest = folder_path[len(prefix) + 1:] if prefix else folder_path
        keys.add(rest.split("/", 1)[0] + "/")
    if prefix:
        if _folder_exists(svc, prefix):
            rows, _total = svc.vault.secrets.search(actor, None, prefix, 1000, 0)
            keys.update(r.secret.name for r in rows)
    if not keys:
        raise NotFound(f"nothing under {path!r}")
    return _envelope({"keys": sorted(keys)})


def _folder_exists(svc: Services, path: str) -> bool:
    try:
        svc.vault.core.folder(path)
        return True
    except NotFound:
        return False


@router.get("/{mount}/metadata/{path:path}")
def read_metadata(mount: str, path: str, svc: ServicesDep, actor: KVActor,
                  list_keys: bool = Query(default=False, alias="list")) -> dict[str, Any]:
    """Metadata of a secret, or (with ?list=true) the folders and secrets under a folder path."""
    _check_mount(mount)
    if list_keys:
        return _list(svc, actor, path)
    secret, _folder = svc.vault.core.secret_by_path(path)
    listing = svc.vault.secrets.get(actor, secret.id)
    stamp = _stamp(listing.secret.updated_at)
    return _envelope({
        "cas_required": False, "created_time": _stamp(listing.secret.created_at), "current_version": secret.version,
        "custom_metadata": {"certvault_id": str(secret.id)}, "delete_version_after": "0s", "max_versions": 0,
        "oldest_version": secret.version, "updated_time": stamp,
        "versions": {str(secret.version): {"created_time": stamp, "deletion_time": "", "destroyed": False}},
    })


@router.api_route("/{mount}/metadata/{path:path}", methods=["LIST"], include_in_schema=False)
def list_keys(mount: str, path: str, svc: ServicesDep, actor: KVActor) -> dict[str, Any]:
    """Vault's LIST verb (hvac `list_secrets()`); `certvault serve` accepts it (see api/list_verb.py).
    Left out of the OpenAPI document, which has no LIST operation; GET ?list=true is the same listing."""
    _check_mount(mount)
    return _list(svc, actor, path)


@router.get("/auth/token/lookup-self")
def lookup_self(svc: ServicesDep, actor: KVActor) -> dict[str, Any]:
    return _envelope({"display_name": actor.name, "entity_id": str(actor.id or ""), "policies": ["default"],
                      "meta": {"certvault_role": actor.role.value, "kind": actor.kind}, "renewable": False,
                      "ttl": 0, "type": "service"})
