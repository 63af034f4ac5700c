"""Administration pages: users (add, edit, disable, delete, reset password, unlock) and groups."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from certvault.api.deps import ServicesDep
from certvault.auth.rbac import Permission, Role
from certvault.container import Services
from certvault.errors import CertvaultError
from certvault.web.deps import WebUser, check_csrf, page, render

router = APIRouter(include_in_schema=False)
Reader = Annotated[WebUser, Depends(page(Permission.USERS_READ))]
Poster = Annotated[WebUser, Depends(check_csrf)]
ROLES = [r.value for r in Role]


def _templates() -> Any:
    from certvault.web.app import templates

    return templates


def _see_other(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


def _networks(text: str) -> list[str]:
    return [n for n in text.replace(",", " ").split() if n]


def _field_of(message: str, fields: tuple[str, ...]) -> str:
    """The form field a service's refusal is about (its message names it), else the first."""
    lowered = message.lower()
    return next((f for f in fields if f.replace("_", " ") in lowered), fields[0])


def _users_page(request: Request, svc: Services, user: WebUser, status: int = 200, **context: Any) -> Response:
    return render(_templates(), request, "admin/users.html", user, status_code=status, roles=ROLES,
                  users=svc.auth.list_users(user.actor), **context)


@router.get("/admin/users")
def users_page(request: Request, svc: ServicesDep, user: Reader) -> Response:
    return _users_page(request, svc, user)


@router.post("/admin/users")
def create_user(
    request: Request, svc: ServicesDep, user: Poster,
    username: Annotated[str, Form()], role: Annotated[str, Form()],
    email: Annotated[str, Form()] = "", allowed_networks: Annotated[str, Form()] = "",
) -> Response:
    try:
        created, password = svc.auth.create_user(user.actor, username, role, email=email or None,
                                                 allowed_networks=_networks(allowed_networks))
    except CertvaultError as exc:
        field = _field_of(exc.message, ("username", "allowed_networks", "role", "email"))
        return _users_page(request, svc, user, exc.status_code, field_errors={field: exc.message},
                           values={"username": username, "email": email, "allowed_networks": allowed_networks,
                                   "role": role})
    return _users_page(request, svc, user, 201, created=created, one_time_password=password)


def _user_page(request: Request, svc: Services, user: WebUser, user_id: uuid.UUID, status: int = 200,
               **context: Any) -> Response:
    account = svc.auth.get_user(user.actor, user_id)
    return render(_templates(), request, "admin/user.html", user, status_code=status, account=account, roles=ROLES,
                  groups=svc.auth.list_groups(user.actor), **context)


@router.get("/admin/users/{user_id}")
def user_page(request: Request, user_id: uuid.UUID, svc: ServicesDep, user: Reader) -> Response:
    return _user_page(request, svc, user, user_id)


@router.post("/admin/users/{user_id}")
def user_save(
    request: Request, user_id: uuid.UUID, svc: ServicesDep, user: Poster,
    role: Annotated[str, Form()], email: Annotated[str, Form()] = "", display_name: Annotated[str, Form()] = "",
    allowed_networks: Annotated[str, Form()] = "",
) -> Response:
    try:
        svc.auth.update_user(user.actor, user_id, role=role, email=email or None, display_name=display_name,
                             allowed_networks=_networks(allowed_networks))
    except CertvaultError as exc:
        field = _field_of(exc.message, ("role", "display_name", "allowed_networks", "email"))
        field = "allowed_networks" if "cidr" in exc.message.lower() else field
        return _user_page(request, svc, user, user_id, exc.status_code, field_errors={field: exc.message})
    return _see_other(f"/admin/users/{user_id}?done=user-saved")


@router.post("/admin/users/{user_id}/{action}")
def user_action(request: Request, user_id: uuid.UUID, action: str, svc: ServicesDep, user: Poster) -> Response:
    """disable, enable, unlock, reset-totp, reset-password (shows the one-time password once), delete."""
    simple = {
        "disable": (lambda: svc.auth.update_user(user.actor, user_id, is_active=False), "user-disabled"),
        "enable": (lambda: svc.auth.update_user(user.actor, user_id, is_active=True), "user-enabled"),
        "unlock": (lambda: svc.auth.unlock(user.actor, user_id), "user-unlocked"),
        "reset-totp": (lambda: svc.auth.totp_reset(user.actor, user_id), "totp-reset"),
    }
    try:
        if action == "reset-password":
            password = svc.auth.reset_password(user.actor, user_id)
            return _user_page(request, svc, user, user_id, one_time_password=password)
        if action == "delete":
            svc.auth.delete_user(user.actor, user_id)
            return _see_other("/admin/users?done=user-deleted")
        if action not in simple:
            return _see_other(f"/admin/users/{user_id}")
        call, done = simple[action]
        call()
    except CertvaultError as exc:
        return _user_page(request, svc, user, user_id, exc.status_code, error_message=exc.message)
    return _see_other(f"/admin/users/{user_id}?done={done}")


# ---- groups --------------------------------------------------------------------------------------
def _groups_page(request: Request, svc: Services, user: WebUser, status: int = 200, **context: Any) -> Response:
    return render(_templates(), request, "admin/groups.html", user, status_code=status,
                  groups=svc.auth.list_groups(user.actor), **context)


@router.get("/admin/groups")
def groups_page(request: Request, svc: ServicesDep, user: Reader) -> Response:
    return _groups_page(request, svc, user)


@router.post("/admin/groups")
def create_group(request: Request, svc: ServicesDep, user: Poster, name: Annotated[str, Form()],
                 description: Annotated[str, Form()] = "") -> Response:
    try:
        group = svc.auth.create_group(user.actor, name, description)
    except CertvaultError as exc:
        field = "description" if "description" in exc.message else "name"
        return _groups_page(request, svc, user, exc.status_code, field_errors={field: exc.message},
                            values={"name": name, "description": description})
    return _see_other(f"/admin/groups/{group.id}?done=group-created")


def _group_page(request: Request, svc: Services, user: WebUser, group_id: uuid.UUID, status: int = 200,
                **context: Any) -> Response:
    if not user.can(Permission.USERS_READ):
        svc.auth.list_groups(user.actor)  # raises the service's refusal
    group = svc.auth.get_group(group_id)
    members = {m.id for m in group.members}
    others = [u for u in svc.auth.list_users(user.actor) if u.id not in members]
    return render(_templates(), request, "admin/group.html", user, status_code=status, group=group,
                  others=others, **context)


@router.get("/admin/groups/{group_id}")
def group_page(request: Request, group_id: uuid.UUID, svc: ServicesDep, user: Reader) -> Response:
    return _group_page(request, svc, user, group_id)


@router.post("/admin/groups/{group_id}/members")
def add_member(request: Request, group_id: uuid.UUID, svc: ServicesDep, user: Poster,
               member: Annotated[str, Form()]) -> Response:
    try:
        svc.auth.add_member(user.actor, group_id, member)
    except CertvaultError as exc:
        return _group_page(request, svc, user, group_id, exc.status_code, field_errors={"member": exc.message})
    return _see_other(f"/admin/groups/{group_id}?done=member-added")


@router.post("/admin/groups/{group_id}/members/{user_id}/remove")
def remove_member(request: Request, group_id: uuid.UUID, user_id: uuid.UUID, svc: ServicesDep,
                  user: Poster) -> Response:
    svc.auth.remove_member(user.actor, group_id, user_id)
    return _see_other(f"/admin/groups/{group_id}?done=member-removed")
