"""Users, groups, logins (password, TOTP, lockout, IP rules), API tokens and browser sessions."""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from certvault.audit.service import AuditLog
from certvault.auth import passwords
from certvault.auth.credentials import CredentialLookup, address_allowed
from certvault.auth.models import Group, User
from certvault.auth.rbac import Actor, Permission, Role, parse_role, require
from certvault.auth.tokens import SESSION_PREFIX, TOKEN_PREFIX, CredentialOps, token_digest
from certvault.config import SecuritySettings
from certvault.db.base import utcnow
from certvault.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from certvault.keyring.service import Sealer

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


def ip_allowed(user: User, ip: str | None) -> bool:
    return address_allowed(ip, [ipaddress.ip_network(net) for net in user.allowed_networks or ()])


class AuthService(CredentialOps):
    """Users, groups, password and TOTP logins; tokens and sessions come from CredentialOps."""

    def __init__(
        self,
        session: Session,
        audit: AuditLog,
        sealer: Sealer,
        settings: SecuritySettings,
        now: Callable[[], datetime] = utcnow,
        credentials: CredentialLookup | None = None,
    ) -> None:
        self._s = session
        self._audit = audit
        self._sealer = sealer
        self._settings = settings
        self._now = now
        self.credentials = credentials or CredentialLookup()  # uncached unless the App shares its cache

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
            changes["display_name"] = user.display_name = display_name
        if is_active is not None:
            if not is_active and user.role == Role.ADMINISTRATOR:
                self._ensure_other_admin(user)
            changes["is_active"] = user.is_active = is_active
        if allowed_networks is not None:
            changes["allowed_networks"] = user.allowed_networks = parse_networks(allowed_networks)
        self._audit.record(actor, "user.update", target_type="user", target_id=user.id, details=changes)
        return user

    def unlock(self, actor: Actor, ref: str | uuid.UUID) -> User:
        require(actor, Permission.USERS_MANAGE)
        user = self._find_user(ref)
        user.failed_logins, user.locked_until = 0, None
        self._audit.record(actor, "user.unlock", target_type="user", target_id=user.id)
        return user

    def reset_password(self, actor: Actor, ref: str | uuid.UUID) -> str:
        require(actor, Permission.USERS_MANAGE)
        user = self._find_user(ref)
        password = passwords.generate_password()
        user.password_hash = passwords.hash_password(password)
        user.must_change_password = user.kind == "user"
        self._audit.record(actor, "user.password_reset", target_type="user", target_id=user.id)
        return password

    def change_password(self, actor: Actor, current: str, new: str) -> None:
        user = self._find_user(actor.id or actor.name)
        if not passwords.verify_password(user.password_hash, current):
            self._audit.record(actor, "user.password_change", target_type="user", target_id=user.id,
                               outcome="failure", details={"reason": "current password wrong"})
            raise Forbidden("current password is wrong", keep_changes=True)
        passwords.check_policy(new, self._settings.password_min_length)
        if new == current:
            raise InvalidInput("the new password must differ from the current one")
        user.password_hash = passwords.hash_password(new)
        user.must_change_password = False
        self._audit.record(actor, "user.password_change", target_type="user", target_id=user.id)

    def _find_user(self, ref: str | uuid.UUID) -> User:
        user: User | None = None
        try:
            user = self._s.get(User, uuid.UUID(str(ref)))
        except ValueError:
            pass
        if user is None:
            user = self._s.scalar(select(User).where(User.username == str(ref)))
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
        name = name.strip()
        if not name:
            raise InvalidInput("group name is empty")
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
        group: Group | None = None
        try:
            group = self._s.get(Group, uuid.UUID(str(ref)))
        except ValueError:
            pass
        group = group or self._s.scalar(select(Group).where(Group.name == str(ref)))
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

    # ---- login -------------------------------------------------------------------------------
    def login(self, username: str, password: str, ip: str | None, totp_code: str | None = None) -> Actor:
        """Check a password login; failures are audited and counted even though they raise."""
        user = self._s.scalar(select(User).where(User.username == username))
        now = self._now()
        who = Actor(name=username, role=Role.USER, kind=user.kind if user else "user",
                    id=user.id if user else None, ip=ip, via="login")
        if user is None or not user.is_active:
            passwords.verify_password(None, password)
            return self._fail(who, "unknown or disabled account")
        if user.locked_until and user.locked_until > now:
            return self._fail(who, "account locked", target=user)
        if not ip_allowed(user, ip):
            self._audit.record(who, "auth.login", target_type="user", target_id=user.id, outcome="denied",
                               details={"reason": "source address not allowed"})
            raise Forbidden(f"logins for {username} are not allowed from {ip}", keep_changes=True)
        if not passwords.verify_password(user.password_hash, password):
            return self._count_failure(user, who, "wrong password")
        if user.totp_enabled:
            if not totp_code:
                raise Unauthenticated("a TOTP code is required for this account", reason="totp_required")
            if not self._totp_ok(user, totp_code):
                return self._count_failure(user, who, "wrong TOTP code")
        user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
        if user.password_hash and passwords.needs_rehash(user.password_hash):
            user.password_hash = passwords.hash_password(password)
        actor = self.actor_for(user, ip, via="login")
        self._audit.record(actor, "auth.login", target_type="user", target_id=user.id)
        return actor

    def _count_failure(self, user: User, who: Actor, reason: str) -> Actor:
        user.failed_logins += 1
        if user.failed_logins >= self._settings.lockout_threshold:
            user.locked_until = self._now() + timedelta(minutes=self._settings.lockout_minutes)
            user.failed_logins = 0
            self._audit.record(who, "auth.lockout", target_type="user", target_id=user.id, outcome="failure",
                               details={"minutes": self._settings.lockout_minutes, "reason": reason})
        return self._fail(who, reason, target=user)

    def _fail(self, who: Actor, reason: str, target: User | None = None) -> Actor:
        self._audit.record(who, "auth.login", target_type="user",
                           target_id=target.id if target else None, outcome="failure",
                           details={"reason": reason})
        raise Unauthenticated("invalid username or password", keep_changes=True)

    def actor_for(self, user: User, ip: str | None, via: str) -> Actor:
        return Actor(name=user.username, role=Role(user.role), kind=user.kind, id=user.id, ip=ip,
                     group_ids=frozenset(g.id for g in user.groups), via=via)

    def user_for(self, actor: Actor) -> User:
        return self._find_user(actor.id or actor.name)

    # ---- TOTP --------------------------------------------------------------------------------
    def totp_begin(self, actor: Actor) -> tuple[str, str]:
        user = self.user_for(actor)
        secret = pyotp.random_base32()
        user.totp_secret = self._sealer.seal(secret, aad=f"totp:{user.id}")
        user.totp_enabled = False
        uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name="certvault")
        return secret, uri

    def totp_confirm(self, actor: Actor, code: str) -> None:
        user = self.user_for(actor)
        if user.totp_secret is None or not self._totp_ok(user, code):
            raise InvalidInput("the TOTP code does not match; check the device clock and try again")
        user.totp_enabled = True
        self._audit.record(actor, "user.totp_enable", target_type="user", target_id=user.id)

    def totp_disable(self, actor: Actor, ref: str | uuid.UUID) -> None:
        user = self._find_user(ref)
        if user.id != actor.id:
            require(actor, Permission.USERS_MANAGE)
        user.totp_enabled, user.totp_secret = False, None
        self._audit.record(actor, "user.totp_disable", target_type="user", target_id=user.id)

    def _totp_ok(self, user: User, code: str) -> bool:
        if user.totp_secret is None:
            return False
        secret = self._sealer.open_text(user.totp_secret, aad=f"totp:{user.id}")
        return pyotp.TOTP(secret).verify(code.strip(), valid_window=1)
