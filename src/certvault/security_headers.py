"""Security headers on every response certvault serves (pure ASGI: no per-request middleware objects).

HSTS because certvault only speaks HTTPS; no-store because API answers and pages carry secrets and
must not linger in caches; a strict CSP (scripts only from /static) plus frame, sniffing and referrer
protections for the web UI. Swagger UI at /api/docs loads its assets from a CDN and keeps no CSP.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")

_COMMON = [
    (b"strict-transport-security", b"max-age=31536000"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
_DYNAMIC = [*_COMMON, (b"cache-control", b"no-store"), (b"content-security-policy", CSP.encode())]
_STATIC = _COMMON  # stylesheets and scripts may be cached
_DOCS = [*_COMMON, (b"cache-control", b"no-store")]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        extra = _STATIC if path.startswith("/static/") else _DOCS if path.startswith("/api/docs") else _DYNAMIC

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)
