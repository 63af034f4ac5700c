"""Shared plumbing of the compatible web-services APIs (Secret Server, Vault KV v2).

They answer errors in their vendor's shape (not problem+json), honour the web-services switch, and
authenticate with their own headers, so their routes carry `custom_auth` for the RBAC route walker.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from certvault.api.deps import client_ip
from certvault.auth.rbac import Actor, Permission, require
from certvault.container import Services
from certvault.errors import CertvaultError, Unauthenticated

ErrorRenderer = Callable[[CertvaultError], Response]


class CompatRoute(APIRoute):
    """A route whose errors render in a vendor's shape; subclasses set `render_error`."""

    custom_auth = True

    @staticmethod
    def render_error(exc: CertvaultError) -> Response:  # pragma: no cover - overridden
        raise NotImplementedError

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()
        render = type(self).render_error

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except CertvaultError as exc:
                return render(exc)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
                where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
                from certvault.errors import InvalidInput

                return render(InvalidInput(f"{where}: {first.get('msg')}" if where else str(first.get("msg"))))

        return handler


def web_services_actor(request: Request, svc: Services, token: str | None) -> Actor:
    """Authenticate a web-services call: switch on, a valid token from an allowed address, vault use."""
    svc.vault.core.require_web_services()
    if not token:
        raise Unauthenticated("authentication required: send a token")
    actor = svc.auth.authenticate_token(token.strip(), client_ip(request))
    require(actor, Permission.VAULT_USE)
    request.state.actor = actor
    return actor
