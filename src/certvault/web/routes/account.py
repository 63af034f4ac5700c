"""My account: profile, two-factor enrolment with a QR code, API tokens (the password: routes/session.py)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from certvault.api.deps import ServicesDep
from certvault.container import Services
from certvault.errors import CertvaultError
from certvault.web.deps import CurrentWebUser, WebUser, check_csrf, render

router = APIRouter(include_in_schema=False)
Poster = Annotated[WebUser, Depends(check_csrf)]


def _templates() -> Any:
    from certvault.web.app import templates

    return templates


def qr_svg(text: str) -> Markup:
    """The QR code of `text` as inline SVG, drawn on the server (no script, no image request)."""
    import segno  # only this page needs it

    svg = segno.make(text, error="m").svg_inline(scale=5, title="QR code for your authenticator app",
                                                 svgclass="qr-code", lineclass=None)
    labelled = svg.replace("<svg ", '<svg role="img" aria-label="QR code for your authenticator app" ', 1)
    return Markup(labelled)  # noqa: S704 - segno's own SVG of a URI it encoded; no text of ours is inside


def _account_page(request: Request, svc: Services, user: WebUser, status: int = 200, **context: Any) -> Response:
    return render(_templates(), request, "account.html", user, status_code=status, me=svc.auth.user_for(user.actor),
                  tokens=svc.auth.list_tokens(user.actor), **context)


@router.get("/account")
def account_page(request: Request, svc: ServicesDep, user: CurrentWebUser) -> Response:
    return _account_page(request, svc, user)


@router.post("/account/totp/begin")
def totp_begin(request: Request, svc: ServicesDep, user: Poster, password: Annotated[str, Form()],
               code: Annotated[str, Form()] = "") -> Response:
    try:
        secret, uri = svc.auth.totp_begin(user.actor, password, code or None)
    except CertvaultError as exc:
        field = "totp-code" if "code" in exc.message.split(":")[0] else "totp-password"
        return _account_page(request, svc, user, exc.status_code, field_errors={field: exc.message.split(":")[0]})
    return _account_page(request, svc, user, enrolling={"secret": secret, "qr": qr_svg(uri)})


@router.post("/account/totp/confirm")
def totp_confirm(request: Request, svc: ServicesDep, user: Poster, code: Annotated[str, Form()]) -> Response:
    try:
        codes = svc.auth.totp_confirm(user.actor, code.strip())
    except CertvaultError as exc:
        return _account_page(request, svc, user, exc.status_code, field_errors={"confirm-code": exc.message},
                             enrolling={"pending": True})
    return _account_page(request, svc, user, info_message="Two-factor authentication is on.", recovery_codes=codes)


@router.post("/account/totp/recovery-codes")
def totp_recovery_codes(request: Request, svc: ServicesDep, user: Poster, password: Annotated[str, Form()],
                        code: Annotated[str, Form()] = "") -> Response:
    try:
        codes = svc.auth.totp_new_recovery_codes(user.actor, password, code.strip())
    except CertvaultError as exc:
        return _account_page(request, svc, user, exc.status_code,
                             field_errors={"off-password": exc.message.split(":")[0]})
    return _account_page(request, svc, user, info_message="New recovery codes; the old ones no longer work.",
                         recovery_codes=codes)


@router.post("/account/totp/disable")
def totp_disable(request: Request, svc: ServicesDep, user: Poster, password: Annotated[str, Form()],
                 code: Annotated[str, Form()] = "") -> Response:
    try:
        svc.auth.totp_disable(user.actor, password, code.strip())
    except CertvaultError as exc:
        return _account_page(request, svc, user, exc.status_code,
                             field_errors={"off-password": exc.message.split(":")[0]})
    return RedirectResponse("/account?done=totp-off", status_code=303)


@router.post("/account/tokens")
def token_create(request: Request, svc: ServicesDep, user: Poster, name: Annotated[str, Form()],
                 days: Annotated[str, Form()] = "") -> Response:
    try:
        lifetime = int(days) if days.strip() else None
    except ValueError:
        return _account_page(request, svc, user, 422, field_errors={"token-days": "the lifetime is a number of days"},
                             values={"name": name, "days": days})
    try:
        plaintext, token = svc.auth.create_token(user.actor, None, name, lifetime)
    except CertvaultError as exc:
        field = "token-days" if "lifetime" in exc.message or "days" in exc.message else "token-name"
        return _account_page(request, svc, user, exc.status_code, field_errors={field: exc.message},
                             values={"name": name, "days": days})
    return _account_page(request, svc, user, 201, new_token={"value": plaintext, "name": token.name})


@router.post("/account/tokens/{token_id}/revoke")
def token_revoke(token_id: uuid.UUID, svc: ServicesDep, user: Poster) -> Response:
    svc.auth.revoke_token(user.actor, token_id)
    return RedirectResponse("/account?done=token-revoked", status_code=303)
