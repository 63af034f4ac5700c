"""REST API for ACME: accounts, DNS accounts, orders (with challenge values), renewals, revocation."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Query, Response

from certvault.acme_client import PRESETS
from certvault.api.deps import Offset, ServicesDep, require
from certvault.auth.rbac import Actor, Permission
from certvault.issuance.requests import RequestSpec
from certvault.issuance.schemas import (
    AccountOut,
    AdoptIn,
    AssignDnsIn,
    DnsAccountIn,
    DnsAccountOut,
    DnsTestOut,
    EmailIn,
    ManagedOut,
    OrderOut,
    RecoverIn,
    RegisterIn,
    RenewalSettingsIn,
    RevokeIn,
)

router = APIRouter(prefix="/api/v1/acme", tags=["acme"])
READ, REQUEST, ACCOUNTS, DNS = (Permission.ACME_READ, Permission.ACME_REQUEST, Permission.ACME_ACCOUNTS,
                                Permission.DNS_ACCOUNTS)


@router.get("/directories")
def directories(actor: Actor = Depends(require(READ))) -> list[dict[str, str]]:
    return [{"name": key, "title": title, "url": url} for key, (title, url) in PRESETS.items()]


# ---- accounts ------------------------------------------------------------------------------------
@router.get("/accounts", response_model=list[AccountOut])
def list_accounts(svc: ServicesDep, actor: Actor = Depends(require(READ))) -> list[AccountOut]:
    return [AccountOut.of(a) for a in svc.issuance.accounts.list_accounts(actor)]


@router.post("/accounts", response_model=AccountOut, status_code=201)
def register_account(body: RegisterIn, svc: ServicesDep, actor: Actor = Depends(require(ACCOUNTS))) -> AccountOut:
    return AccountOut.of(svc.issuance.accounts.register(
        actor, body.directory, body.email, body.agree_tos, eab_kid=body.eab_kid, eab_hmac=body.eab_hmac,
        ca_bundle_pem=body.ca_bundle_pem, name=body.name, key_algorithm=body.key_algorithm))


@router.post("/accounts/recover", response_model=AccountOut, status_code=201)
def recover_account(body: RecoverIn, svc: ServicesDep, actor: Actor = Depends(require(ACCOUNTS))) -> AccountOut:
    return AccountOut.of(svc.issuance.accounts.recover(actor, body.directory, body.key_pem,
                                                       ca_bundle_pem=body.ca_bundle_pem, name=body.name))


@router.get("/accounts/{account_id}", response_model=AccountOut)
def get_account(account_id: uuid.UUID, svc: ServicesDep, actor: Actor = Depends(require(READ))) -> AccountOut:
    return AccountOut.of(svc.issuance.accounts.get(actor, account_id))


@router.patch("/accounts/{account_id}", response_model=AccountOut)
def update_account(account_id: uuid.UUID, body: EmailIn, svc: ServicesDep,
                   actor: Actor = Depends(require(ACCOUNTS))) -> AccountOut:
    return AccountOut.of(svc.issuance.accounts.update_email(actor, account_id, body.email))


@router.post("/accounts/{account_id}/deactivate", response_model=AccountOut)
def deactivate_account(account_id: uuid.UUID, svc: ServicesDep,
                       actor: Actor = Depends(require(ACCOUNTS))) -> AccountOut:
    return AccountOut.of(svc.issuance.accounts.deactivate(actor, account_id))


@router.delete("/accounts/{account_id}", status_code=204)
def delete_account(account_id: uuid.UUID, svc: ServicesDep, actor: Actor = Depends(require(ACCOUNTS))) -> Response:
    svc.issuance.accounts.delete(actor, account_id)
    return Response(status_code=204)


@router.post("/accounts/{account_id}/export-key", response_class=Response,
             responses={200: {"content": {"application/x-pem-file": {}}}})
def export_account_key(account_id: uuid.UUID, svc: ServicesDep, actor: Actor = Depends(require(ACCOUNTS))) -> Response:
    return Response(svc.issuance.accounts.export_key(actor, account_id), media_type="application/x-pem-file")


# ---- DNS accounts --------------------------------------------------------------------------------
@router.get("/dns-providers")
def dns_providers(svc: ServicesDep, actor: Actor = Depends(require(READ))) -> list[dict[str, Any]]:
    return svc.issuance.dns_accounts.providers(actor)


@router.get("/dns-accounts", response_model=list[DnsAccountOut])
def list_dns_accounts(svc: ServicesDep, actor: Actor = Depends(require(READ))) -> list[DnsAccountOut]:
    return [DnsAccountOut.of(a) for a in svc.issuance.dns_accounts.list_accounts(actor)]


@router.post("/dns-accounts", response_model=DnsAccountOut, status_code=201)
def add_dns_account(body: DnsAccountIn, svc: ServicesDep, actor: Actor = Depends(require(DNS))) -> DnsAccountOut:
    return DnsAccountOut.of(svc.issuance.dns_accounts.add(actor, body.provider, body.name, body.options,
                                                          body.secrets, register=body.register_new))


@router.post("/dns-accounts/{account_id}/test", response_model=DnsTestOut)
def test_dns_account(account_id: uuid.UUID, svc: ServicesDep, actor: Actor = Depends(require(DNS))) -> DnsTestOut:
    return DnsTestOut(**svc.issuance.dns_accounts.test(actor, account_id))


@router.delete("/dns-accounts/{account_id}", status_code=204)
def delete_dns_account(account_id: uuid.UUID, svc: ServicesDep, actor: Actor = Depends(require(DNS))) -> Response:
    svc.issuance.dns_accounts.delete(actor, account_id)
    return Response(status_code=204)


# ---- orders --------------------------------------------------------------------------------------
@router.get("/orders", response_model=list[OrderOut])
def list_orders(svc: ServicesDep, actor: Actor = Depends(require(READ)), status: str | None = None,
                limit: int = Query(default=50, ge=1, le=500),
                offset: Offset = 0) -> list[OrderOut]:
    rows, _total = svc.issuance.requests.list_requests(actor, status, limit, offset)
    return [OrderOut.of(o) for o in rows]


@router.post("/orders", response_model=OrderOut, status_code=201)
def create_order(body: RequestSpec, svc: ServicesDep, actor: Actor = Depends(require(REQUEST))) -> OrderOut:
    order = svc.issuance.requests.request(actor, body)
    return OrderOut.of(order)


@router.get("/orders/{order_id}", response_model=OrderOut)
def get_order(order_id: uuid.UUID, svc: ServicesDep, actor: Actor = Depends(require(READ))) -> OrderOut:
    order = svc.issuance.requests.get(actor, order_id)
    return OrderOut.of(order, svc.issuance.requests.authorizations(order))


@router.post("/orders/{order_id}/cancel", response_model=OrderOut)
def cancel_order(order_id: uuid.UUID, svc: ServicesDep, actor: Actor = Depends(require(REQUEST))) -> OrderOut:
    """Stop an unfinished order; its challenge records are taken down."""
    return OrderOut.of(svc.issuance.requests.cancel(actor, order_id))


@router.post("/orders/{order_id}/verify", response_model=OrderOut)
def verify_order(order_id: uuid.UUID, svc: ServicesDep, actor: Actor = Depends(require(REQUEST))) -> OrderOut:
    return OrderOut.of(svc.issuance.requests.verify(actor, order_id))


@router.post("/orders/{order_id}/dns-account", response_model=OrderOut)
def assign_dns(order_id: uuid.UUID, body: AssignDnsIn, svc: ServicesDep,
               actor: Actor = Depends(require(REQUEST))) -> OrderOut:
    order = svc.issuance.requests.assign_dns(actor, order_id, body.dns_account_id)
    return OrderOut.of(order, svc.issuance.requests.authorizations(order))


@router.post("/orders/{order_id}/new-challenge", response_model=OrderOut)
def new_challenge(order_id: uuid.UUID, svc: ServicesDep, actor: Actor = Depends(require(REQUEST))) -> OrderOut:
    return OrderOut.of(svc.issuance.requests.new_challenge(actor, order_id))


# ---- managed certificates ------------------------------------------------------------------------
@router.get("/renewals", response_model=list[ManagedOut])
def list_renewals(svc: ServicesDep, actor: Actor = Depends(require(READ))) -> list[ManagedOut]:
    return [ManagedOut.of(m) for m in svc.issuance.renewals.list_managed(actor)]


@router.get("/renewals/fleet")
def fleet(svc: ServicesDep, actor: Actor = Depends(require(READ)),
          weeks: int = Query(default=12, ge=1, le=104)) -> dict[str, Any]:
    return svc.issuance.renewals.fleet(actor, max(1, min(weeks, 104)))


@router.get("/certificates/{cert_id}", response_model=ManagedOut)
def get_managed(cert_id: uuid.UUID, svc: ServicesDep, actor: Actor = Depends(require(READ))) -> ManagedOut:
    return ManagedOut.of(svc.issuance.renewals.for_certificate(actor, cert_id))


@router.patch("/certificates/{cert_id}", response_model=ManagedOut)
def update_managed(cert_id: uuid.UUID, body: RenewalSettingsIn, svc: ServicesDep,
                   actor: Actor = Depends(require(REQUEST))) -> ManagedOut:
    days: int | None | str = None if body.clear_renew_days_before else (
        body.renew_days_before if body.renew_days_before is not None else "keep")
    return ManagedOut.of(svc.issuance.renewals.update(actor, cert_id, auto_renew=body.auto_renew,
                                                      renew_days_before=days))


@router.post("/certificates/{cert_id}/renew", response_model=OrderOut, status_code=201)
def renew(cert_id: uuid.UUID, svc: ServicesDep, actor: Actor = Depends(require(REQUEST))) -> OrderOut:
    return OrderOut.of(svc.issuance.renewals.renew_now(actor, cert_id))


@router.post("/certificates/{cert_id}/revoke", response_model=ManagedOut)
def revoke(cert_id: uuid.UUID, body: RevokeIn, svc: ServicesDep,
           actor: Actor = Depends(require(REQUEST))) -> ManagedOut:
    return ManagedOut.of(svc.issuance.revocation.revoke(actor, cert_id, body.reason, body.by))


@router.delete("/certificates/{cert_id}", status_code=204)
def delete(cert_id: uuid.UUID, svc: ServicesDep, actor: Actor = Depends(require(REQUEST))) -> Response:
    svc.issuance.revocation.delete(actor, cert_id)
    return Response(status_code=204)


@router.post("/certificates/{cert_id}/adopt", response_model=ManagedOut, status_code=201)
def adopt(cert_id: uuid.UUID, body: AdoptIn, svc: ServicesDep, actor: Actor = Depends(require(REQUEST))) -> ManagedOut:
    options = body.model_dump(exclude={"account_id"})
    return ManagedOut.of(svc.issuance.adopt(actor, cert_id, body.account_id, **options))
