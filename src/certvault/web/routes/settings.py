"""Runtime settings (what GET/PUT /api/v1/settings holds): one form per setting, typed by its current value."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from certvault.api.deps import ServicesDep
from certvault.auth.rbac import Permission
from certvault.container import Services
from certvault.errors import CertvaultError, InvalidInput
from certvault.web.deps import WebUser, check_csrf, page, render

router = APIRouter(include_in_schema=False)
Manager = Annotated[WebUser, Depends(page(Permission.SETTINGS_MANAGE))]


def _templates() -> Any:
    from certvault.web.app import templates

    return templates


def widget(value: Any) -> str:
    if isinstance(value, bool):
        return "yesno"
    if isinstance(value, int | float):
        return "number"
    return "text" if isinstance(value, str) or value is None else "json"


def parse_value(current: Any, text: str) -> Any:
    """The typed value of what was typed, after the type of the current value."""
    kind = widget(current)
    try:
        if kind == "yesno":
            return {"yes": True, "no": False}[text]
        if kind == "number":
            return int(text) if isinstance(current, int) and text.strip().lstrip("-").isdigit() else float(text)
        return json.loads(text) if kind == "json" else text
    except (KeyError, ValueError):
        expected = {"yesno": "yes or no", "number": "a number", "json": "JSON"}[kind]
        raise InvalidInput(f"the value must be {expected}") from None


def _page(request: Request, svc: Services, user: WebUser, status: int = 200, **context: Any) -> Response:
    values = svc.system.all()
    rows = [{"key": k, "value": v, "widget": widget(v), "shown": json.dumps(v) if widget(v) == "json" else v}
            for k, v in sorted(values.items())]
    return render(_templates(), request, "settings.html", user, status_code=status, rows=rows, **context)


@router.get("/settings")
def settings_page(request: Request, svc: ServicesDep, user: Manager) -> Response:
    return _page(request, svc, user)


@router.post("/settings/{key}")
def setting_save(request: Request, key: str, svc: ServicesDep, user: Annotated[WebUser, Depends(check_csrf)],
                 value: Annotated[str, Form()] = "") -> Response:
    current = svc.system.all()
    try:
        if key not in current:
            raise InvalidInput(f"there is no setting {key!r}")
        svc.system.set(user.actor, key, parse_value(current[key], value))
    except CertvaultError as exc:
        return _page(request, svc, user, exc.status_code, field_errors={key: exc.message})
    return RedirectResponse("/settings?done=setting", status_code=303)
