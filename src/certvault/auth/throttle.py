"""Failed logins counted per source address and per account from each address.

Why two counters: an account locked by anyone who knows its name would let an anonymous caller lock a
scanner out. So failures are counted for the account *from that address*: `lockout_threshold` of them lock
that address out of that account for `lockout_minutes`, while the owner keeps logging in from elsewhere.
The account itself locks only when `lockout_addresses` addresses are locked out of it at once (guessing
spread over many addresses). Separately, `address_failure_limit` failures from one address, whatever the
accounts (spraying), refuse every login from it with 429 for `address_block_minutes`, before any password
is checked. Locks stop password and TOTP logins only: issued tokens and sessions keep working.

Rows are keyed `address:<ip>` and `account:<user id>:<ip>`; one counts failures until `window_ends`, and is
forgotten after it (a block moves `window_ends` to its end; `purge_expired`, an hourly job, deletes such
rows). Counting takes an advisory lock per key. A login writes these rows before its audit row (which
takes the audit chain's head lock), and its changes to the user row after it, the order the rest of
certvault keeps.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete, func, select
from sqlalchemy.orm import Session

from certvault.auth.models import LoginFailures
from certvault.config import SecuritySettings
from certvault.db.locks import advisory_lock

UNKNOWN_ADDRESS = "unknown"
_failures = cast(Table, LoginFailures.__table__)  # Core deletes: no autoflush of the caller's pending changes


@dataclass(frozen=True)
class Failure:
    """What one more failure caused: this address locked out of the account, every login from it refused."""

    account_address_locked: bool
    address_blocked: bool


class LoginThrottle:
    def __init__(self, session: Session, settings: SecuritySettings, now: Callable[[], datetime]) -> None:
        self._s = session
        self._settings = settings
        self._now = now

    def address_blocked_until(self, ip: str | None) -> datetime | None:
        return self._blocked_until(_address_key(ip))

    def account_address_locked(self, user_id: uuid.UUID, ip: str | None) -> bool:
        return self._blocked_until(_account_key(user_id, ip)) is not None

    def locked_addresses(self, user_id: uuid.UUID) -> int:
        """How many addresses are locked out of this account now."""
        return self._s.scalar(select(func.count()).select_from(LoginFailures).where(
            LoginFailures.user_id == user_id, LoginFailures.blocked_until > self._now())) or 0

    def fail(self, user_id: uuid.UUID | None, ip: str | None) -> Failure:
        """Count a failed login from `ip` (for `user_id`'s account when the name was one)."""
        sec = self._settings
        locked = user_id is not None and self._count(_account_key(user_id, ip), user_id, ip,
                                                     sec.lockout_threshold, sec.lockout_minutes)
        blocked = self._count(_address_key(ip), None, ip, sec.address_failure_limit, sec.address_block_minutes)
        return Failure(locked, blocked)

    def succeed(self, user_id: uuid.UUID, ip: str | None) -> None:
        """A login succeeded: the account's failures from this address are forgotten (the address's are not)."""
        self._s.execute(delete(_failures).where(_failures.c.key == _account_key(user_id, ip)))

    def forget_account(self, user_id: uuid.UUID) -> None:
        """An administrator unlocked the account: every address may try again."""
        self._s.execute(delete(_failures).where(_failures.c.user_id == user_id))

    def purge_expired(self) -> int:
        """Forget the rows whose window (and block) is over; a housekeeping job's work, off the login path."""
        done = self._s.execute(delete(_failures).where(_failures.c.window_ends <= self._now()))
        return int(done.rowcount)  # type: ignore[attr-defined]

    def _blocked_until(self, key: str) -> datetime | None:
        until = self._s.scalar(select(LoginFailures.blocked_until).where(LoginFailures.key == key))
        return until if until is not None and until > self._now() else None

    def _count(self, key: str, user_id: uuid.UUID | None, ip: str | None, limit: int, minutes: int) -> bool:
        """One more failure for `key`; True when it reaches `limit` and the key is blocked now."""
        now, span = self._now(), timedelta(minutes=minutes)
        advisory_lock(self._s, "certvault-login-failures:" + key)
        row = self._s.get(LoginFailures, key, populate_existing=True)
        if row is None:
            row = LoginFailures(key=key, user_id=user_id, ip=_address(ip), failures=0, window_ends=now + span)
            self._s.add(row)
        elif row.window_ends <= now:
            row.failures, row.window_ends, row.blocked_until = 0, now + span, None
        row.failures += 1
        if row.failures < limit:
            return False
        row.failures, row.blocked_until = 0, now + span
        row.window_ends = row.blocked_until
        return True


def _address(ip: str | None) -> str:
    return (ip or UNKNOWN_ADDRESS)[:64]


def _address_key(ip: str | None) -> str:
    return "address:" + _address(ip)


def _account_key(user_id: uuid.UUID, ip: str | None) -> str:
    return f"account:{user_id}:{_address(ip)}"
