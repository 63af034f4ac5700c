"""ACME accounts: register, recover from a key, update email, deactivate at the CA, delete, export key."""

from __future__ import annotations

import uuid

from cryptography import x509
from sqlalchemy import func, select

from certvault.acme_client import AcmeClient, AcmeError, ca_name, resolve_directory, thumbprint
from certvault.auth.rbac import Actor, Permission, require
from certvault.context import ServiceContext
from certvault.crypto import keys
from certvault.errors import Conflict, InvalidInput, NotFound
from certvault.issuance.clients import client_config, open_account_key, pool
from certvault.issuance.models import ACTIVE, AcmeAccount, AcmeOrder, ManagedCertificate

ACCOUNT_KEYS = ("ec256", "ec384", "rsa2048", "rsa3072", "rsa4096")


def check_directory_url(value: str) -> str:
    url = resolve_directory(value)
    if not url.startswith("https://") or len(url) > 500:
        raise InvalidInput(f"{value!r} is neither a known CA (letsencrypt, letsencrypt-staging, zerossl, google, "
                           "buypass) nor an https:// directory URL")
    return url


def check_ca_bundle(pem: str | None) -> str | None:
    if not pem or not pem.strip():
        return None
    try:
        certs = x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise InvalidInput("the CA bundle is not PEM certificates") from None
    if not certs:
        raise InvalidInput("the CA bundle holds no certificate")
    return pem.strip() + "\n"


def check_email(email: str | None) -> str | None:
    if email is None or not email.strip():
        return None
    email = email.strip()
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain or " " in email or len(email) > 255:
        raise InvalidInput(f"{email!r} is not an email address")
    return email


