"""Revoke a certificate at its CA (by account key or by the certificate's own key), or delete it
from certvault without revoking. Both are audited."""

from __future__ import annotations

import uuid
from typing import Any

from cryptography import x509

from certvault.acme_client import AcmeError, load_private_key, revoke_with_certificate_key
from certvault.auth.rbac import Actor, Permission, require
from certvault.context import ServiceContext
from certvault.errors import Conflict, InvalidInput
from certvault.issuance import events
from certvault.issuance.clients import account_client, client_config
from certvault.issuance.models import AcmeAccount, ManagedCertificate
from certvault.issuance.renewal import RenewalService

REASONS = {0: "unspecified", 1: "keyCompromise", 3: "affiliationChanged", 4: "superseded", 5: "cessationOfOperation",
           6: "certificateHold", 8: "removeFromCRL", 9: "privilegeWithdrawn", 10: "aACompromise"}


class RevocationService:
    def __init__(self, ctx: ServiceContext, certificates: Any) -> None:
        self._ctx = ctx
        self._s = ctx.session
        self._certificates = certificates

    def revoke(self, actor: Actor, cert_id: uuid.UUID | str, reason: int, by: str = "account") -> ManagedCertificate:
        require(actor, Permission.ACME_REQUEST)
        if reason not in REASONS:
            choices = ", ".join(f"{k} ({v})" for k, v in REASONS.items())
            raise InvalidInput(f"revocation reason must be one of {choices}")
        if by not in ("account", "certificate_key"):
            raise InvalidInput("revoke by 'account' (the ACME account key) or 'certificate_key'")
        managed = RenewalService(self._ctx).load(cert_id)
        if managed.status == "revoked":
            raise Conflict(f"certificate {managed.certificate_entry_id} is already revoked")
        account = self._s.get(AcmeAccount, managed.account_id) if managed.account_id else None
        if account is None:
            raise Conflict("this certificate has no ACME account in certvault, so its CA is unknown")
        leaf = x509.load_pem_x509_certificate(managed.cert_pem.encode())
        try:
            if by == "account":
                with account_client(self._ctx, account) as client:
                    client.revoke(leaf, reason)
            else:
                key_pem = self._certificates.current_key_pem(actor, managed.certificate_entry_id)
                if key_pem is None:
                    raise Conflict("certvault holds no private key for this certificate; revoke by account")
                config = client_config(self._ctx, account.directory_url, account.ca_bundle_pem,
                                       account.timeout_seconds)
                revoke_with_certificate_key(config, leaf, load_private_key(key_pem), reason)
        except AcmeError as exc:
            self._ctx.audit.record(actor, "acme.certificate.revoke", target_type="certificate",
                                   target_id=managed.certificate_entry_id, outcome="failure",
                                   details={"serial": managed.serial, "reason": reason, "by": by, "error": exc.message})
            exc.keep_changes = True
            raise
        managed.status, managed.revoked_at, managed.revocation_reason = "revoked", self._ctx.now(), reason
        managed.auto_renew, managed.next_check_at = False, None
        self._ctx.audit.record(actor, "acme.certificate.revoke", target_type="certificate",
                               target_id=managed.certificate_entry_id,
                               details={"serial": managed.serial, "reason": reason, "reason_name": REASONS[reason],
                                        "by": by, "names": managed.names[:20]})
        events.publish(self._ctx, events.REVOKED, managed.names, account.ca_name,
                       certificate_id=managed.certificate_entry_id, serial=managed.serial,
                       not_after=managed.not_after, message=f"revoked ({REASONS[reason]})", reason=REASONS[reason])
        return managed

    def delete(self, actor: Actor, cert_id: uuid.UUID | str) -> None:
        """Remove the certificate and its renewal from certvault; it stays valid at the CA."""
        require(actor, Permission.ACME_REQUEST)
        managed = RenewalService(self._ctx).load(cert_id)
        entry_id = managed.certificate_entry_id
        self._ctx.audit.record(actor, "acme.certificate.delete", target_type="certificate", target_id=entry_id,
                               details={"serial": managed.serial, "names": managed.names[:20], "revoked": False})
        self._s.delete(managed)
        self._s.flush()
        self._certificates.delete(actor, entry_id)
