"""Certificate requests: validate everything before the CA hears of it, then create the order."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select

from certvault.auth.rbac import Actor, Permission, require
from certvault.context import ServiceContext
from certvault.crypto import keys
from certvault.errors import Conflict, InvalidInput, NotFound
from certvault.integrations.models import IntegrationAccount
from certvault.issuance import http01
from certvault.issuance.engine import enqueue_advance, enqueue_cleanup
from certvault.issuance.models import (
    AUTHORIZATIONS_PENDING,
    CREATED,
    FAILED,
    STORED,
    AcmeAccount,
    AcmeAuthorization,
    AcmeOrder,
)
from certvault.issuance.names import validate_names

KEY_POLICIES = ("new", "reuse", "imported")
KEYSTORES = ("pem", "pkcs12", "jks")
SIGNATURES = ("sha256", "sha384", "sha512")
CANCEL_SWEEP_SECONDS = 60.0  # a cancelled order's responses are taken down again after this
HTTP_MODES = ("standalone", "webroot", "manual", "deploy")  # deploy: a deploy target answers (--webroot TARGET)


@dataclass
class RequestSpec:
    """What a certificate request asks for: built by the CLI and the web form, and the REST API's body."""

    account_id: uuid.UUID | str
    domains: list[str]
    challenge: str = "http-01"
    dns_account_id: uuid.UUID | str | None = None
    http_mode: str = "standalone"
    webroot: str | None = None
    key: str = "ec256"
    signature: str = "sha256"
    keystore: str = "pem"
    keystore_password: str | None = None
    profile: str | None = None
    key_policy: str = "new"
    imported_key_pem: str | None = None
    auto_renew: bool = True
    renew_days_before: int | None = None


def user_status(order: AcmeOrder) -> str:
    """What people see: pending (your move), processing, available, failed."""
    if order.state == STORED:
        return "available"
    if order.state == FAILED:
        return "failed"
    if order.state == AUTHORIZATIONS_PENDING and order.fulfilment == "manual" and order.verify_requested_at is None:
        return "pending"
    return "processing"


