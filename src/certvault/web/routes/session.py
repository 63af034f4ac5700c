"""Log in, log out, change password."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from certvault.api.deps import SESSION_COOKIE, ServicesDep, client_ip
from certvault.errors import CertvaultError, Unauthenticated
from certvault.web import login_form
from certvault.web.deps import CurrentWebUser, WebUser, check_csrf, render

router = APIRouter(include_in_schema=False)


def _templates():  # imported lazily: web.app imports this module
    from certvault.web.app import templates

    return templates


def _safe_next(value: str | None) -> str:
    return value if value and value.startswith("/") and not value.startswith("//") else "/"


def _login_form(request: Request, status: int = 200, **context: Any) -> Response:
    """The login page, its form carrying the browser's login token (web/login_form.py)."""
    token = login_form.token_for(request)
    page = render(_templates(), request, "login.html", None, status_code=status, csrf_token=token, **context)
    return login_form.keep(page, token)


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    return _login_form(request, next_url=_safe_next(next))


@router.post("/login")
def login_submit(
    request: Request,
    svc: ServicesDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
    totp: Annotated[str | None, Form()] = None,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    try:
        login_form.check(request, csrf_token, svc.settings.server.hostnames)
        actor = svc.auth.login(username, password, client_ip(request), totp or None)
    except Unauthenticated as exc:
        needs_totp = exc.details.get("reason") == "totp_required"
        return _login_form(request, 401, next_url=_safe_next(next), username=username, totp_required=needs_totp,
                           error_message=None if needs_totp else exc.message)
    except CertvaultError as exc:
        return _login_form(request, exc.status_code, next_url=_safe_next(next), username=username,
                           error_message=exc.message)
    token, _web = svc.auth.create_session(actor)
    user = svc.auth.user_for(actor)
    target = "/account/password" if user.must_change_password else _safe_next(next)
    response = login_form.forget(RedirectResponse(target, status_code=303))
    response.set_cookie(SESSION_COOKIE, token, httponly=True, secure=True, samesite="strict",
                        max_age=svc.settings.security.session_minutes * 60, path="/")
    return response


@router.post("/logout")
def logout(request: Request, svc: ServicesDep, user: Annotated[WebUser, Depends(check_csrf)]) -> Response:
    if cookie := request.cookies.get(SESSION_COOKIE):
        svc.auth.end_session(cookie)
    svc.audit.record(user.actor, "auth.logout", target_type="user", target_id=user.actor.id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/account/password")
def password_page(request: Request, user: CurrentWebUser) -> Response:
    return render(_templates(), request, "change_password.html", user)


@router.post("/account/password")
def password_submit(
    request: Request,
    svc: ServicesDep,
    user: Annotated[WebUser, Depends(check_csrf)],
    current_password: Annotated[str, Form()],
    new_password: Annotated[str, Form()],
    revoke_tokens: Annotated[str, Form()] = "",
) -> Response:
    """Your other sessions end (this one stays); the checkbox revokes your API tokens too."""
    forced = user.user.must_change_password
    try:
        svc.auth.change_password(user.actor, current_password, new_password,
                                 keep=request.cookies.get(SESSION_COOKIE), revoke_tokens=bool(revoke_tokens))
    except CertvaultError as exc:
        field = "current" if "current password" in exc.message else "new"
        return render(_templates(), request, "change_password.html", user, status_code=exc.status_code,
                      field_errors={field: exc.message})
    return RedirectResponse("/?done=password" if forced else "/account?done=password", status_code=303)