class AccountService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._s = ctx.session

    # ---- reading -------------------------------------------------------------------------------
    def list_accounts(self, actor: Actor) -> list[AcmeAccount]:
        require(actor, Permission.ACME_READ)
        return list(self._s.scalars(select(AcmeAccount).order_by(AcmeAccount.created_at)))

    def get(self, actor: Actor, account_id: uuid.UUID | str) -> AcmeAccount:
        require(actor, Permission.ACME_READ)
        return self.load(account_id)

    def load(self, account_id: uuid.UUID | str) -> AcmeAccount:
        try:
            key = account_id if isinstance(account_id, uuid.UUID) else uuid.UUID(str(account_id))
        except ValueError:
            raise NotFound(f"no ACME account {account_id}") from None
        account = self._s.get(AcmeAccount, key)
        if account is None:
            raise NotFound(f"no ACME account {account_id}")
        return account

    # ---- creating ------------------------------------------------------------------------------
    def register(self, actor: Actor, directory: str, email: str | None, agree_tos: bool, *,
                 eab_kid: str | None = None, eab_hmac: str | None = None, ca_bundle_pem: str | None = None,
                 name: str | None = None, key_algorithm: str = "ec256", timeout_seconds: int = 30) -> AcmeAccount:
        require(actor, Permission.ACME_ACCOUNTS)
        url, email, bundle = check_directory_url(directory), check_email(email), check_ca_bundle(ca_bundle_pem)
        if key_algorithm not in ACCOUNT_KEYS:
            raise InvalidInput(f"account key must be one of {', '.join(ACCOUNT_KEYS)}")
        if not agree_tos:
            raise InvalidInput("registering needs your explicit agreement to the CA's terms of service (--agree-tos)")
        if bool(eab_kid) != bool(eab_hmac):
            raise InvalidInput("External Account Binding needs both the key id (--eab-kid) and HMAC key (--eab-hmac)")
        key = keys.generate(key_algorithm)
        client = AcmeClient(client_config(self._ctx, url, bundle, timeout_seconds), key)
        try:
            acct = client.register(email, True, eab_kid, eab_hmac)
            info = client.directory_info()
        except AcmeError as exc:
            self._audit_failure(actor, "acme.account.register", url, exc)
            raise
        account = self._store(actor, url, name, key, key_algorithm, acct.url, email, bundle, timeout_seconds,
                              info.terms_of_service, bool(info.renewal_info), info.profiles)
        account.status = acct.status or "valid"
        if eab_kid and eab_hmac:
            account.eab_kid = eab_kid
            account.eab_hmac_sealed = self._ctx.sealer.seal(eab_hmac, aad=f"acme_accounts.eab:{account.id}")
        self._ctx.audit.record(actor, "acme.account.register", target_type="acme_account", target_id=account.id,
                               details={"directory": url, "email": email, "eab_kid": eab_kid,
                                        "account_url": acct.url, "key_algorithm": key_algorithm})
        return account

    def recover(self, actor: Actor, directory: str, key_pem: str, *, ca_bundle_pem: str | None = None,
                name: str | None = None, timeout_seconds: int = 30) -> AcmeAccount:
        """Add an existing account from its key; the CA tells us the account URL."""
        require(actor, Permission.ACME_ACCOUNTS)
        url, bundle = check_directory_url(directory), check_ca_bundle(ca_bundle_pem)
        key = keys.from_pem(key_pem.encode())
        algorithm, size = keys.describe(key)
        key_algorithm = f"{algorithm.lower()}{size}"
        if key_algorithm not in ACCOUNT_KEYS:
            raise InvalidInput(f"an account key must be EC P-256/P-384 or RSA 2048-4096, not {algorithm} {size}")
        client = AcmeClient(client_config(self._ctx, url, bundle, timeout_seconds), key)
        try:
            acct = client.find_existing()
            info = client.directory_info()
        except AcmeError as exc:
            self._audit_failure(actor, "acme.account.recover", url, exc)
            raise
        existing = self._s.scalar(select(AcmeAccount).where(AcmeAccount.directory_url == url,
                                                            AcmeAccount.account_url == acct.url))
        if existing is not None:
            raise Conflict(f"this account is already in certvault as {existing.name} ({existing.id})")
        account = self._store(actor, url, name, key, key_algorithm, acct.url, acct.email, bundle,  # type: ignore[arg-type]
                              timeout_seconds, info.terms_of_service, bool(info.renewal_info), info.profiles)
        account.status = acct.status or "valid"
        self._ctx.audit.record(actor, "acme.account.recover", target_type="acme_account", target_id=account.id,
                               details={"directory": url, "account_url": acct.url})
        return account

    def _store(self, actor: Actor, url: str, name: str | None, key: keys.SigningKey, key_algorithm: str,
               account_url: str, email: str | None, bundle: str | None, timeout: int, tos: str | None,
               ari: bool, profiles: dict[str, str]) -> AcmeAccount:
        account = AcmeAccount(id=uuid.uuid4(), directory_url=url, ca_name=ca_name(url), email=email,
                              account_url=account_url, key_algorithm=key_algorithm, key_sealed=b"",
                              key_thumbprint=thumbprint(key), tos_url=tos, tos_agreed_at=self._ctx.now(),
                              ca_bundle_pem=bundle, timeout_seconds=timeout, ari_supported=ari,
                              profiles=profiles, created_by=actor.name, name="")
        account.name = (name or f"{email or 'account'} @ {account.ca_name}")[:150]
        account.key_sealed = self._ctx.sealer.seal(keys.to_pem(key), aad=f"acme_accounts:{account.id}")
        self._s.add(account)
        self._s.flush()
        return account

    # ---- changing ------------------------------------------------------------------------------
    def update_email(self, actor: Actor, account_id: uuid.UUID | str, email: str | None) -> AcmeAccount:
        require(actor, Permission.ACME_ACCOUNTS)
        account, email = self._usable(account_id), check_email(email)
        with self._client(account) as client:
            try:
                client.update_contact(email)
            except AcmeError as exc:
                self._audit_failure(actor, "acme.account.update", account.directory_url, exc, account.id)
                raise
        old, account.email = account.email, email
        self._ctx.audit.record(actor, "acme.account.update", target_type="acme_account", target_id=account.id,
                               details={"old_email": old, "email": email})
        return account

    def deactivate(self, actor: Actor, account_id: uuid.UUID | str) -> AcmeAccount:
        """Deactivate at the CA: irreversible; the account can no longer order or revoke."""
        require(actor, Permission.ACME_ACCOUNTS)
        account = self._usable(account_id)
        with self._client(account) as client:
            try:
                client.deactivate()
            except AcmeError as exc:
                self._audit_failure(actor, "acme.account.deactivate", account.directory_url, exc, account.id)
                raise
        account.status, account.deactivated_at = "deactivated", self._ctx.now()
        pool(self._ctx).forget(str(account.id))
        self._ctx.audit.record(actor, "acme.account.deactivate", target_type="acme_account", target_id=account.id,
                               details={"account_url": account.account_url})
        return account

    def delete(self, actor: Actor, account_id: uuid.UUID | str) -> None:
        """Forget the account in certvault only; it stays active at the CA."""
        require(actor, Permission.ACME_ACCOUNTS)
        account = self.load(account_id)
        busy = self._s.scalar(select(func.count()).select_from(AcmeOrder).where(
            AcmeOrder.account_id == account.id, AcmeOrder.state.in_(ACTIVE))) or 0
        managed = self._s.scalar(select(func.count()).select_from(ManagedCertificate).where(
            ManagedCertificate.account_id == account.id, ManagedCertificate.status == "active")) or 0
        if busy or managed:
            raise Conflict(f"account {account.name} is in use by {busy} order(s) in progress and {managed} managed "
                           "certificate(s); wait for the orders and move the certificates to another account first")
        self._ctx.audit.record(actor, "acme.account.delete", target_type="acme_account", target_id=account.id,
                               details={"name": account.name, "account_url": account.account_url})
        pool(self._ctx).forget(str(account.id))
        self._s.delete(account)
        self._s.flush()

    def export_key(self, actor: Actor, account_id: uuid.UUID | str) -> str:
        require(actor, Permission.ACME_ACCOUNTS)
        account = self.load(account_id)
        pem = keys.to_pem(open_account_key(self._ctx, account)).decode()
        self._ctx.audit.record(actor, "acme.account.export_key", target_type="acme_account", target_id=account.id,
                               details={"name": account.name})
        return pem

    # ---- helpers -------------------------------------------------------------------------------
    def _usable(self, account_id: uuid.UUID | str) -> AcmeAccount:
        account = self.load(account_id)
        if account.status != "valid":
            raise Conflict(f"account {account.name} is {account.status} at the CA and cannot be used")
        return account

    def _client(self, account: AcmeAccount):
        from certvault.issuance.clients import account_client

        return account_client(self._ctx, account)

    def _audit_failure(self, actor: Actor, action: str, url: str, exc: Exception,
                       target: uuid.UUID | None = None) -> None:
        self._ctx.audit.record(actor, action, target_type="acme_account", target_id=target, outcome="failure",
                               details={"directory": url, "error": str(exc)})
        if hasattr(exc, "keep_changes"):
            exc.keep_changes = True
