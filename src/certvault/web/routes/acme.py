"""Web pages for ACME: requests with challenge values, accounts, DNS accounts, renewals, revocation."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from certvault.acme_client import PRESETS
from certvault.api.deps import ServicesDep
from certvault.auth.rbac import Permission
from certvault.container import Services
from certvault.errors import CertvaultError, InvalidInput
from certvault.issuance.requests import RequestSpec
from certvault.issuance.revocation import REASONS
from certvault.issuance.schemas import OrderOut
from certvault.web.deps import WebUser, check_csrf, page, render
from certvault.web.routes.acme_dns import dns_choices

router = APIRouter(include_in_schema=False)
Reader = Annotated[WebUser, Depends(page(Permission.ACME_READ))]
Poster = Annotated[WebUser, Depends(check_csrf)]


def _templates() -> Any:
    from certvault.web.app import templates

    return templates


def _see_other(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


def _lines(text: str) -> list[str]:
    return [item for item in text.replace(",", " ").split() if item]


@router.get("/acme")
def overview(request: Request, svc: ServicesDep, user: Reader, status: str | None = None) -> Response:
    rows, total = svc.issuance.requests.list_requests(user.actor, status or None, limit=100)
    fleet = svc.issuance.renewals.fleet(user.actor, 8)
    return render(_templates(), request, "acme/overview.html", user, orders=[OrderOut.of(o) for o in rows],
                  total=total, fleet=fleet, status=status or "")


def _form_page(request: Request, svc: Services, user: WebUser, template: str, error: CertvaultError | None = None,
               **context: Any) -> Response:
    """A form page with the accounts to choose from; after a refusal, the reason and the right status."""
    return render(_templates(), request, template, user, status_code=error.status_code if error else 200,
                  error_message=error.message if error else None,
                  accounts=svc.issuance.accounts.list_accounts(user.actor),
                  dns_accounts=svc.issuance.dns_accounts.list_accounts(user.actor), **context)


@router.get("/acme/request")
def request_form(request: Request, svc: ServicesDep, user: Reader) -> Response:
    return _form_page(request, svc, user, "acme/request.html")


@router.post("/acme/request")
def request_submit(request: Request, svc: ServicesDep, user: Poster, account_id: Annotated[str, Form()],
                   domains: Annotated[str, Form()], challenge: Annotated[str, Form()] = "http-01",
                   dns_account_id: Annotated[str, Form()] = "", http_mode: Annotated[str, Form()] = "standalone",
                   webroot: Annotated[str, Form()] = "", key: Annotated[str, Form()] = "ec256",
                   keystore: Annotated[str, Form()] = "pem", keystore_password: Annotated[str, Form()] = "",
                   key_policy: Annotated[str, Form()] = "new", profile: Annotated[str, Form()] = "") -> Response:
    spec = RequestSpec(account_id=account_id, domains=_lines(domains), challenge=challenge,
                       dns_account_id=dns_account_id or None, http_mode=http_mode, webroot=webroot or None, key=key,
                       keystore=keystore, keystore_password=keystore_password or None, key_policy=key_policy,
                       profile=profile or None)
    try:
        order = svc.issuance.requests.request(user.actor, spec)
    except CertvaultError as exc:
        return _form_page(request, svc, user, "acme/request.html", exc)
    return _see_other(f"/acme/orders/{order.id}")


@router.get("/acme/orders/{order_id}")
def order_page(request: Request, order_id: uuid.UUID, svc: ServicesDep, user: Reader) -> Response:
    order = svc.issuance.requests.get(user.actor, order_id)
    out = OrderOut.of(order, svc.issuance.requests.authorizations(order))
    return render(_templates(), request, "acme/order.html", user, order=out, dns_accounts=dns_choices(svc, user))


@router.get("/acme/orders/{order_id}/live")
def order_live(request: Request, order_id: uuid.UUID, svc: ServicesDep, user: Reader) -> Response:
    """The changing part of the order page, for its htmx refresh."""
    order = svc.issuance.requests.get(user.actor, order_id)
    out = OrderOut.of(order, svc.issuance.requests.authorizations(order))
    return render(_templates(), request, "acme/_order_live.html", user, order=out,
                  dns_accounts=dns_choices(svc, user))


@router.post("/acme/orders/{order_id}/{action}")
def order_action(request: Request, order_id: uuid.UUID, action: str, svc: ServicesDep, user: Poster) -> Response:
    actions = {"verify": svc.issuance.requests.verify, "new-challenge": svc.issuance.requests.new_challenge,
               "cancel": svc.issuance.requests.cancel}
    if action not in actions:
        return _see_other(f"/acme/orders/{order_id}")
    actions[action](user.actor, order_id)
    return _see_other(f"/acme/orders/{order_id}" + ("?done=cancelled" if action == "cancel" else ""))


# ---- accounts ------------------------------------------------------------------------------------
@router.get("/acme/accounts")
def accounts_page(request: Request, svc: ServicesDep, user: Reader) -> Response:
    return _form_page(request, svc, user, "acme/accounts.html", presets=PRESETS)


@router.post("/acme/accounts")
def accounts_register(request: Request, svc: ServicesDep, user: Poster, directory: Annotated[str, Form()],
                      email: Annotated[str, Form()] = "", agree_tos: Annotated[str, Form()] = "",
                      eab_kid: Annotated[str, Form()] = "", eab_hmac: Annotated[str, Form()] = "",
                      ca_bundle_pem: Annotated[str, Form()] = "") -> Response:
    try:
        svc.issuance.accounts.register(user.actor, directory, email or None, agree_tos == "yes",
                                       eab_kid=eab_kid or None, eab_hmac=eab_hmac or None,
                                       ca_bundle_pem=ca_bundle_pem or None)
    except CertvaultError as exc:  # shown again with what was typed (never the EAB HMAC key)
        typed = {"directory": directory, "email": email, "eab_kid": eab_kid, "ca_bundle_pem": ca_bundle_pem}
        return _form_page(request, svc, user, "acme/accounts.html", exc, presets=PRESETS, form=typed)
    return _see_other("/acme/accounts?done=account-registered")


@router.post("/acme/accounts/{account_id}/{action}")
def account_action(request: Request, account_id: uuid.UUID, action: str, svc: ServicesDep, user: Poster,
                   confirm: Annotated[str, Form()] = "", email: Annotated[str, Form()] = "") -> Response:
    try:
        if action == "update":
            svc.issuance.accounts.update_email(user.actor, account_id, email or None)
        elif confirm != "yes":
            raise InvalidInput("tick the confirmation box first")
        elif action == "deactivate":
            svc.issuance.accounts.deactivate(user.actor, account_id)
        elif action == "delete":
            svc.issuance.accounts.delete(user.actor, account_id)
    except CertvaultError as exc:
        return _form_page(request, svc, user, "acme/accounts.html", exc, presets=PRESETS)
    done = {"update": "account", "deactivate": "account-deactivated", "delete": "account-deleted"}.get(action, "saved")
    return _see_other(f"/acme/accounts?done={done}")


@router.post("/acme/dns-accounts")
def dns_add(request: Request, svc: ServicesDep, user: Poster, name: Annotated[str, Form()],
            server: Annotated[str, Form()], key_name: Annotated[str, Form()], key_secret: Annotated[str, Form()],
            algorithm: Annotated[str, Form()] = "hmac-sha256", zone: Annotated[str, Form()] = "") -> Response:
    try:
        svc.issuance.dns_accounts.add(user.actor, "rfc2136", name, {"server": server, "key_name": key_name,
                                                                    "algorithm": algorithm, "zone": zone or None},
                                      {"key_secret": key_secret})
    except CertvaultError as exc:
        return _form_page(request, svc, user, "acme/accounts.html", exc, presets=PRESETS)
    return _see_other("/acme/accounts?done=saved")


@router.post("/acme/dns-accounts/{account_id}/delete")
def dns_delete(request: Request, account_id: uuid.UUID, svc: ServicesDep, user: Poster) -> Response:
    svc.issuance.dns_accounts.delete(user.actor, account_id)
    return _see_other("/acme/accounts?done=deleted")


# ---- renewals, revocation, delete ----------------------------------------------------------------
@router.get("/acme/renewals")
def renewals_page(request: Request, svc: ServicesDep, user: Reader) -> Response:
    return render(_templates(), request, "acme/renewals.html", user,
                  managed=svc.issuance.renewals.list_managed(user.actor),
                  fleet=svc.issuance.renewals.fleet(user.actor, 12))


@router.post("/acme/certificates/{cert_id}/renew")
def renew(request: Request, cert_id: uuid.UUID, svc: ServicesDep, user: Poster) -> Response:
    order = svc.issuance.renewals.renew_now(user.actor, cert_id)
    return _see_other(f"/acme/orders/{order.id}")


@router.get("/acme/certificates/{cert_id}/{action}")
def confirm_page(request: Request, cert_id: uuid.UUID, action: str, svc: ServicesDep, user: Reader) -> Response:
    managed = svc.issuance.renewals.for_certificate(user.actor, cert_id)
    return render(_templates(), request, "acme/confirm.html", user, managed=managed, action=action, reasons=REASONS)


@router.post("/acme/certificates/{cert_id}/{action}")
def confirmed(request: Request, cert_id: uuid.UUID, action: str, svc: ServicesDep, user: Poster,
              confirm: Annotated[str, Form()] = "", reason: Annotated[int, Form()] = 0,
              by: Annotated[str, Form()] = "account") -> Response:
    managed = svc.issuance.renewals.for_certificate(user.actor, cert_id)
    try:
        if confirm != "yes":
            raise InvalidInput("tick the confirmation box first")
        if action == "revoke":
            svc.issuance.revocation.revoke(user.actor, cert_id, reason, by)
        elif action == "delete":
            svc.issuance.revocation.delete(user.actor, cert_id)
    except CertvaultError as exc:
        return render(_templates(), request, "acme/confirm.html", user, status_code=400, managed=managed,
                      action=action, reasons=REASONS, error_message=exc.message)
    return _see_other("/acme/renewals?done=" + ("revoked" if action == "revoke" else "managed-deleted"))
