"""Two-factor authentication with TOTP (RFC 6238): enrolment, disabling, an administrator's reset, codes.

A code is accepted once: the time step of the last accepted code is stored per user and a code at or before
it is refused (RFC 6238 §5.2); claims take turns per user, so two requests racing with one code cannot both
win. Enrolling again and disabling need the current password and, while TOTP is on, a current code; a
new secret stays pending (the old one keeps working) until a code from it confirms it. Every change is
audited, and so is every refused attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import cast

import pyotp
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from certvault.audit.service import AuditLog
from certvault.auth import passwords
from certvault.auth.models import User
from certvault.auth.rbac import Actor, Permission, require
from certvault.db.locks import advisory_lock
from certvault.errors import Forbidden, InvalidInput
from certvault.keyring.service import Sealer

ISSUER = "certvault"
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


def new_recovery_codes(count: int = RECOVERY_CODES) -> list[str]:
    """Codes of 16 characters (80 bits) in groups of four: XXXX-XXXX-XXXX-XXXX."""
    return ["-".join("".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(4)) for _ in range(4))
            for _ in range(count)]


def recovery_digest(code: str) -> str:
    """A recovery code's SHA-256 (80 random bits need no slow hash); spaces, dashes and case do not matter."""
    return hashlib.sha256(code.replace("-", "").replace(" ", "").upper().encode()).hexdigest()
_users = cast(Table, User.__table__)


def matching_step(secret: str, code: str, at: datetime, window: int = 1) -> int | None:
    """The latest time step within `window` steps of `at` whose code is `code`, else None."""
    totp, code = pyotp.TOTP(secret), code.strip()
    now = totp.timecode(at)
    matches = [step for step in range(now - window, now + window + 1)
               if hmac.compare_digest(totp.generate_otp(step), code)]
    return max(matches, default=None)


