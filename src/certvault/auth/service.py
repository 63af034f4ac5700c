"""Users, groups, passwords; logins (auth/login.py), TOTP (auth/totp.py), tokens and sessions (auth/tokens.py)."""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from certvault.audit.service import AuditLog
from certvault.auth import passwords
from certvault.auth.credentials import CredentialLookup
from certvault.auth.login import LoginOps, ip_allowed
from certvault.auth.models import Group, User
from certvault.auth.rbac import Actor, Permission, Role, parse_role, require
from certvault.auth.tokens import SESSION_PREFIX, TOKEN_PREFIX, CredentialOps, token_digest
from certvault.auth.totp import TotpOps
from certvault.config import SecuritySettings
from certvault.db.base import utcnow
from certvault.db.lookup import by_id_or_name
from certvault.errors import Conflict, Forbidden, InvalidInput, NotFound
from certvault.keyring.service import Sealer
from certvault.names import MAX_SHORT_NAME, check_name

# ASCII only: usernames compare case-insensitively, and SQLite's lower() folds ASCII alone.
USERNAME = re.compile(r"[A-Za-z0-9._@+-]{1,150}")

__all__ = ["SESSION_PREFIX", "TOKEN_PREFIX", "AuthService", "ip_allowed", "parse_networks", "token_digest"]


def parse_networks(values: Iterable[str]) -> list[str]:
    networks = []
    for value in values:
        try:
            networks.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError:
            raise InvalidInput(f"{value!r} is not an IP address or CIDR network") from None
    return networks


