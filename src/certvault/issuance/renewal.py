"""Managed renewal: when to renew (ARI window, 1/3 of lifetime left, or fixed days), renew now,
the periodic scan, ARI checks, adoption of inventory certificates, and the fleet view."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from sqlalchemy import select

from certvault.acme_client import RenewalWindow, ari_cert_id
from certvault.auth.rbac import Actor, Permission, require
from certvault.context import ServiceContext
from certvault.errors import Conflict, InvalidInput, NotFound
from certvault.issuance import events
from certvault.issuance.engine import enqueue_advance
from certvault.issuance.models import ACTIVE, AcmeAccount, AcmeOrder, ManagedCertificate

COPIED = ("names", "challenge_type", "fulfilment", "webroot", "key_algorithm", "signature_algorithm",
          "keystore_type", "profile", "key_policy", "dns_account_id")


def renewal_time(not_before: datetime, not_after: datetime, now: datetime, renew_days_before: int | None,
                 window: tuple[datetime, datetime] | None) -> tuple[datetime, str, bool]:
    """(when, why, urgent). ARI saying "now" wins; then fixed days; then the ARI window; then 1/3 left."""
    fallback = not_after - (not_after - not_before) / 3
    if window is not None and window[0] <= now and fallback > now + timedelta(days=1):
        return now, "ari_renew_now", True
    if renew_days_before:
        return not_after - timedelta(days=renew_days_before), "fixed_days", False
    if window is not None:
        start, end = window
        return start + (end - start) * random.random(), "ari_window", False
    return not_after - (not_after - not_before) / 3, "one_third_lifetime", False


class RenewalService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._s = ctx.session

    # ---- after issuance ------------------------------------------------------------------------
    def record_issued(self, order: AcmeOrder, entry_id: uuid.UUID, leaf: x509.Certificate,
                      key_pem: bytes) -> ManagedCertificate:
        managed = (self._s.get(ManagedCertificate, order.managed_id) if order.managed_id else None) or \
            self._s.scalar(select(ManagedCertificate).where(ManagedCertificate.certificate_entry_id == entry_id))
        now = self._ctx.now()
        # Loaded before the new row is added: a query after it would flush the row early (INSERT, then UPDATE).
        account = self._s.get(AcmeAccount, order.account_id) if order.account_id else None
        if managed is None:
            managed = ManagedCertificate(id=uuid.uuid4(), certificate_entry_id=entry_id, created_by=order.created_by,
                                         auto_renew=order.auto_renew, renew_days_before=order.renew_days_before)
            self._s.add(managed)
        for column in COPIED:
            setattr(managed, column, getattr(order, column))
        managed.account_id, managed.status = order.account_id, "active"
        managed.certificate_entry_id = entry_id
        if order.keystore_password_sealed is not None:
            password = self._ctx.sealer.open(order.keystore_password_sealed, aad=f"acme_orders.keystore:{order.id}")
            managed.keystore_password_sealed = self._ctx.sealer.seal(password,
                                                                     aad=f"acme_managed.keystore:{managed.id}")
        if order.key_policy in ("reuse", "imported"):
            managed.reuse_key_sealed = self._ctx.sealer.seal(key_pem, aad=f"acme_managed:{managed.id}")
        self._set_certificate(managed, leaf, now, account)
        managed.last_order_id, managed.last_renewed_at, managed.last_error = order.id, now, None
        self._s.flush()
        return managed

    def _set_certificate(self, managed: ManagedCertificate, leaf: x509.Certificate, now: datetime,
                         account: AcmeAccount | None = None) -> None:
        from cryptography.hazmat.primitives.serialization import Encoding

        managed.cert_pem = leaf.public_bytes(Encoding.PEM).decode()
        managed.serial = format(leaf.serial_number, "x")
        managed.not_before, managed.not_after = leaf.not_valid_before_utc, leaf.not_valid_after_utc
        try:
            managed.ari_cert_id = ari_cert_id(leaf)
        except InvalidInput:
            managed.ari_cert_id = None
        managed.ari_window_start = managed.ari_window_end = managed.ari_explanation_url = None
        managed.ari_urgent = False
        self._schedule(managed, now)
        if account is None and managed.account_id:
            account = self._s.get(AcmeAccount, managed.account_id)
        if account is not None and account.ari_supported and managed.ari_cert_id:
            managed.next_check_at = now  # ask the CA for its window right away

    def _schedule(self, managed: ManagedCertificate, now: datetime) -> None:
        window = (managed.ari_window_start, managed.ari_window_end) if managed.ari_window_start else None
        when, why, urgent = renewal_time(managed.not_before, managed.not_after, now, managed.renew_days_before,
                                         window)  # type: ignore[arg-type]
        managed.renew_at, managed.renew_reason, managed.ari_urgent = when, why, urgent
        managed.next_check_at = when

    def note_failure(self, managed_id: uuid.UUID, message: str) -> None:
        managed = self._s.get(ManagedCertificate, managed_id)
        if managed is not None:
            managed.last_error = message
            managed.next_check_at = self._ctx.now() + timedelta(hours=1)  # try again, not in a tight loop

    # ---- reading and settings ------------------------------------------------------------------
    def list_managed(self, actor: Actor) -> list[ManagedCertificate]:
        require(actor, Permission.ACME_READ)
        return list(self._s.scalars(select(ManagedCertificate).order_by(ManagedCertificate.renew_at)))

    def for_certificate(self, actor: Actor, cert_id: uuid.UUID | str) -> ManagedCertificate:
        require(actor, Permission.ACME_READ)
        return self.load(cert_id)

    def load(self, cert_id: uuid.UUID | str) -> ManagedCertificate:
        try:
            key = uuid.UUID(str(cert_id))
        except ValueError:
            raise NotFound(f"no managed certificate {cert_id}") from None
        managed = self._s.scalar(select(ManagedCertificate).where(ManagedCertificate.certificate_entry_id == key))
        managed = managed or self._s.get(ManagedCertificate, key)
        if managed is None:
            raise NotFound(f"certificate {cert_id} is not renewed by certvault (adopt it into managed renewal first)")
        return managed

    def update(self, actor: Actor, cert_id: uuid.UUID | str, *, auto_renew: bool | None = None,
               renew_days_before: int | None | str = "keep") -> ManagedCertificate:
        require(actor, Permission.ACME_REQUEST)
        managed = self.load(cert_id)
        if auto_renew is not None:
            managed.auto_renew = auto_renew
        if renew_days_before != "keep":
            if renew_days_before is not None and not 1 <= int(renew_days_before) <= 365:
                raise InvalidInput("renew days before expiry must be between 1 and 365")
            managed.renew_days_before = int(renew_days_before) if renew_days_before is not None else None
        self._schedule(managed, self._ctx.now())
        self._ctx.audit.record(actor, "acme.renewal.update", target_type="certificate",
                               target_id=managed.certificate_entry_id,
                               details={"auto_renew": managed.auto_renew,
                                        "renew_days_before": managed.renew_days_before})
        return managed

    # ---- renewing ------------------------------------------------------------------------------
    def renew_now(self, actor: Actor, cert_id: uuid.UUID | str) -> AcmeOrder:
        require(actor, Permission.ACME_REQUEST)
        return self.start_renewal(actor, self.load(cert_id), "manual")

    def start_renewal(self, actor: Actor, managed: ManagedCertificate, why: str) -> AcmeOrder:
        if managed.status != "active":
            raise Conflict(f"certificate {managed.certificate_entry_id} is {managed.status}; it is not renewed")
        account = self._s.get(AcmeAccount, managed.account_id) if managed.account_id else None
        if account is None or account.status != "valid":
            raise Conflict(f"certificate {managed.certificate_entry_id} has no usable ACME account; adopt it again "
                           "with an account")
        running = self._s.scalar(select(AcmeOrder).where(AcmeOrder.managed_id == managed.id,
                                                         AcmeOrder.state.in_(ACTIVE)).limit(1))
        if running is not None:
            return running
        order = AcmeOrder(id=uuid.uuid4(), account_id=account.id, managed_id=managed.id, purpose="renew",
                          renew_entry_id=managed.certificate_entry_id, auto_renew=managed.auto_renew,
                          renew_days_before=managed.renew_days_before, created_by=actor.name,
                          replaces=managed.ari_cert_id if account.ari_supported else None,
                          **{c: getattr(managed, c) for c in COPIED})
        self._answer_through_mapping(order, managed)
        if managed.reuse_key_sealed is not None and managed.key_policy in ("reuse", "imported"):
            key_pem = self._ctx.sealer.open(managed.reuse_key_sealed, aad=f"acme_managed:{managed.id}")
            order.key_sealed = self._ctx.sealer.seal(key_pem, aad=f"acme_orders:{order.id}")
        if managed.keystore_password_sealed is not None:
            password = self._ctx.sealer.open(managed.keystore_password_sealed,
                                             aad=f"acme_managed.keystore:{managed.id}")
            order.keystore_password_sealed = self._ctx.sealer.seal(password, aad=f"acme_orders.keystore:{order.id}")
        self._s.add(order)
        managed.next_check_at = self._ctx.now() + timedelta(hours=1)
        self._s.flush()
        self._ctx.audit.record(actor, "acme.renewal.start", target_type="certificate",
                               target_id=managed.certificate_entry_id,
                               details={"order": str(order.id), "reason": why, "replaces": order.replaces})
        enqueue_advance(self._ctx, order.id, order.seq)
        return order

    def due(self, limit: int = 500) -> list[ManagedCertificate]:
        now = self._ctx.now()
        return list(self._s.scalars(select(ManagedCertificate).where(
            ManagedCertificate.status == "active", ManagedCertificate.auto_renew.is_(True),
            ManagedCertificate.next_check_at <= now).order_by(ManagedCertificate.next_check_at).limit(limit)))

    def scan_due(self, actor: Actor) -> dict[str, int]:
        """The periodic job: start renewals that are due, ask ARI for the others that want a check."""
        require(actor, Permission.ACME_REQUEST)
        started = checks = 0
        now = self._ctx.now()
        for managed in self.due():
            account = self._s.get(AcmeAccount, managed.account_id) if managed.account_id else None
            if managed.renew_at is not None and managed.renew_at <= now:
                try:
                    self.start_renewal(actor, managed, managed.renew_reason or "due")
                    started += 1
                except Conflict as exc:
                    managed.last_error, managed.next_check_at = exc.message, now + timedelta(hours=6)
            elif account is not None and account.ari_supported and managed.ari_cert_id:
                self._ctx.enqueue("acme.ari.check", {"managed_id": str(managed.id)},
                                  dedup_key=f"acme-ari:{managed.id}")
                managed.next_check_at = now + timedelta(hours=1)
                checks += 1
            else:
                managed.next_check_at = managed.renew_at
        return {"renewals_started": started, "ari_checks": checks}

    def apply_ari(self, managed_id: uuid.UUID, window: RenewalWindow | None, error: str | None) -> None:
        managed = self._s.get(ManagedCertificate, managed_id)
        if managed is None:
            return
        now = self._ctx.now()
        managed.ari_checked_at = now
        if error is not None or window is None:
            managed.last_error = error
            self._schedule(managed, now)
            if error is not None:
                managed.next_check_at = min(managed.renew_at or now, now + timedelta(hours=6))
            return
        was_urgent = managed.ari_urgent
        managed.ari_window_start, managed.ari_window_end = window.start, window.end
        managed.ari_explanation_url = window.explanation_url
        self._schedule(managed, now)
        managed.next_check_at = min(managed.renew_at or now, now + timedelta(seconds=window.retry_after))
        if managed.ari_urgent and not was_urgent:
            self._ctx.audit.record(Actor.system("acme-ari"), "acme.ari.renew_now", target_type="certificate",
                                   target_id=managed.certificate_entry_id,
                                   details={"window_start": window.start, "explanation": window.explanation_url})
            events.publish(self._ctx, events.ARI_RENEW_NOW, managed.names, self._ca_name(managed),
                           certificate_id=managed.certificate_entry_id, serial=managed.serial,
                           not_after=managed.not_after, message="the CA asks for this certificate to be renewed now",
                           explanation_url=window.explanation_url)

    def _answer_through_mapping(self, order: AcmeOrder, managed: ManagedCertificate) -> None:
        """A deploy target mapped to the certificate that can answer http-01 does (deploy/http01.py); else as set."""
        from certvault.deploy import http01 as deploy_http01

        target = deploy_http01.responder_for(self._ctx, managed.certificate_entry_id, order.names)
        if target is not None:
            order.challenge_type, order.fulfilment, order.webroot = "http-01", deploy_http01.FULFILMENT, target
            order.dns_account_id = None

    def _ca_name(self, managed: ManagedCertificate) -> str:
        account = self._s.get(AcmeAccount, managed.account_id) if managed.account_id else None
        return account.ca_name if account else "unknown CA"

    # ---- adoption ------------------------------------------------------------------------------
    def adopt(self, actor: Actor, cert_id: uuid.UUID | str, account_id: uuid.UUID | str, *, challenge: str,
              dns_account_id: uuid.UUID | str | None = None, http_mode: str = "standalone",
              webroot: str | None = None, key: str = "ec256", renew_days_before: int | None = None,
              certificates: Any = None) -> ManagedCertificate:
        """Bring a discovered or imported inventory certificate under managed renewal."""
        require(actor, Permission.ACME_REQUEST)
        from certvault.issuance.requests import RequestService, RequestSpec

        entry = certificates.get(actor, uuid.UUID(str(cert_id)))
        if entry.current is None:
            raise InvalidInput(f"certificate {cert_id} has no signed certificate to adopt")
        if self._s.scalar(select(ManagedCertificate).where(ManagedCertificate.certificate_entry_id == entry.id)):
            raise Conflict(f"certificate {cert_id} is already under managed renewal")
        leaf = x509.load_der_x509_certificate(entry.current.der)
        names = list(entry.current.sans) or [entry.current.common_name]
        spec = RequestSpec(account_id=account_id, domains=names, challenge=challenge, dns_account_id=dns_account_id,
                           http_mode=http_mode, webroot=webroot, key=key, renew_days_before=renew_days_before)
        template = RequestService(self._ctx)._validated_template(spec)
        managed = ManagedCertificate(id=uuid.uuid4(), certificate_entry_id=entry.id, created_by=actor.name,
                                     renew_days_before=renew_days_before, **template)
        self._s.add(managed)
        self._set_certificate(managed, leaf, self._ctx.now())
        self._s.flush()
        self._ctx.audit.record(actor, "acme.renewal.adopt", target_type="certificate", target_id=entry.id,
                               details={"account": str(account_id), "names": names[:20], "challenge": challenge})
        return managed

    # ---- fleet view ----------------------------------------------------------------------------
    def fleet(self, actor: Actor, weeks: int = 12) -> dict[str, Any]:
        require(actor, Permission.ACME_READ)
        now = self._ctx.now()
        horizon = now + timedelta(weeks=weeks)
        rows = self._s.execute(select(ManagedCertificate, AcmeAccount.ca_name).outerjoin(
            AcmeAccount, AcmeAccount.id == ManagedCertificate.account_id).where(
            ManagedCertificate.status == "active")).all()
        by_ca: dict[str, dict[str, int]] = defaultdict(lambda: {"managed": 0, "due_in_horizon": 0, "ari_urgent": 0})
        by_week: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        urgent, upcoming = [], []
        for managed, ca in rows:
            ca = ca or "no account"
            by_ca[ca]["managed"] += 1
            if managed.ari_urgent:
                by_ca[ca]["ari_urgent"] += 1
                urgent.append(_summary(managed, ca))
            if managed.renew_at and managed.renew_at <= horizon:
                by_ca[ca]["due_in_horizon"] += 1
                week = max(managed.renew_at, now).strftime("%G-W%V")
                by_week[week][ca] += 1
                upcoming.append(_summary(managed, ca))
        upcoming.sort(key=lambda s: s["renew_at"])
        return {"generated_at": now, "weeks": weeks, "by_ca": dict(by_ca),
                "by_week": [{"week": w, "by_ca": dict(c), "total": sum(c.values())}
                            for w, c in sorted(by_week.items())],
                "ari_urgent": urgent, "upcoming": upcoming[:200]}


def _summary(managed: ManagedCertificate, ca: str) -> dict[str, Any]:
    return {"certificate_id": managed.certificate_entry_id, "names": managed.names[:5], "ca": ca,
            "not_after": managed.not_after, "renew_at": managed.renew_at, "reason": managed.renew_reason,
            "ari_window": [managed.ari_window_start, managed.ari_window_end] if managed.ari_window_start else None,
            "ari_urgent": managed.ari_urgent, "auto_renew": managed.auto_renew, "last_error": managed.last_error}
