"""Web-page dependencies: session cookie login, CSRF on every form post, permission gates."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from certvault.api.deps import SESSION_COOKIE, ServicesDep, client_ip, session_actor
from certvault.auth.credentials import Account
from certvault.auth.rbac import Actor, Permission
from certvault.errors import Forbidden, Unauthenticated
from certvault.web.filters import plain_words


class LoginRequired(Exception):
    """Send the browser to the login page (then back to `next_url`), or with `direct` straight to `next_url`."""

    def __init__(self, next_url: str, *, direct: bool = False) -> None:
        self.next_url = next_url
        self.direct = direct


@dataclass
class WebUser:
    actor: Actor
    user: Account  # username, display_name, must_change_password ... as authenticated
    csrf_token: str

    def can(self, permission: Permission | str) -> bool:
        return self.actor.can(Permission(permission))


async def web_user(request: Request, svc: ServicesDep) -> WebUser:
    """The session cookie's user, looked up like the API's (api/deps.py: outside the page's transaction)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise LoginRequired(_here(request))
    try:
        # Admitted while a password change is pending, to be sent to the change-password page below.
        actor, found = await run_in_threadpool(session_actor, svc, cookie, client_ip(request), pending_ok=True)
    except Unauthenticated:
        raise LoginRequired(_here(request)) from None
    request.state.actor = actor
    assert found.account is not None and found.csrf_token is not None  # admitted sessions have both
    if found.account.must_change_password and request.url.path not in ("/account/password", "/logout"):
        raise LoginRequired("/account/password", direct=True)
    request.state.web_user = user = WebUser(actor, found.account, found.csrf_token)
    return user


CurrentWebUser = Annotated[WebUser, Depends(web_user)]


class _PageGate:
    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def __call__(self, user: CurrentWebUser) -> WebUser:  # async: a role check needs no thread
        if not user.actor.can(self.permission):
            raise Forbidden(f"your role ({user.actor.role.value}) may not open this page")
        return user


def page(permission: Permission) -> Callable[..., WebUser]:
    return _PageGate(permission)  # type: ignore[return-value]


async def check_csrf(request: Request, user: CurrentWebUser) -> WebUser:
    """Every state-changing form carries the session's CSRF token."""
    form = await request.form()
    sent = str(form.get("csrf_token", "")) or request.headers.get("x-csrf-token", "")
    if not hmac.compare_digest(sent, user.csrf_token):
        raise Forbidden("the form expired or was not sent by this site (CSRF check failed); reload it")
    return user


def _here(request: Request) -> str:
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return path if path.startswith("/") else "/"


def login_redirect_target(next_url: str) -> str:
    return "/login?next=" + quote(next_url, safe="/")


def render(templates: Jinja2Templates, request: Request, name: str, user: WebUser | None,
           status_code: int = 200, **context: Any) -> Any:
    for key in ("error_message", "form_error", "message"):  # messages from the services, for a browser
        if isinstance(context.get(key), str):
            context[key] = plain_words(context[key])
    if isinstance(context.get("field_errors"), dict):
        context["field_errors"] = {k: plain_words(v) for k, v in context["field_errors"].items()}
    return templates.TemplateResponse(
        request, name, {"user": user, "csrf_token": user.csrf_token if user else "", **context},
        status_code=status_code,
    )
