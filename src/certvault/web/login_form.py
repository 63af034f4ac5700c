"""The login form's CSRF defence, before any session exists to hold a token.

A login form posted from another site would log the victim's browser into the attacker's account (login
CSRF). Two checks stop it:
- double submit: the form page sets a random token in a `__Host-` cookie (Secure, this host only, SameSite=Strict,
  so another site can neither read nor plant it) and in the form's hidden field; a post whose field does not
  match its cookie is refused;
- origin: a post whose `Origin` (or, when there is none, `Referer`) names another host is refused outright.
  Browsers send `Origin: null` for form posts from pages with `Referrer-Policy: no-referrer` (ours): that
  says nothing, and the token decides.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable
from urllib.parse import urlsplit

from fastapi import Request, Response

from certvault.errors import Forbidden

COOKIE = "__Host-cv_login"
_TOKEN_CHARS = 43  # secrets.token_urlsafe(32)


def token_for(request: Request) -> str:
    """The token of the browser's login cookie, or a new one when it has none (or a malformed one)."""
    sent = request.cookies.get(COOKIE, "")
    if len(sent) == _TOKEN_CHARS and sent.replace("-", "").replace("_", "").isalnum():
        return sent
    return secrets.token_urlsafe(32)


def keep(response: Response, token: str) -> Response:
    """Set (or renew) the login cookie holding `token` on the form page's response."""
    response.set_cookie(COOKIE, token, httponly=True, secure=True, samesite="strict", path="/", max_age=3600)
    return response


def forget(response: Response) -> Response:
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


def check(request: Request, sent: str, hostnames: Iterable[str] = ()) -> None:
    """Refuse a login post from another site; `hostnames`: the server's public names (behind a proxy that
    rewrites Host, the browser's Origin names one of them)."""
    if _foreign(request, hostnames):
        raise Forbidden("logins are accepted only from this site's own login page")
    cookie = request.cookies.get(COOKIE, "")
    if not cookie or not hmac.compare_digest(sent.encode(), cookie.encode()):
        raise Forbidden("the login form expired or was not sent by this site; log in again on this page")


def _foreign(request: Request, hostnames: Iterable[str]) -> bool:
    origin = request.headers.get("origin")
    source = origin if origin is not None else request.headers.get("referer")
    if not source or source == "null":
        return False
    parts = urlsplit(source)
    host = request.headers.get("host", "").lower()
    return parts.netloc.lower() != host and (parts.hostname or "") not in {h.lower() for h in hostnames}
