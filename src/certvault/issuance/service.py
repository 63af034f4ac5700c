"""The ACME domain's entry point: `svc.issuance.accounts`, `.dns_accounts`, `.requests`,
`.renewals`, `.revocation`, and `store_certificate` (used by the order engine)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from cryptography import x509

from certvault.auth.rbac import Actor
from certvault.context import ServiceContext
from certvault.issuance import events
from certvault.issuance.accounts import AccountService
from certvault.issuance.dns_accounts import DnsAccountService
from certvault.issuance.models import AcmeAccount, AcmeOrder
from certvault.issuance.renewal import RenewalService
from certvault.issuance.requests import RequestService
from certvault.issuance.revocation import RevocationService

if TYPE_CHECKING:
    from certvault.certificates.service import CertificateService

ENGINE_ACTOR = Actor.system("acme-engine", via="job")


class IssuanceService:
    def __init__(self, ctx: ServiceContext, certificates: Callable[[], CertificateService]) -> None:
        self._ctx = ctx
        self._certificates = certificates  # the container's, built when an order first stores a certificate

    @cached_property
    def certificates(self) -> CertificateService:
        return self._certificates()

    @cached_property
    def accounts(self) -> AccountService:
        return AccountService(self._ctx)

    @cached_property
    def dns_accounts(self) -> DnsAccountService:
        return DnsAccountService(self._ctx)

    @cached_property
    def requests(self) -> RequestService:
        return RequestService(self._ctx)

    @cached_property
    def renewals(self) -> RenewalService:
        return RenewalService(self._ctx)

    @cached_property
    def revocation(self) -> RevocationService:
        return RevocationService(self._ctx, self.certificates)

    def adopt(self, actor: Actor, cert_id: uuid.UUID | str, account_id: uuid.UUID | str, **options: Any) -> Any:
        return self.renewals.adopt(actor, cert_id, account_id, certificates=self.certificates, **options)

    def store_certificate(self, order_id: uuid.UUID, chain_pem: str, key_pem: bytes) -> uuid.UUID:
        """Inventory entry (new, or new version of the renewed one) + managed renewal + audit + event,
        all in the caller's transaction: the one that marks the order stored."""
        order = self._ctx.session.get(AcmeOrder, order_id)
        assert order is not None
        # Held from here on: the identity map keeps only referenced objects, and a later query for it would flush.
        account = self._ctx.session.get(AcmeAccount, order.account_id) if order.account_id else None
        entry_id = self.certificates.store_issued_id(ENGINE_ACTOR, chain_pem=chain_pem.encode(), key_pem=key_pem,
                                                     source="acme", entry_id=order.renew_entry_id)
        leaf = x509.load_pem_x509_certificates(chain_pem.encode())[0]
        managed = self.renewals.record_issued(order, entry_id, leaf, key_pem)
        order.certificate_entry_id, order.managed_id = entry_id, managed.id
        renewed = order.purpose == "renew"
        self._ctx.audit.record(ENGINE_ACTOR, "acme.certificate.renew" if renewed else "acme.certificate.issue",
                               target_type="certificate", target_id=entry_id,
                               details={"order": str(order.id), "serial": order.serial, "names": order.names[:20],
                                        "requested_by": order.created_by, "not_after": order.not_after})
        events.publish(self._ctx, events.RENEWED if renewed else events.ISSUED, order.names,
                       account.ca_name if account else "", order_id=order.id, certificate_id=entry_id,
                       serial=order.serial, not_after=order.not_after)
        return entry_id