class RequestService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._s = ctx.session

    # ---- creating ------------------------------------------------------------------------------
    def request(self, actor: Actor, spec: RequestSpec) -> AcmeOrder:
        require(actor, Permission.ACME_REQUEST)
        key_pem = self._initial_key(spec)
        template = self._validated_template(spec, key_pem)
        order = AcmeOrder(id=uuid.uuid4(), auto_renew=spec.auto_renew, renew_days_before=spec.renew_days_before,
                          created_by=actor.name, purpose="issue", **template)
        if key_pem is not None:
            order.key_sealed = self._ctx.sealer.seal(key_pem, aad=f"acme_orders:{order.id}")
        if spec.keystore_password:
            order.keystore_password_sealed = self._ctx.sealer.seal(spec.keystore_password,
                                                                   aad=f"acme_orders.keystore:{order.id}")
        self._s.add(order)
        self._s.flush()
        self._ctx.audit.record(actor, "acme.order.create", target_type="acme_order", target_id=order.id,
                               details={"names": order.names[:20], "name_count": len(order.names),
                                        "challenge": spec.challenge, "fulfilment": order.fulfilment,
                                        "key": order.key_algorithm, "account": str(order.account_id),
                                        "key_policy": spec.key_policy, "profile": spec.profile})
        enqueue_advance(self._ctx, order.id, order.seq)
        return order

    def _validated_template(self, spec: RequestSpec, key_pem: bytes | None = None) -> dict[str, object]:
        """Every check of a request, in one place; the result is what orders and renewals copy."""
        account = self._account(spec.account_id)
        if spec.challenge not in ("http-01", "dns-01"):
            raise InvalidInput(f"challenge must be http-01 or dns-01, not {spec.challenge!r}")
        names = [value for _kind, value in validate_names(spec.domains, spec.challenge)]
        dns_account, fulfilment = self._fulfilment(spec)
        key_algorithm = spec.key
        if key_pem is not None:
            algorithm, size = keys.describe(keys.from_pem(key_pem))
            key_algorithm = f"{algorithm.lower()}{size}"
        elif spec.key not in keys.KEY_SPECS:
            raise InvalidInput(f"key must be one of {', '.join(keys.KEY_SPECS)}, not {spec.key!r}")
        self._check_options(spec, account)
        return {"account_id": account.id, "dns_account_id": dns_account.id if dns_account else None, "names": names,
                "challenge_type": spec.challenge, "fulfilment": fulfilment,
                "webroot": spec.webroot if fulfilment in ("webroot", "deploy") else None,
                "key_algorithm": key_algorithm,
                "signature_algorithm": spec.signature, "keystore_type": spec.keystore,
                "profile": spec.profile or None, "key_policy": spec.key_policy}

    def _account(self, account_id: uuid.UUID | str) -> AcmeAccount:
        try:
            account = self._s.get(AcmeAccount, uuid.UUID(str(account_id)))
        except ValueError:
            account = None
        if account is None:
            raise NotFound(f"no ACME account {account_id}")
        if account.status != "valid":
            raise Conflict(f"ACME account {account.name} is {account.status} and cannot order certificates")
        return account

    def _fulfilment(self, spec: RequestSpec) -> tuple[IntegrationAccount | None, str]:
        if spec.challenge == "dns-01":
            if not spec.dns_account_id:
                # none assigned: the engine picks, per name, the enabled account whose zone contains it
                # (and leaves the order to a person when some name has none)
                return None, "dns" if self._any_enabled_dns_account() else "manual"
            return self._enabled_dns_account(spec.dns_account_id), "dns"
        if spec.dns_account_id:
            raise InvalidInput("a DNS account only applies to dns-01 challenges")
        if spec.http_mode not in HTTP_MODES:
            raise InvalidInput(f"http-01 mode must be one of {', '.join(HTTP_MODES)}")
        if spec.http_mode == "webroot":
            http01.check_webroot(spec.webroot)
        if spec.http_mode == "deploy":
            from certvault.deploy.http01 import check_target

            spec.webroot = check_target(self._ctx, spec.webroot or "")
        return None, spec.http_mode

    def _enabled_dns_account(self, ref: uuid.UUID | str) -> IntegrationAccount:
        from certvault.issuance.dns_accounts import DnsAccountService

        account = DnsAccountService(self._ctx).load(ref)
        if not account.enabled:
            raise Conflict(f"DNS account {account.name} is disabled; enable it or choose another")
        return account

    def _any_enabled_dns_account(self) -> bool:
        dns = IntegrationAccount
        stmt = select(dns.id).where(dns.kind == "dns", dns.enabled.is_(True))
        return self._s.scalar(stmt.limit(1)) is not None

    def _initial_key(self, spec: RequestSpec) -> bytes | None:
        if spec.key_policy not in KEY_POLICIES:
            raise InvalidInput(f"key policy must be one of {', '.join(KEY_POLICIES)}")
        if spec.key_policy != "imported":
            if spec.imported_key_pem:
                raise InvalidInput("an imported key needs the key policy 'imported'")
            return None
        if not spec.imported_key_pem:
            raise InvalidInput("the key policy 'imported' needs the private key (PEM)")
        key = keys.from_pem(spec.imported_key_pem.encode())
        algorithm, size = keys.describe(key)
        if f"{algorithm.lower()}{size}" not in keys.KEY_SPECS:
            raise InvalidInput(f"the imported key is {algorithm} {size}; use EC P-256/P-384 or RSA 2048-4096")
        return keys.to_pem(key)

    def _check_options(self, spec: RequestSpec, account: AcmeAccount) -> None:
        if spec.signature not in SIGNATURES:
            raise InvalidInput(f"signature must be one of {', '.join(SIGNATURES)}")
        if spec.keystore not in KEYSTORES:
            raise InvalidInput(f"keystore must be one of {', '.join(KEYSTORES)}")
        if spec.keystore != "pem" and not spec.keystore_password:
            raise InvalidInput(f"a {spec.keystore.upper()} keystore needs a password")
        if spec.profile and account.profiles and spec.profile not in account.profiles:
            raise InvalidInput(f"{account.ca_name} offers the profiles {', '.join(sorted(account.profiles))}, "
                               f"not {spec.profile!r}")
        if spec.renew_days_before is not None and not 1 <= spec.renew_days_before <= 365:
            raise InvalidInput("renew days before expiry must be between 1 and 365")

    # ---- reading -------------------------------------------------------------------------------
    def list_requests(self, actor: Actor, status: str | None = None, limit: int = 50, offset: int = 0
             ) -> tuple[list[AcmeOrder], int]:
        require(actor, Permission.ACME_READ)
        stmt = select(AcmeOrder)
        if status == "failed":
            stmt = stmt.where(AcmeOrder.state == FAILED)
        elif status == "available":
            stmt = stmt.where(AcmeOrder.state == STORED)
        elif status in ("pending", "processing"):
            stmt = stmt.where(AcmeOrder.state.notin_((FAILED, STORED)))
        total = self._s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = self._s.scalars(stmt.order_by(AcmeOrder.created_at.desc()).limit(min(limit, 500)).offset(offset))
        return list(rows), total

    def get(self, actor: Actor, order_id: uuid.UUID | str) -> AcmeOrder:
        require(actor, Permission.ACME_READ)
        return self.load(order_id)

    def load(self, order_id: uuid.UUID | str) -> AcmeOrder:
        try:
            order = self._s.get(AcmeOrder, uuid.UUID(str(order_id)))
        except ValueError:
            order = None
        if order is None:
            raise NotFound(f"no ACME order {order_id}")
        return order

    # ---- acting on an order ----------------------------------------------------------------------
    def verify(self, actor: Actor, order_id: uuid.UUID | str) -> AcmeOrder:
        """The person has published the challenge responses: check them and ask the CA."""
        require(actor, Permission.ACME_REQUEST)
        order = self.load(order_id)
        if order.state != AUTHORIZATIONS_PENDING:
            raise Conflict(f"order {order.id} is {user_status(order)} ({order.state}); only a pending order "
                           "can be verified")
        order.verify_requested_at, order.seq, order.last_check = self._ctx.now(), order.seq + 1, None
        self._s.flush()
        self._ctx.audit.record(actor, "acme.order.verify", target_type="acme_order", target_id=order.id,
                               details={"names": order.names[:20]})
        enqueue_advance(self._ctx, order.id, order.seq)
        return order

    def assign_dns(self, actor: Actor, order_id: uuid.UUID | str, dns_account_id: uuid.UUID | str) -> AcmeOrder:
        """Give a pending dns-01 order a DNS account (the seed's "Assign DNS"): certvault publishes its records
        through it from now on."""
        require(actor, Permission.ACME_REQUEST)
        order = self.load(order_id)
        if order.challenge_type != "dns-01":
            raise InvalidInput(f"order {order.id} uses {order.challenge_type}; a DNS account applies to dns-01")
        if order.state not in (CREATED, AUTHORIZATIONS_PENDING):
            raise Conflict(f"order {order.id} is {user_status(order)} ({order.state}); a DNS account can be "
                           "assigned while it is pending")
        if any(a.published_at is not None for a in self.authorizations(order)):
            raise Conflict(f"order {order.id} already has records published through a DNS account")
        account = self._enabled_dns_account(dns_account_id)
        order.dns_account_id, order.fulfilment = account.id, "dns"
        order.verify_requested_at, order.last_check, order.seq = None, None, order.seq + 1
        self._s.flush()
        self._ctx.audit.record(actor, "acme.order.assign_dns", target_type="acme_order", target_id=order.id,
                               details={"names": order.names[:20], "dns_account": account.name,
                                        "dns_account_id": str(account.id), "provider": account.plugin})
        enqueue_advance(self._ctx, order.id, order.seq)
        return order

    def cancel(self, actor: Actor, order_id: uuid.UUID | str) -> AcmeOrder:
        """Stop an order that has not finished: it fails as "cancelled by <who>", and every challenge response it
        may have published is taken down now and again a minute later (an engine step already on the network
        when the cancel came cannot commit any more, but may still publish)."""
        require(actor, Permission.ACME_REQUEST)
        order = self.load(order_id)
        if order.state in (STORED, FAILED):
            raise Conflict(f"order {order.id} is {user_status(order)}; only an unfinished order can be cancelled")
        order.state, order.seq, order.finished_at = FAILED, order.seq + 1, self._ctx.now()
        order.error_type, order.error_message = "cancelled", f"cancelled by {actor.name}"
        self._s.flush()
        self._ctx.audit.record(actor, "acme.order.cancel", target_type="acme_order", target_id=order.id,
                               details={"names": order.names[:20]})
        for delay in (0.0, CANCEL_SWEEP_SECONDS):
            enqueue_cleanup(self._ctx, order.id, delay, cancelled=True)
        return order

    def new_challenge(self, actor: Actor, order_id: uuid.UUID | str) -> AcmeOrder:
        """Start again with a fresh ACME order (same request and key) after a failure."""
        require(actor, Permission.ACME_REQUEST)
        order = self.load(order_id)
        if order.state not in (FAILED, AUTHORIZATIONS_PENDING):
            raise Conflict(f"order {order.id} is {user_status(order)}; a new challenge applies to failed or "
                           "pending orders")
        if any(a.published_at is not None for a in self.authorizations(order)):
            raise Conflict(f"order {order.id} still has challenge records published; they are removed when it "
                           "finishes or fails")
        self._s.query(AcmeAuthorization).filter(AcmeAuthorization.order_id == order.id).delete()
        for column in ("order_url", "finalize_url", "certificate_url", "new_order_sent_at", "ca_status",
                       "waiting_since", "verify_requested_at", "last_check", "error_type", "error_message",
                       "error_problem", "finished_at"):
            setattr(order, column, None)
        order.state, order.polls, order.attempt, order.seq = CREATED, 0, order.attempt + 1, order.seq + 1
        self._s.flush()
        self._ctx.audit.record(actor, "acme.order.new_challenge", target_type="acme_order", target_id=order.id,
                               details={"attempt": order.attempt})
        enqueue_advance(self._ctx, order.id, order.seq)
        return order

    def authorizations(self, order: AcmeOrder) -> list[AcmeAuthorization]:
        return list(self._s.scalars(select(AcmeAuthorization).where(AcmeAuthorization.order_id == order.id)
                                    .order_by(AcmeAuthorization.position)))

    def active_for(self, managed_id: uuid.UUID) -> AcmeOrder | None:
        return self._s.scalar(select(AcmeOrder).where(AcmeOrder.managed_id == managed_id,
                                                      AcmeOrder.state.notin_((FAILED, STORED))).limit(1))


__all__ = ["CREATED", "RequestService", "RequestSpec", "user_status"]
