"""Password (and TOTP) logins: the one path every edge takes (REST, web form, Secret Server's OAuth grant).

Every refusal a caller could learn something from answers alike, 401 "invalid username or password":
unknown account, wrong password, wrong TOTP code, an address the account may not log in from, an address
locked out of the account. The audit row records the real reason. Failures are counted per address and per
account from an address (auth/throttle.py); an address over its limit gets 429 before any password is
checked. Lockout stops logins only: tokens and sessions already issued keep working.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from certvault.audit.service import AuditLog
from certvault.auth import events, passwords
from certvault.auth.credentials import address_allowed
from certvault.auth.models import User
from certvault.auth.rbac import Actor, Role
from certvault.auth.throttle import LoginThrottle
from certvault.config import SecuritySettings
from certvault.errors import Forbidden, RateLimited, Unauthenticated

FAILED = "invalid username or password"


class LoginOps:
    """Mixed into AuthService, which provides the session, audit log, settings, clock and TOTP checks."""

    _s: Session
    _audit: AuditLog
    _settings: SecuritySettings
    _now: Callable[[], datetime]
    _web_services: Callable[[], bool]
    accept_code: Callable[[User, str], bool]  # TotpOps
    actor_for: Callable[[User, str | None, str], Actor]

    @property
    def throttle(self) -> LoginThrottle:
        return LoginThrottle(self._s, self._settings, self._now)

    def login(self, username: str, password: str, ip: str | None, totp_code: str | None = None) -> Actor:
        """Check a password login; failures are audited and counted even though they raise."""
        self._refuse_blocked_address(ip)
        user = self._s.scalar(select(User).where(User.username == username))
        who = Actor(name=username, role=Role.USER, kind=user.kind if user else "user",
                    id=user.id if user else None, ip=ip, via="login")
        if user is None or not user.is_active:
            passwords.verify_password(None, password)  # as long as a real check: timing reveals nothing
            return self._fail(who, None, "unknown or disabled account")
        locked = self._lock_reason(user, ip)
        if locked:  # counted for the address only: hammering a lock neither extends it nor alerts again
            passwords.verify_password(None, password)
            return self._fail(who, user, locked, count_account=False)
        password_ok = passwords.verify_password(user.password_hash, password)
        if not ip_allowed(user, ip):
            return self._fail(who, user, "address not allowed", outcome="denied")
        if not password_ok:
            return self._fail(who, user, "wrong password")
        self._refuse_service_without_web_services(who, user)
        if user.totp_enabled:
            if not totp_code:
                raise Unauthenticated("a TOTP code is required for this account", reason="totp_required")
            if not self.accept_code(user, totp_code):
                return self._fail(who, user, "wrong or already used TOTP code")
        return self._succeed(user, ip, password)

    def _refuse_blocked_address(self, ip: str | None) -> None:
        until = self.throttle.address_blocked_until(ip)
        if until is not None:
            minutes = max(1, int((until - self._now()).total_seconds() + 59) // 60)
            raise RateLimited(f"too many failed logins from your address; try again in {minutes} minutes")

    def _lock_reason(self, user: User, ip: str | None) -> str | None:
        if user.locked_until and user.locked_until > self._now():
            return "account locked"
        if self.throttle.account_address_locked(user.id, ip):
            return "account locked for this address"
        return None

    def _refuse_service_without_web_services(self, who: Actor, user: User) -> None:
        """Service accounts exist for the web-services APIs: with those off, they cannot log in at all."""
        if user.kind == "service" and not self._web_services():
            self._audit.record(who, "auth.login", target_type="user", target_id=user.id, outcome="denied",
                               details={"reason": "web services are disabled"})
            events.login_failed(self._s, who, "web services are disabled")
            raise Forbidden("web services are disabled; an administrator can enable them "
                            "(setting web_services.enabled)", keep_changes=True)

    def _succeed(self, user: User, ip: str | None, password: str) -> Actor:
        self.throttle.succeed(user.id, ip)
        user.failed_logins, user.locked_until, user.last_login_at = 0, None, self._now()
        if user.password_hash and passwords.needs_rehash(user.password_hash):
            user.password_hash = passwords.hash_password(password)
        actor = self.actor_for(user, ip, "login")
        self._audit.record(actor, "auth.login", target_type="user", target_id=user.id)
        return actor

    def _fail(self, who: Actor, user: User | None, reason: str, outcome: str = "failure",
              count_account: bool = True) -> Actor:
        """Count the failure, lock what it locks, audit the real reason, and answer like every failure."""
        failure = self.throttle.fail(user.id if user and count_account else None, who.ip)
        self._audit.record(who, "auth.login", target_type="user", target_id=user.id if user else None,
                           outcome=outcome, details={"reason": reason})
        events.login_failed(self._s, who, reason)
        if user is not None:
            user.failed_logins += 1
            if failure.account_address_locked:
                self._lockout(who, user, "address", reason)
                if self._lock_account(user):
                    self._lockout(who, user, "account", reason)
        if failure.address_blocked:
            self._audit.record(who, "auth.address_blocked", target_type="address", target_id=who.ip,
                               outcome="failure", details={"minutes": self._settings.address_block_minutes})
        raise Unauthenticated(FAILED, keep_changes=True)

    def _lockout(self, who: Actor, user: User, scope: str, reason: str) -> None:
        """Audited as `auth.lockout`, and published as the lockout event the alert channels subscribe to."""
        self._audit.record(who, "auth.lockout", target_type="user", target_id=user.id, outcome="failure",
                           details={"scope": scope, "minutes": self._settings.lockout_minutes, "reason": reason})
        events.locked_out(self._s, who, reason)

    def _lock_account(self, user: User) -> bool:
        """Lock the whole account once enough addresses are locked out of it; True when this did it."""
        if self.throttle.locked_addresses(user.id) < self._settings.lockout_addresses:
            return False
        user.locked_until = self._now() + timedelta(minutes=self._settings.lockout_minutes)
        return True


def ip_allowed(user: User, ip: str | None) -> bool:
    return address_allowed(ip, [ipaddress.ip_network(net) for net in user.allowed_networks or ()])
