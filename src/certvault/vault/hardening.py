"""The security hardening report: the server's own posture, as Secret Server's report lists it."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select

from certvault.auth.models import User
from certvault.auth.rbac import Actor, Permission, require
from certvault.vault.core import WEB_SERVICES, VaultCore
from certvault.vault.lifecycle import Lifecycle
from certvault.vault.models import Folder, Secret, ServiceAccountSettings, VaultPermission

MASTER_KEY_MAX_DAYS = 365


@dataclass
class Check:
    name: str
    status: str  # ok | warn | bad | info
    summary: str
    items: list[str] = field(default_factory=list)


@dataclass
class HardeningReport:
    generated_at: datetime
    checks: list[Check]

    @property
    def status(self) -> str:
        states = {c.status for c in self.checks}
        return "bad" if "bad" in states else "warn" if "warn" in states else "ok"


def tls_versions() -> list[str]:
    """What `certvault serve` accepts: TLS 1.2 minimum, up to what this OpenSSL offers."""
    versions = ["TLSv1.2"]
    if ssl.HAS_TLSv1_3:
        versions.append("TLSv1.3")
    return versions


class Hardening:
    def __init__(self, core: VaultCore, lifecycle: Lifecycle) -> None:
        self._c = core
        self._lifecycle = lifecycle

    def report(self, actor: Actor) -> HardeningReport:
        require(actor, Permission.REPORTS_READ)
        checks = [self._https(), self._tls(), self._web_services(), *self._accounts(), self._owners(),
                  self._overdue(), self._master_key(), self._lockout()]
        self._c.ctx.audit.record(actor, "vault.hardening_report", details={"checks": len(checks)})
        return HardeningReport(self._c.ctx.now(), checks)

    def _https(self) -> Check:
        if self._c.ctx.settings.server.allow_plain_http:
            return Check("https_forced", "bad", "plain HTTP is allowed (server.allow_plain_http); only safe "
                         "behind a TLS-terminating proxy")
        return Check("https_forced", "ok", "every connection uses HTTPS (plain HTTP is refused)")

    def _tls(self) -> Check:
        versions = tls_versions()
        return Check("tls_versions", "ok", f"accepted: {', '.join(versions)}; SSLv3, TLS 1.0 and 1.1 refused",
                     versions)

    def _web_services(self) -> Check:
        enabled = bool(self._c.system.get(WEB_SERVICES))
        return Check("web_services", "info", "web services are enabled (scanner and script APIs answer)" if enabled
                     else "web services are disabled (scanner and script APIs refuse every request)")

    def _accounts(self) -> list[Check]:
        users = list(self._c.s.scalars(select(User).where(User.is_active.is_(True)).order_by(User.username)))
        open_services = [u.username for u in users if u.kind == "service" and not u.allowed_networks]
        open_people = [u.username for u in users if u.kind == "user" and not u.allowed_networks]
        no_2fa = [u.username for u in users if u.kind == "user" and not u.totp_enabled]
        hidden = set(self._c.s.scalars(select(ServiceAccountSettings.user_id)
                                       .where(ServiceAccountSettings.view_hidden.is_(True))))
        return [
            Check("service_accounts_without_ip_restrictions", "warn" if open_services else "ok",
                  f"{len(open_services)} service account(s) may log in from any address", open_services),
            Check("users_without_ip_restrictions", "info",
                  f"{len(open_people)} user(s) may log in from any address", open_people),
            Check("users_without_2fa", "warn" if no_2fa else "ok",
                  f"{len(no_2fa)} user(s) log in without a second factor", no_2fa),
            Check("service_accounts_viewing_hidden_passwords", "info",
                  f"{len(hidden)} service account(s) may read hidden passwords",
                  [u.username for u in users if u.id in hidden]),
        ]

    def _owners(self) -> Check:
        owned_secrets = set(self._c.s.scalars(select(VaultPermission.secret_id)
                                              .where(VaultPermission.level == "owner",
                                                     VaultPermission.secret_id.isnot(None))))
        owned_folders = set(self._c.s.scalars(select(VaultPermission.folder_id)
                                              .where(VaultPermission.level == "owner",
                                                     VaultPermission.folder_id.isnot(None))))
        orphans = []
        stmt = (select(Secret, Folder).join(Folder, Secret.folder_id == Folder.id)
                .where(Secret.active.is_(True), Secret.system.is_(False)).order_by(Folder.path, Secret.name))
        for secret, folder in self._c.s.execute(stmt):
            if secret.id in owned_secrets:
                continue
            chain = self._c.access.contributing_folders(folder) if secret.inherit_permissions else []
            if not owned_folders.intersection(chain):
                orphans.append(f"{folder.path}/{secret.name}")
        return Check("secrets_without_owners", "warn" if orphans else "ok",
                     f"{len(orphans)} secret(s) have no owner but administrators", orphans)

    def _overdue(self) -> Check:
        overdue = [f"{d.path} (due {d.due:%Y-%m-%d})" for d in self._lifecycle.overdue()]
        return Check("overdue_secrets", "bad" if overdue else "ok",
                     f"{len(overdue)} secret(s) are past their expiry or rotation date", overdue)

    def _master_key(self) -> Check:
        created = self._c.ctx.keyring.master.created_at()
        if created is None:
            return Check("master_key_age", "warn", "the master key's creation date is unknown")
        age = (datetime.now(UTC) - created).days
        status = "warn" if age > MASTER_KEY_MAX_DAYS else "ok"
        return Check("master_key_age", status, f"master key is {age} day(s) old (created {created:%Y-%m-%d}); "
                     f"rotate at least every {MASTER_KEY_MAX_DAYS} days with `certvault keys rotate-master`")

    def _lockout(self) -> Check:
        sec = self._c.ctx.settings.security
        return Check("lockout_policy", "ok" if sec.lockout_threshold <= 10 else "warn",
                     f"an address is locked out of an account for {sec.lockout_minutes} min after "
                     f"{sec.lockout_threshold} failed logins, the account once {sec.lockout_addresses} addresses are")
