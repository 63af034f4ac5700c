"""Integration accounts of every kind, one set of routes: a new plugin adds no API code.

`GET /api/v1/integrations/{kind}/plugins` gives each plugin's options JSON schema and secret fields;
adding or updating validates against them (the error names the field).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends

from certvault.api.deps import ServicesDep, require
from certvault.api.schemas import Message
from certvault.auth.rbac import Actor, Permission
from certvault.integrations.schemas import AccountIn, AccountOut, AccountPatch, CheckOut, PluginOut, SecurityIn

router = APIRouter(prefix="/api/v1/integrations", tags=["integrations"])
Kind = Literal["dns", "notify", "ticketing", "deploy"]
# The service checks the kind's own permission (DNS accounts: operators; the others: administrators).
Reader = Depends(require(Permission.ACME_READ))
Manager = Depends(require(Permission.DNS_ACCOUNTS))


@router.get("/{kind}/plugins", response_model=list[PluginOut])
def plugins(kind: Kind, svc: ServicesDep, actor: Actor = Reader) -> list[PluginOut]:
    return [PluginOut(kind=kind, name=i.name, title=i.title, options_schema=i.options_model.model_json_schema(),
                      secret_fields=list(i.secret_fields), required_secrets=list(i.required_secrets))
            for i in svc.integrations.plugin_infos(actor, kind)]


@router.get("/{kind}", response_model=list[AccountOut])
def list_accounts(kind: Kind, svc: ServicesDep, actor: Actor = Reader) -> list[AccountOut]:
    return [AccountOut.of(a) for a in svc.integrations.list_accounts(actor, kind)]


@router.post("/{kind}", response_model=AccountOut, status_code=201)
def add(kind: Kind, body: AccountIn, svc: ServicesDep, actor: Actor = Manager) -> AccountOut:
    return AccountOut.of(svc.integrations.add(actor, kind, body.plugin, body.name, body.options, body.secrets))


@router.get("/{kind}/{ref}", response_model=AccountOut)
def get(kind: Kind, ref: str, svc: ServicesDep, actor: Actor = Reader) -> AccountOut:
    return AccountOut.of(svc.integrations.get(actor, kind, ref))


@router.patch("/{kind}/{ref}", response_model=AccountOut)
def update(kind: Kind, ref: str, body: AccountPatch, svc: ServicesDep, actor: Actor = Manager) -> AccountOut:
    account = svc.integrations.update(actor, kind, ref, body.options, body.secrets)
    if body.enabled is not None:
        account = svc.integrations.set_enabled(actor, kind, account.id, body.enabled)
    return AccountOut.of(account)


@router.delete("/{kind}/{ref}", response_model=Message)
def delete(kind: Kind, ref: str, svc: ServicesDep, actor: Actor = Manager) -> Message:
    svc.integrations.delete(actor, kind, ref)
    return Message(message=f"{kind} account {ref} deleted")


@router.put("/{kind}/{ref}/security", response_model=AccountOut)
def security(kind: Kind, ref: str, body: SecurityIn, svc: ServicesDep, actor: Actor = Manager) -> AccountOut:
    """Mutual TLS (a keystore with its password, or an internal CA client certificate) and server trust."""
    return AccountOut.of(svc.integrations.secure(
        actor, kind, ref, keystore=body.keystore, keystore_password=body.keystore_password,
        client_cert=body.client_cert, trusted_cert=body.trusted_cert, clear_identity=body.clear_identity,
        clear_trust=body.clear_trust))


@router.post("/{kind}/{ref}/test", response_model=CheckOut)
def test(kind: Kind, ref: str, svc: ServicesDep, actor: Actor = Manager) -> CheckOut:
    return CheckOut(ok=True, result=svc.integrations.check(actor, kind, ref))
