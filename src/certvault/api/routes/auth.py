"""Login/logout, the current user, users, groups and API tokens."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request, Response

from certvault.api.deps import (
    SESSION_COOKIE,
    CurrentActor,
    PasswordChangeActor,
    ServicesDep,
    client_ip,
    presented_credential,
    require,
)
from certvault.api.schemas import Message
from certvault.auth.rbac import Actor, Permission
from certvault.auth.schemas import (
    GroupCreate,
    GroupOut,
    LoginIn,
    LoginOut,
    MemberAdd,
    PasswordChange,
    PasswordReset,
    TokenCreate,
    TokenCreated,
    TokenOut,
    TotpBegin,
    TotpConfirm,
    TotpConfirmed,
    TotpDisable,
    TotpStart,
    UserCreate,
    UserCreated,
    UserOut,
    UserUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.post("/auth/login", response_model=LoginOut)
def login(body: LoginIn, request: Request, response: Response, svc: ServicesDep) -> LoginOut:
    actor = svc.auth.login(body.username, body.password, client_ip(request), body.totp)
    token, web = svc.auth.create_session(actor)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, secure=True, samesite="strict",
                        max_age=svc.settings.security.session_minutes * 60, path="/")
    user = svc.auth.user_for(actor)
    return LoginOut(user=UserOut.model_validate(user), csrf_token=web.csrf_token,
                    password_change_required=user.must_change_password)


@router.post("/auth/logout", response_model=Message)
def logout(request: Request, response: Response, svc: ServicesDep, actor: PasswordChangeActor) -> Message:
    if cookie := request.cookies.get(SESSION_COOKIE):
        svc.auth.end_session(cookie)
    response.delete_cookie(SESSION_COOKIE, path="/")
    svc.audit.record(actor, "auth.logout", target_type="user", target_id=actor.id)
    return Message(message="logged out")


@router.get("/users/me", response_model=UserOut)
def me(svc: ServicesDep, actor: CurrentActor) -> UserOut:
    return UserOut.model_validate(svc.auth.user_for(actor))


@router.post("/users/me/password", response_model=Message)
def change_password(body: PasswordChange, request: Request, svc: ServicesDep, actor: PasswordChangeActor) -> Message:
    """Your other sessions end; with `revoke_tokens` your API tokens are revoked too (but the one sending this)."""
    svc.auth.change_password(actor, body.current_password, body.new_password, keep=presented_credential(request),
                             revoke_tokens=body.revoke_tokens)
    return Message(message="password changed")


@router.post("/users/me/totp", response_model=TotpBegin)
def totp_begin(body: TotpStart, svc: ServicesDep, actor: CurrentActor) -> TotpBegin:
    """Start (or redo) enrolment: the current password, and a current code while TOTP is on."""
    secret, uri = svc.auth.totp_begin(actor, body.password, body.code)
    return TotpBegin(secret=secret, provisioning_uri=uri)


@router.post("/users/me/totp/confirm", response_model=TotpConfirmed)
def totp_confirm(body: TotpConfirm, svc: ServicesDep, actor: CurrentActor) -> TotpConfirmed:
    """Turns two-factor authentication on and answers its recovery codes (shown only now)."""
    codes = svc.auth.totp_confirm(actor, body.code)
    return TotpConfirmed(message="two-factor authentication enabled", recovery_codes=codes)


@router.post("/users/me/totp/disable", response_model=Message)
def totp_disable(body: TotpDisable, svc: ServicesDep, actor: CurrentActor) -> Message:
    svc.auth.totp_disable(actor, body.password, body.code)
    return Message(message="two-factor authentication disabled")


@router.delete("/users/{user_id}/totp", response_model=UserOut)
def totp_reset(user_id: uuid.UUID, svc: ServicesDep,
               actor: Actor = Depends(require(Permission.USERS_MANAGE))) -> UserOut:
    """Turn someone's two-factor authentication off (a lost device)."""
    return UserOut.model_validate(svc.auth.totp_reset(actor, user_id))


