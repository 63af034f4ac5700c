"""Who is acting, and what each role may do. Imports nothing of the app but errors.

Every protected service operation calls `require(actor, Permission.X)`, so the API, the web UI,
the CLI and jobs all pass the same gate.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum

from certvault.errors import Forbidden


class Role(StrEnum):
    ADMINISTRATOR = "administrator"
    OPERATOR = "operator"
    AUDITOR = "auditor"
    USER = "user"


class Permission(StrEnum):
    # inventory
    CERTIFICATES_READ = "certificates.read"
    CERTIFICATES_WRITE = "certificates.write"
    CERTIFICATES_EXPORT = "certificates.export"
    KEYS_VIEW = "certificates.keys.view"
    DISCOVERY_RUN = "discovery.run"
    # internal CA
    CA_READ = "ca.read"
    CA_ISSUE = "ca.issue"
    # ACME
    ACME_ACCOUNTS = "acme.accounts"
    ACME_REQUEST = "acme.request"
    ACME_READ = "acme.read"
    DNS_ACCOUNTS = "dns_accounts.manage"
    # scanning
    SCANS_READ = "scans.read"
    SCANS_RUN = "scans.run"
    # vault (object-level permissions are checked in the vault service on top of this)
    VAULT_USE = "vault.use"
    VAULT_ADMIN = "vault.admin"
    # administration
    USERS_MANAGE = "users.manage"
    USERS_READ = "users.read"
    AUDIT_READ = "audit.read"
    SETTINGS_MANAGE = "settings.manage"
    JOBS_READ = "jobs.read"
    REPORTS_READ = "reports.read"


_OPERATOR = {
    Permission.CERTIFICATES_READ, Permission.CERTIFICATES_WRITE, Permission.CERTIFICATES_EXPORT,
    Permission.KEYS_VIEW, Permission.DISCOVERY_RUN, Permission.CA_READ, Permission.CA_ISSUE,
    Permission.ACME_REQUEST, Permission.ACME_READ, Permission.DNS_ACCOUNTS, Permission.SCANS_READ,
    Permission.SCANS_RUN, Permission.VAULT_USE, Permission.JOBS_READ, Permission.REPORTS_READ,
}
_AUDITOR = {
    Permission.CERTIFICATES_READ, Permission.CA_READ, Permission.ACME_READ, Permission.SCANS_READ,
    Permission.AUDIT_READ, Permission.USERS_READ, Permission.JOBS_READ, Permission.REPORTS_READ,
}
_USER = {Permission.CERTIFICATES_READ, Permission.VAULT_USE}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMINISTRATOR: frozenset(Permission),
    Role.OPERATOR: frozenset(_OPERATOR),
    Role.AUDITOR: frozenset(_AUDITOR),
    Role.USER: frozenset(_USER),
}


@dataclass(frozen=True)
class Actor:
    """The acting principal: a user, a service account, or the system itself (CLI, jobs)."""

    name: str
    role: Role
    kind: str = "user"  # user | service | system
    id: uuid.UUID | None = None
    ip: str | None = None
    group_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    via: str = "api"  # api | session | token | cli | job

    @classmethod
    def system(cls, name: str = "system", via: str = "job") -> Actor:
        return cls(name=name, role=Role.ADMINISTRATOR, kind="system", via=via)

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMINISTRATOR


def require(actor: Actor, permission: Permission) -> None:
    if not actor.can(permission):
        raise Forbidden(f"role {actor.role.value} may not {permission.value}")


def parse_role(value: str) -> Role:
    try:
        return Role(value.lower())
    except ValueError:
        from certvault.errors import InvalidInput

        raise InvalidInput(
            f"unknown role {value!r}; choose one of {', '.join(r.value for r in Role)}"
        ) from None