class TotpOps:
    """Mixed into AuthService, which provides the session, audit log, sealer, clock and user lookups."""

    _s: Session
    _audit: AuditLog
    _sealer: Sealer
    _now: Callable[[], datetime]

    def _find_user(self, ref: str | uuid.UUID) -> User:
        raise NotImplementedError

    def user_for(self, actor: Actor) -> User:
        raise NotImplementedError

    def actor_for(self, user: User, ip: str | None, via: str) -> Actor:
        raise NotImplementedError

    def totp_begin(self, actor: Actor, password: str, code: str | None = None) -> tuple[str, str]:
        """A new secret and its provisioning URI, pending until `totp_confirm`; the current one stays on."""
        user = self.user_for(actor)
        self._prove(actor, user, password, code, "user.totp_enrol")
        secret = pyotp.random_base32()
        user.totp_pending = self._sealer.seal(secret, aad=_aad(user))
        self._audit.record(actor, "user.totp_enrol", target_type="user", target_id=user.id,
                           details={"replacing": user.totp_enabled})
        return secret, pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)

    def totp_confirm(self, actor: Actor, code: str) -> list[str]:
        """A code from the pending secret turns it on (replacing any earlier one); the code is then used.
        Returns new recovery codes (shown once; each logs in once in place of a code)."""
        user = self.user_for(actor)
        step = None
        if user.totp_pending is not None:
            step = matching_step(self._sealer.open_text(user.totp_pending, aad=_aad(user)), code, self._now())
        if step is None:
            raise InvalidInput("the TOTP code does not match the secret being enrolled (start enrolment first, "
                               "and check the device clock)")
        replacing = user.totp_enabled
        user.totp_secret, user.totp_pending = user.totp_pending, None
        user.totp_enabled, user.totp_last_step = True, step
        codes = new_recovery_codes()
        user.totp_recovery = [recovery_digest(c) for c in codes]
        self._audit.record(actor, "user.totp_enable", target_type="user", target_id=user.id,
                           details={"replaced": replacing})
        return codes

    def totp_new_recovery_codes(self, actor: Actor, password: str, code: str) -> list[str]:
        """Replace your recovery codes (the old ones stop working): the current password and a current code."""
        user = self.user_for(actor)
        if not user.totp_enabled:
            raise InvalidInput("two-factor authentication is off: there is nothing to recover")
        self._prove(actor, user, password, code, "user.totp_recovery_codes")
        codes = new_recovery_codes()
        user.totp_recovery = [recovery_digest(c) for c in codes]
        self._audit.record(actor, "user.totp_recovery_codes", target_type="user", target_id=user.id,
                           details={"recovery_codes": len(codes)})
        return codes

    def totp_disable(self, actor: Actor, password: str, code: str) -> None:
        """Turn your own TOTP off: the current password and a current code."""
        user = self.user_for(actor)
        self._prove(actor, user, password, code, "user.totp_disable")
        self._clear(user)
        self._audit.record(actor, "user.totp_disable", target_type="user", target_id=user.id)

    def totp_reset(self, actor: Actor, ref: str | uuid.UUID) -> User:
        """An administrator turns someone's TOTP off (a lost device): password-only login until they enrol."""
        require(actor, Permission.USERS_MANAGE)
        user = self._find_user(ref)
        was_enabled = user.totp_enabled
        self._clear(user)
        self._audit.record(actor, "user.totp_reset", target_type="user", target_id=user.id,
                           details={"username": user.username, "was_enabled": was_enabled})
        return user

    def accept_code(self, user: User, code: str) -> bool:
        """Whether `code` is a current code of the user's secret not used before; claims its time step.

        Claims for one user take turns (an advisory lock), and the last step is read after the lock, as
        committed: of two requests with one code, the second sees the first's step. The step is written
        with the user's other changes, after the audit row (the order the rest of certvault keeps)."""
        if user.totp_secret is None or not code:
            return False
        step = matching_step(self._sealer.open_text(user.totp_secret, aad=_aad(user)), code, self._now())
        if step is None:
            return self._use_recovery_code(user, code)
        advisory_lock(self._s, f"certvault-totp-{user.id}")
        last = self._s.execute(select(_users.c.totp_last_step).where(_users.c.id == user.id)).scalar()
        if last is not None and step <= last:
            return False
        user.totp_last_step = step
        return True

    def _use_recovery_code(self, user: User, code: str) -> bool:
        """A recovery code in place of a TOTP code: accepted once, then crossed off (audited)."""
        if len(code) < 16 or not user.totp_recovery:
            return False
        advisory_lock(self._s, f"certvault-totp-{user.id}")
        stored = self._s.execute(select(_users.c.totp_recovery).where(_users.c.id == user.id)).scalar() or []
        digest = recovery_digest(code)
        match = next((d for d in stored if hmac.compare_digest(d, digest)), None)
        if match is None:
            return False
        user.totp_recovery = [d for d in stored if d != match]
        self._audit.record(self.actor_for(user, None, "login"), "user.totp_recovery_used", target_type="user",
                           target_id=user.id, details={"recovery_codes_left": len(user.totp_recovery)})
        return True

    def _prove(self, actor: Actor, user: User, password: str, code: str | None, action: str) -> None:
        """The current password and, while TOTP is on, a current unused code; a refusal is audited."""
        if not passwords.verify_password(user.password_hash, password):
            self._refuse(actor, user, action, "current password wrong")
        if user.totp_enabled and not self.accept_code(user, code or ""):
            self._refuse(actor, user, action, "TOTP code missing, wrong or already used")

    def _refuse(self, actor: Actor, user: User, action: str, reason: str) -> None:
        self._audit.record(actor, action, target_type="user", target_id=user.id, outcome="failure",
                           details={"reason": reason})
        raise Forbidden(f"{reason}: enrolling or disabling two-factor authentication needs the current password"
                        " and, while it is on, a current code", keep_changes=True)

    @staticmethod
    def _clear(user: User) -> None:
        user.totp_enabled, user.totp_secret, user.totp_pending, user.totp_last_step = False, None, None, None
        user.totp_recovery = None


def _aad(user: User) -> str:
    return f"totp:{user.id}"
