"""API tokens and browser sessions: issuing, listing, revoking, and admitting a presented one.

Admission is split in two so the edges can keep it off the request's write transaction: the
lookup (`CredentialLookup`, cached, read-only) may run on a short read-only connection, and
`admit_token` / `admit_session` then check expiry, account state and the IP allow-list and write
what must be written (a denial's audit row, a token's last use once a minute) in this session.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import ColumnElement, Table, delete, func, select, update
from sqlalchemy.orm import Session

from certvault.audit.service import AuditLog
from certvault.auth import events
from certvault.auth.credentials import Account, Credential, CredentialLookup, digest
from certvault.auth.models import ApiToken, User, WebSession
from certvault.auth.rbac import Actor, Permission, Role, require
from certvault.config import SecuritySettings
from certvault.errors import Forbidden, InvalidInput, NotFound, OverLimit, PasswordChangeRequired, Unauthenticated
from certvault.names import MAX_SHORT_NAME, check_name

TOKEN_PREFIX = "cvt_"
SESSION_PREFIX = "cvs_"
TOUCH_EVERY = timedelta(seconds=60)
PENDING_MESSAGE = ("a password change is required: change your password (POST /api/v1/users/me/password, or "
                   "/account/password in the browser) before doing anything else")
_tokens = cast(Table, ApiToken.__table__)


def token_digest(token: str) -> str:
    return digest(token)


def _tokens_of(user: User, keep: str | None) -> list[ColumnElement[bool]]:
    where = [ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)]
    return where + [ApiToken.token_hash != token_digest(keep)] if keep else where


def _sessions_of(user: User, keep: str | None) -> list[ColumnElement[bool]]:
    where = [WebSession.user_id == user.id]
    return where + [WebSession.token_hash != token_digest(keep)] if keep else where


def _refuse_pending(user: User) -> None:
    if user.must_change_password:
        raise PasswordChangeRequired(f"{user.username} must replace the one-time password before tokens are "
                                     "issued to it")


class CredentialOps:
    """Mixed into AuthService, which provides the session, audit log, settings, clock and user lookups."""

    _s: Session
    _audit: AuditLog
    _settings: SecuritySettings
    _now: Callable[[], datetime]
    credentials: CredentialLookup

    def _find_user(self, ref: str | uuid.UUID) -> User:
        raise NotImplementedError

    def user_for(self, actor: Actor) -> User:
        raise NotImplementedError

    # ---- API tokens --------------------------------------------------------------------------
    def create_token(
        self, actor: Actor, user_ref: str | uuid.UUID | None = None, name: str = "",
        days: int | None = None, kind: str = "api",
    ) -> tuple[str, ApiToken]:
        """An API token for yourself or (administrators) another account, within the lifetime policy."""
        check_name(name, "token name", MAX_SHORT_NAME, min_length=0)
        user = self._find_user(user_ref) if user_ref else self.user_for(actor)
        if user.id != actor.id:
            require(actor, Permission.USERS_MANAGE)
        if actor.kind == "service":
            raise Forbidden("service accounts cannot create API tokens; they get short-lived ones from "
                            "/secretserver/oauth2/token, or an administrator creates one for them")
        _refuse_pending(user)
        days = self._lifetime(days)
        return self._issue(actor, user, name, kind, self._now() + timedelta(days=days) if days else None)

    def issue_oauth_token(self, actor: Actor, seconds: int) -> tuple[str, ApiToken]:
        """The short-lived token of an OAuth password grant, for the account that just logged in."""
        user = self.user_for(actor)
        _refuse_pending(user)
        expires = self._now().replace(microsecond=0) + timedelta(seconds=seconds)
        return self._issue(actor, user, "secretserver-oauth", "oauth", expires)

    def _lifetime(self, days: int | None) -> int:
        """The lifetime in days (0: never expires) after the policy: at most `token_max_days` unless it is 0."""
        most = self._settings.token_max_days
        if days is None:
            return min(self._settings.token_default_days, most) if most else self._settings.token_default_days
        if days < 0 or days > 3650:
            raise InvalidInput("token lifetime must be between 0 (never expires) and 3650 days")
        if most and (days == 0 or days > most):
            asked = "a token that never expires" if days == 0 else f"a lifetime of {days} days"
            raise OverLimit(f"{asked} is over the maximum of {most} days (setting security.token_max_days)")
        return days

    def _issue(self, actor: Actor, user: User, name: str, kind: str,
               expires: datetime | None) -> tuple[str, ApiToken]:
        plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken(user_id=user.id, name=name, token_hash=token_digest(plaintext), prefix=plaintext[:10],
                         kind=kind, expires_at=expires)
        self._s.add(token)
        self._s.flush()
        self._audit.record(actor, "token.create", target_type="user", target_id=user.id,
                           details={"token": token.prefix, "name": name, "kind": kind,
                                    "expires_at": expires.isoformat() if expires else None})
        return plaintext, token

    def list_tokens(self, actor: Actor, user_ref: str | uuid.UUID | None = None) -> list[ApiToken]:
        user = self._find_user(user_ref) if user_ref else self.user_for(actor)
        if user.id != actor.id:
            require(actor, Permission.USERS_READ)
        stmt = select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        return list(self._s.scalars(stmt.order_by(ApiToken.created_at)))

    def revoke_token(self, actor: Actor, token_id: uuid.UUID) -> None:
        token = self._s.get(ApiToken, token_id)
        if token is None:
            raise NotFound(f"token {token_id} not found")
        if token.user_id != actor.id:
            require(actor, Permission.USERS_MANAGE)
        token.revoked_at = self._now()
        self._audit.record(actor, "token.revoke", target_type="user", target_id=token.user_id,
                           details={"token": token.prefix})

    def live_tokens(self, user: User, keep: str | None = None) -> int:
        """How many API tokens `revoke_tokens` would revoke."""
        return self._s.scalar(select(func.count()).select_from(ApiToken).where(*_tokens_of(user, keep))) or 0

    def revoke_tokens(self, user: User, keep: str | None = None) -> None:
        """Revoke every API token of `user` but `keep` (a token's plaintext).

        Like `end_sessions`, call it after the change's audit row: a bulk change bumps the auth version at
        once, and that row must be locked after the audit chain's head, as every flush does."""
        self._s.execute(update(ApiToken).where(*_tokens_of(user, keep)).values(revoked_at=self._now()))

    def authenticate_token(self, plaintext: str, ip: str | None, *, pending_ok: bool = False) -> Actor:
        key, found = self.credentials.token(self._s, plaintext)
        return self.admit_token(key, found, ip, pending_ok=pending_ok)

    def admission_writes(self, found: Credential | None, ip: str | None) -> bool:
        """Whether admitting this credential writes: a refused address to audit, a token use to record."""
        if found is None or found.account is None:
            return False
        if not found.account.allows(ip):
            return True
        return found.kind == "token" and (found.last_used_at is None or
                                          self._now() - found.last_used_at > TOUCH_EVERY)

    def admit_token(self, key: str, found: Credential | None, ip: str | None, *, pending_ok: bool = False) -> Actor:
        """Check a looked-up token; record its use (at most once a minute) in this session.
        `pending_ok`: admit an account whose password must change (for changing it and logging out)."""
        now = self._now()
        if found is None or found.revoked or (found.expires_at and found.expires_at <= now):
            raise Unauthenticated("API token is invalid, expired or revoked")
        account = self._admit_account(found.account, ip, pending_ok)
        if found.last_used_at is None or now - found.last_used_at > TOUCH_EVERY:
            # Core UPDATE on the table: bookkeeping, so it neither bumps the auth version nor loads the row.
            self._s.execute(update(_tokens).where(_tokens.c.id == found.id).values(last_used_at=now))
            self.credentials.note_use(key, now)
        return account.actor(ip, via="token")

    def _admit_account(self, account: Account | None, ip: str | None, pending_ok: bool) -> Account:
        """The account behind a valid credential. A lockout does not matter here: it stops logins, not
        what was issued before. An account whose password must change may do nothing else."""
        if account is None or not account.is_active:
            raise Unauthenticated("account is disabled")
        if not account.allows(ip):
            who = Actor(name=account.username, role=Role(account.role), kind=account.kind, id=account.id, ip=ip)
            self._audit.record(who, "auth.ip_denied", target_type="user", target_id=account.id,
                               outcome="denied")
            events.login_failed(self._s, who, "source address not allowed")
            raise Forbidden(f"requests for {account.username} are not allowed from {ip}", keep_changes=True)
        if account.must_change_password and not pending_ok:
            raise PasswordChangeRequired(PENDING_MESSAGE)
        return account

    # ---- browser sessions --------------------------------------------------------------------
    def create_session(self, actor: Actor) -> tuple[str, WebSession]:
        plaintext = SESSION_PREFIX + secrets.token_urlsafe(32)
        web = WebSession(
            user_id=actor.id, token_hash=token_digest(plaintext), csrf_token=secrets.token_urlsafe(24),
            ip=actor.ip, expires_at=self._now() + timedelta(minutes=self._settings.session_minutes),
        )
        self._s.add(web)
        self._s.flush()
        return plaintext, web

    def authenticate_session(self, plaintext: str, ip: str | None, *,
                             pending_ok: bool = False) -> tuple[Actor, Credential]:
        """The actor and the session (its `csrf_token`, its `account`) of a session cookie."""
        _key, found = self.credentials.session(self._s, plaintext)
        return self.admit_session(found, ip, pending_ok=pending_ok)

    def admit_session(self, found: Credential | None, ip: str | None, *,
                      pending_ok: bool = False) -> tuple[Actor, Credential]:
        now = self._now()
        if found is None or (found.expires_at is not None and found.expires_at <= now):
            raise Unauthenticated("session expired; log in again")
        account = self._admit_account(found.account, ip, pending_ok)
        return account.actor(ip, via="session"), found

    def live_sessions(self, user: User, keep: str | None = None) -> int:
        """How many browser sessions `end_sessions` would end."""
        return self._s.scalar(select(func.count()).select_from(WebSession).where(*_sessions_of(user, keep))) or 0

    def end_sessions(self, user: User, keep: str | None = None) -> None:
        """End every browser session of `user` but `keep` (a session cookie); after the audit row (see
        `revoke_tokens`)."""
        self._s.execute(delete(WebSession).where(*_sessions_of(user, keep)))

    def end_session(self, plaintext: str) -> None:
        web = self._s.scalar(select(WebSession).where(WebSession.token_hash == token_digest(plaintext)))
        if web is not None:
            self._s.delete(web)