class AuthService(LoginOps, TotpOps, CredentialOps):
    """Users, groups and passwords; logins, TOTP, tokens and sessions come from the mixins."""

    def __init__(
        self,
        session: Session,
        audit: AuditLog,
        sealer: Sealer,
        settings: SecuritySettings,
        now: Callable[[], datetime] = utcnow,
        credentials: CredentialLookup | None = None,
        web_services: Callable[[], bool] = lambda: True,
    ) -> None:
        self._s = session
        self._audit = audit
        self._sealer = sealer
        self._settings = settings
        self._now = now
        self.credentials = credentials or CredentialLookup()  # uncached unless the App shares its cache
        self._web_services = web_services  # whether the web-services APIs (and service-account logins) are on

    # ---- users -------------------------------------------------------------------------------
    def has_users(self) -> bool:
        return bool(self._s.scalar(select(func.count(User.id)).where(User.kind == "user")))

    def bootstrap_admin(self, username: str = "admin") -> str | None:
        """Create the first administrator on an empty install; returns its one-time password."""
        if self.has_users():
            return None
        password = passwords.generate_password()
        user = User(username=username, role=Role.ADMINISTRATOR.value, display_name="Administrator",
                    password_hash=passwords.hash_password(password), must_change_password=True)
        self._s.add(user)
        self._s.flush()
        self._audit.record(Actor.system("bootstrap", via="cli"), "user.create", target_type="user",
                           target_id=user.id, details={"username": username, "role": user.role})
        return password

    def create_user(
        self,
        actor: Actor,
        username: str,
        role: str,
        *,
        password: str | None = None,
        email: str | None = None,
        display_name: str = "",
        kind: str = "user",
        allowed_networks: Iterable[str] = (),
    ) -> tuple[User, str | None]:
        require(actor, Permission.USERS_MANAGE)
        username = username.strip()
        if not USERNAME.fullmatch(username):
            raise InvalidInput("username must be 1-150 characters: ASCII letters, digits and . _ @ + -")
        check_name(display_name, "display name", 255, min_length=0)
        if self._s.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
            raise Conflict(f"user {username!r} already exists")
        generated = None
        if password is None:
            password = generated = passwords.generate_password()
        else:
            passwords.check_policy(password, self._settings.password_min_length)
        user = User(
            username=username, role=parse_role(role).value, email=email, display_name=display_name,
            kind=kind, password_hash=passwords.hash_password(password),
            must_change_password=generated is not None and kind == "user",
            allowed_networks=parse_networks(allowed_networks),
        )
        self._s.add(user)
        self._s.flush()
        self._audit.record(actor, "user.create", target_type="user", target_id=user.id,
                           details={"username": username, "role": user.role, "kind": kind,
                                    "allowed_networks": user.allowed_networks})
        return user, generated

    def list_users(self, actor: Actor, kind: str | None = None) -> list[User]:
        require(actor, Permission.USERS_READ)
        stmt = select(User).order_by(User.username)
        if kind:
            stmt = stmt.where(User.kind == kind)
        return list(self._s.scalars(stmt))

    def get_user(self, actor: Actor, ref: str | uuid.UUID) -> User:
        if not (actor.can(Permission.USERS_READ) or str(actor.id) == str(ref) or actor.name == ref):
            raise Forbidden("you may only view your own account")
        return self._find_user(ref)

    def update_user(
        self,
        actor: Actor,
        ref: str | uuid.UUID,
        *,
        role: str | None = None,
        email: str | None = None,
        display_name: str | None = None,
        is_active: bool | None = None,
        allowed_networks: Iterable[str] | None = None,
    ) -> User:
        require(actor, Permission.USERS_MANAGE)
        user = self._find_user(ref)
        changes: dict[str, object] = {}
        if role is not None:
            new_role = parse_role(role).value
            if user.role == Role.ADMINISTRATOR and new_role != user.role:
                self._ensure_other_admin(user)
            changes["role"] = user.role = new_role
        if email is not None:
            changes["email"] = user.email = email
        if display_name is not None:
            changes["display_name"] = user.display_name = check_name(display_name, "display name", 255, min_length=0)
        if is_active is not None:
            if not is_active and user.role == Role.ADMINISTRATOR:
                self._ensure_other_admin(user)
            changes["is_active"] = user.is_active = is_active
        if allowed_networks is not None:
            changes["allowed_networks"] = user.allowed_networks = parse_networks(allowed_networks)
        self._audit.record(actor, "user.update", target_type="user", target_id=user.id, details=changes)
        return user

    def delete_user(self, actor: Actor, ref: str | uuid.UUID) -> str:
        """Delete an account; its sessions, tokens, memberships and vault grants go with it (the audit log keeps
        its name). Not your own account, nor the last active administrator."""
        require(actor, Permission.USERS_MANAGE)
        user = self._find_user(ref)
        if str(user.id) == str(actor.id):
            raise Conflict("you cannot delete your own account")
        if user.role == Role.ADMINISTRATOR and user.is_active:
            self._ensure_other_admin(user)
        self._audit.record(actor, "user.delete", target_type="user", target_id=user.id,
                           details={"username": user.username, "role": user.role})
        self._s.delete(user)
        self._s.flush()
        return user.username

    def unlock(self, actor: Actor, ref: str | uuid.UUID) -> User:
        require(actor, Permission.USERS_MANAGE)
        user = self._find_user(ref)
        user.failed_logins, user.locked_until = 0, None
        self.throttle.forget_account(user.id)
        self._audit.record(actor, "user.unlock", target_type="user", target_id=user.id)
        return user

    def reset_password(self, actor: Actor, ref: str | uuid.UUID) -> str:
        """A one-time password to hand over: every session of the user ends, and until it is replaced the
        account can do nothing but change it (tokens included)."""
        require(actor, Permission.USERS_MANAGE)
        user = self._find_user(ref)
        ending = self.live_sessions(user)  # counted before the user changes: a query flushes them
        password = passwords.generate_password()
        user.password_hash = passwords.hash_password(password)
        user.must_change_password = user.kind == "user"
        self._audit.record(actor, "user.password_reset", target_type="user", target_id=user.id,
                           details={"sessions_ended": ending})
        self.end_sessions(user)
        return password

    def change_password(self, actor: Actor, current: str, new: str, *, keep: str | None = None,
                        revoke_tokens: bool = False) -> None:
        """Change your own password. Your other sessions end (`keep`: the session cookie or token this
        request came with, which stays); `revoke_tokens` revokes your API tokens too (but `keep`)."""
        user = self._find_user(actor.id or actor.name)
        if not passwords.verify_password(user.password_hash, current):
            self._audit.record(actor, "user.password_change", target_type="user", target_id=user.id,
                               outcome="failure", details={"reason": "current password wrong"})
            raise Forbidden("current password is wrong", keep_changes=True)
        passwords.check_policy(new, self._settings.password_min_length)
        if new == current:
            raise InvalidInput("the new password must differ from the current one")
        ending = {"sessions_ended": self.live_sessions(user, keep)}  # before the user changes (see reset_password)
        if revoke_tokens:  # not named "...token...": the audit log masks the values of such keys
            ending["api_credentials_revoked"] = self.live_tokens(user, keep)
        user.password_hash = passwords.hash_password(new)
        user.must_change_password = False
        self._audit.record(actor, "user.password_change", target_type="user", target_id=user.id, details=ending)
        self.end_sessions(user, keep)
        if revoke_tokens:
            self.revoke_tokens(user, keep)

    def _find_user(self, ref: str | uuid.UUID) -> User:
        user = by_id_or_name(self._s, User, ref, User.username)
        if user is None:
            raise NotFound(f"user {ref} not found")
        return user

    def _ensure_other_admin(self, user: User) -> None:
        others = self._s.scalar(
            select(func.count(User.id)).where(
                User.role == Role.ADMINISTRATOR.value, User.is_active.is_(True), User.id != user.id,
                User.kind == "user",
            )
        )
        if not others:
            raise Conflict("cannot remove the last active administrator")

    # ---- groups ------------------------------------------------------------------------------
    def create_group(self, actor: Actor, name: str, description: str = "") -> Group:
        require(actor, Permission.USERS_MANAGE)
        name = check_name(name.strip(), "group name", MAX_SHORT_NAME)
        check_name(description, "description", 255, min_length=0)
        if self._s.scalar(select(Group.id).where(Group.name == name)):
            raise Conflict(f"group {name!r} already exists")
        group = Group(name=name, description=description)
        self._s.add(group)
        self._s.flush()
        self._audit.record(actor, "group.create", target_type="group", target_id=group.id,
                           details={"name": name})
        return group

    def list_groups(self, actor: Actor) -> list[Group]:
        require(actor, Permission.USERS_READ)
        return list(self._s.scalars(select(Group).order_by(Group.name)))

    def get_group(self, ref: str | uuid.UUID) -> Group:
        group = by_id_or_name(self._s, Group, ref, Group.name)
        if group is None:
            raise NotFound(f"group {ref} not found")
        return group

    def add_member(self, actor: Actor, group_ref: str | uuid.UUID, user_ref: str | uuid.UUID) -> Group:
        require(actor, Permission.USERS_MANAGE)
        group, user = self.get_group(group_ref), self._find_user(user_ref)
        if user not in group.members:
            group.members.append(user)
        self._audit.record(actor, "group.add_member", target_type="group", target_id=group.id,
                           details={"user": user.username})
        return group

    def remove_member(self, actor: Actor, group_ref: str | uuid.UUID, user_ref: str | uuid.UUID) -> Group:
        require(actor, Permission.USERS_MANAGE)
        group, user = self.get_group(group_ref), self._find_user(user_ref)
        if user in group.members:
            group.members.remove(user)
        self._audit.record(actor, "group.remove_member", target_type="group", target_id=group.id,
                           details={"user": user.username})
        return group

    def actor_for(self, user: User, ip: str | None, via: str) -> Actor:
        return Actor(name=user.username, role=Role(user.role), kind=user.kind, id=user.id, ip=ip,
                     group_ids=frozenset(g.id for g in user.groups), via=via)

    def user_for(self, actor: Actor) -> User:
        return self._find_user(actor.id or actor.name)