@router.post("/users/{user_id}/password-reset", response_model=PasswordReset)
def reset_password(user_id: uuid.UUID, svc: ServicesDep,
                   actor: Actor = Depends(require(Permission.USERS_MANAGE))) -> PasswordReset:
    """A one-time password for the user; every session of theirs ends."""
    return PasswordReset(one_time_password=svc.auth.reset_password(actor, user_id))


@router.get("/users", response_model=list[UserOut])
def list_users(svc: ServicesDep, actor: Actor = Depends(require(Permission.USERS_READ))) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in svc.auth.list_users(actor)]


@router.post("/users", response_model=UserCreated, status_code=201)
def create_user(body: UserCreate, svc: ServicesDep,
                actor: Actor = Depends(require(Permission.USERS_MANAGE))) -> UserCreated:
    user, password = svc.auth.create_user(
        actor, body.username, body.role, password=body.password, email=body.email,
        display_name=body.display_name, allowed_networks=body.allowed_networks,
    )
    return UserCreated(user=UserOut.model_validate(user), one_time_password=password)


@router.get("/users/{user_id}", response_model=UserOut)
def get_user(user_id: uuid.UUID, svc: ServicesDep,
             actor: Actor = Depends(require(Permission.USERS_READ))) -> UserOut:
    return UserOut.model_validate(svc.auth.get_user(actor, user_id))


@router.patch("/users/{user_id}", response_model=UserOut)
def update_user(user_id: uuid.UUID, body: UserUpdate, svc: ServicesDep,
                actor: Actor = Depends(require(Permission.USERS_MANAGE))) -> UserOut:
    user = svc.auth.update_user(actor, user_id, **body.model_dump(exclude_unset=True))
    return UserOut.model_validate(user)


@router.post("/users/{user_id}/unlock", response_model=UserOut)
def unlock_user(user_id: uuid.UUID, svc: ServicesDep,
                actor: Actor = Depends(require(Permission.USERS_MANAGE))) -> UserOut:
    return UserOut.model_validate(svc.auth.unlock(actor, user_id))


@router.get("/groups", response_model=list[GroupOut])
def list_groups(svc: ServicesDep, actor: Actor = Depends(require(Permission.USERS_READ))) -> list[GroupOut]:
    return [GroupOut.of(g) for g in svc.auth.list_groups(actor)]


@router.post("/groups", response_model=GroupOut, status_code=201)
def create_group(body: GroupCreate, svc: ServicesDep,
                 actor: Actor = Depends(require(Permission.USERS_MANAGE))) -> GroupOut:
    return GroupOut.of(svc.auth.create_group(actor, body.name, body.description))


@router.post("/groups/{group_id}/members", response_model=GroupOut)
def add_member(group_id: uuid.UUID, body: MemberAdd, svc: ServicesDep,
               actor: Actor = Depends(require(Permission.USERS_MANAGE))) -> GroupOut:
    return GroupOut.of(svc.auth.add_member(actor, group_id, body.user))


@router.delete("/groups/{group_id}/members/{user_id}", response_model=GroupOut)
def remove_member(group_id: uuid.UUID, user_id: uuid.UUID, svc: ServicesDep,
                  actor: Actor = Depends(require(Permission.USERS_MANAGE))) -> GroupOut:
    return GroupOut.of(svc.auth.remove_member(actor, group_id, user_id))


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(svc: ServicesDep, actor: CurrentActor) -> list[TokenOut]:
    return [TokenOut.model_validate(t) for t in svc.auth.list_tokens(actor)]


@router.post("/tokens", response_model=TokenCreated, status_code=201)
def create_token(body: TokenCreate, svc: ServicesDep, actor: CurrentActor) -> TokenCreated:
    plaintext, token = svc.auth.create_token(actor, body.user, body.name, body.days)
    return TokenCreated(token=plaintext, info=TokenOut.model_validate(token))


@router.delete("/tokens/{token_id}", response_model=Message)
def revoke_token(token_id: uuid.UUID, svc: ServicesDep, actor: CurrentActor) -> Message:
    svc.auth.revoke_token(actor, token_id)
    return Message(message="token revoked")
