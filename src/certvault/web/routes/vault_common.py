"""What the vault pages share: gates, the savepoint around each form action, form parsing, messages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from certvault.auth.rbac import Permission
from certvault.container import Services
from certvault.errors import CertvaultError, InvalidInput
from certvault.web.deps import WebUser, check_csrf, page


async def form_data(request: Request) -> FormData:
    """The whole form, for forms whose fields depend on a template or repeat (already read by check_csrf)."""
    return await request.form()


FormDep = Annotated[FormData, Depends(form_data)]
VaultPage = Annotated[WebUser, Depends(page(Permission.VAULT_USE))]
Poster = Annotated[WebUser, Depends(check_csrf)]
T = TypeVar("T")
NO_STORE = {"Cache-Control": "no-store"}

# Fixed messages after a successful action (?done=KEY): the URL never carries free text into the page.
DONE = {
    "folder": "Folder created.", "granted": "Permission saved.", "revoked": "Permission revoked.",
    "inheritance": "Inheritance changed.", "created": "Secret created.", "edited": "Secret saved.",
    "checked-out": "Checked out: the secret is yours until you check it in or the period ends.",
    "checked-in": "Checked in.", "settings": "Settings saved.", "unchanged": "Nothing changed.",
    "requested": "Access requested: approvers have been notified.", "decided": "Decision recorded.",
    "dl-enabled": "DoubleLock enabled.", "dl-disabled": "DoubleLock removed.", "dl-shared": "DoubleLock shared.",
    "passphrase": "DoubleLock passphrase saved.", "channel": "Channel added.", "tested": "Test message queued; "
    "its delivery shows in the outbox below.", "enabled": "Channel enabled.", "disabled": "Channel disabled.",
    "deleted": "Deleted.", "subscribed": "Subscription saved.", "unsubscribed": "Subscription removed.",
}


def templates() -> Any:
    from certvault.web.app import templates as loaded

    return loaded


def see_other(url: str, done: str | None = None) -> Response:
    if done:
        url += ("&" if "?" in url else "?") + f"done={done}"
    return RedirectResponse(url, status_code=303)


def done_message(done: str | None) -> str | None:
    return DONE.get(done or "")


def attempt(svc: Services, action: Callable[[], T]) -> tuple[T | None, CertvaultError | None]:
    """Run one form action in a savepoint: a refusal undoes the action's changes (keeping only the
    audit rows a service chose to keep) and comes back as the error to show on the page."""
    savepoint = svc.session.begin_nested()
    try:
        result = action()
    except CertvaultError as exc:
        if exc.keep_changes:
            savepoint.commit()
        else:
            savepoint.rollback()
        return None, exc
    savepoint.commit()
    return result, None


def checkbox(value: str | None) -> bool:
    return value in ("on", "yes", "true", "1")


def optional_int(value: str, what: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(f"{what} must be a whole number") from None


def optional_date(value: str, what: str) -> datetime | None:
    """A date from <input type=date>: the end of that day, UTC."""
    value = value.strip()
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        raise InvalidInput(f"{what} must be a date like 2027-01-31") from None
    return day.replace(hour=23, minute=59, tzinfo=UTC)


def words(text: str) -> list[str]:
    """Comma, space or newline separated items (networks, recipients)."""
    return [item for item in text.replace(",", " ").split() if item]
