"""Looking up presented API tokens and session cookies, with a per-process cache every change invalidates.

A lookup used to cost three ORM queries per request (token, user, the user's groups). Each process
now keeps what it loaded, stamped with the auth version (`auth_state.version`), and every lookup
first reads that counter: one primary-key query. Every transaction that changes a user, a group's
members, a token or a session bumps the counter (auth/versioning.py), so revocation, disabling, a
password change becoming due, IP allow-lists, roles and group changes take effect on the next request in
every process. Expiry is compared with the clock on every request, not cached. (A lockout stops logins,
not credentials already issued: admission does not look at it.)
Only SHA-256 digests of credentials are kept in memory, never a token or a cookie.
"""

from __future__ import annotations

import hashlib
import ipaddress
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection, Select, bindparam, select
from sqlalchemy.orm import Session

from certvault.auth.models import ApiToken, AuthState, GroupMember, User, WebSession
from certvault.auth.rbac import Actor, Role
from certvault.auth.versioning import AUTH_VERSION as AUTH_VERSION  # re-exported for the edges
from certvault.auth.versioning import READ_VERSION, VersionedCache

Bind = Session | Connection
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_tokens, _users, _members = ApiToken.__table__, User.__table__, GroupMember.__table__
_sessions, _state = WebSession.__table__, AuthState.__table__

_VERSION = select(_state.c.version).where(_state.c.id == 1)
_ACCOUNT_COLUMNS = (_users.c.id.label("user_id"), _users.c.username, _users.c.display_name, _users.c.role,
                    _users.c.kind, _users.c.is_active, _users.c.locked_until, _users.c.must_change_password,
                    _users.c.totp_enabled, _users.c.allowed_networks)
_TOKEN: Select[tuple[object, ...]] = (
    select(_tokens.c.id, _tokens.c.expires_at, _tokens.c.revoked_at, _tokens.c.last_used_at, *_ACCOUNT_COLUMNS)
    .select_from(_tokens.outerjoin(_users, _users.c.id == _tokens.c.user_id))
    .where(_tokens.c.token_hash == bindparam("digest"))
)
_SESSION: Select[tuple[object, ...]] = (
    select(_sessions.c.id, _sessions.c.expires_at, _sessions.c.csrf_token, *_ACCOUNT_COLUMNS)
    .select_from(_sessions.outerjoin(_users, _users.c.id == _sessions.c.user_id))
    .where(_sessions.c.token_hash == bindparam("digest"))
)
_GROUPS = select(_members.c.group_id).where(_members.c.user_id == bindparam("user_id"))


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def address_allowed(ip: str | None, networks: Sequence[IpNetwork]) -> bool:
    """An IP allow-list: empty allows everything; an unparseable address is refused."""
    if not networks or ip is None:
        return True
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in networks)

@dataclass(frozen=True)
class Account:
    """What authentication needs to know about a user, as of the version it was loaded at."""

    id: uuid.UUID
    username: str
    display_name: str
    role: str
    kind: str
    is_active: bool
    locked_until: datetime | None
    must_change_password: bool
    totp_enabled: bool
    allowed_networks: tuple[str, ...]
    networks: tuple[IpNetwork, ...]
    group_ids: frozenset[uuid.UUID]

    def allows(self, ip: str | None) -> bool:
        return address_allowed(ip, self.networks)

    def actor(self, ip: str | None, via: str) -> Actor:
        return Actor(name=self.username, role=Role(self.role), kind=self.kind, id=self.id, ip=ip,
                     group_ids=self.group_ids, via=via)


@dataclass(frozen=True)
class Credential:
    """A token or browser session as stored, with its account (None when the account is gone)."""

    kind: str  # token | session
    id: uuid.UUID
    expires_at: datetime | None
    revoked: bool
    last_used_at: datetime | None
    csrf_token: str | None
    account: Account | None


class CredentialCache(VersionedCache):
    """Credentials by digest."""

    def note_use(self, key: str, when: datetime) -> None:
        """Remember a token's last use was recorded, so the next minute of requests writes nothing."""
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries[key] = (hit[0], replace(hit[1], last_used_at=when))


class CredentialLookup:
    """Finds a presented credential, through the cache when there is one."""

    def __init__(self, cache: CredentialCache | None = None) -> None:
        self.cache = cache

    def token(self, bind: Bind, plaintext: str,
              version: int | None | object = READ_VERSION) -> tuple[str, Credential | None]:
        """`version`: the auth version the caller read itself (with `AUTH_VERSION` as a column of its first
        statement, one statement less); by default it is read here, before the credential."""
        key = "token:" + digest(plaintext)
        return key, self._lookup(bind, key, lambda: _load(bind, _TOKEN, key[6:], is_token=True), version)

    def session(self, bind: Bind, plaintext: str) -> tuple[str, Credential | None]:
        key = "session:" + digest(plaintext)
        return key, self._lookup(bind, key, lambda: _load(bind, _SESSION, key[8:], is_token=False))

    def note_use(self, key: str, when: datetime) -> None:
        if self.cache is not None:
            self.cache.note_use(key, when)

    def _lookup(self, bind: Bind, key: str, load: Callable[[], Credential | None],
                version: int | None | object = READ_VERSION) -> Credential | None:
        if self.cache is None:
            return load()
        # The version is read before the rows: a change committed in between bumps it past the stamp.
        if version is READ_VERSION:
            version = bind.execute(_VERSION).scalar()
        if not isinstance(version, int):  # None: no counter row, nothing could be invalidated, so cache nothing
            return load()
        found = self.cache.get(key, version)
        if found is None:
            found = load()
            if found is not None:  # unknown credentials are looked up every time, never cached
                self.cache.put(key, version, found)
        return found


def _load(bind: Bind, statement: Select[tuple[object, ...]], hashed: str, *, is_token: bool) -> Credential | None:
    row = bind.execute(statement, {"digest": hashed}).mappings().first()
    if row is None:
        return None
    account = None
    if row["user_id"] is not None:
        groups = frozenset(bind.execute(_GROUPS, {"user_id": row["user_id"]}).scalars())
        networks = tuple(str(n) for n in row["allowed_networks"] or ())
        account = Account(
            id=row["user_id"], username=row["username"], display_name=row["display_name"] or "", role=row["role"],
            kind=row["kind"], is_active=bool(row["is_active"]), locked_until=row["locked_until"],
            must_change_password=bool(row["must_change_password"]), totp_enabled=bool(row["totp_enabled"]),
            allowed_networks=networks, networks=tuple(ipaddress.ip_network(n, strict=False) for n in networks),
            group_ids=groups,
        )
    return Credential(
        kind="token" if is_token else "session", id=row["id"], expires_at=row["expires_at"],
        revoked=bool(row["revoked_at"]) if is_token else False, last_used_at=row["last_used_at"] if is_token else None,
        csrf_token=None if is_token else row["csrf_token"], account=account,
    )
