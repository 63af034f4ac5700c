"""The order engine: run an order's steps back to back while no wait is needed, commit only where a
restart needs it (guarded by `seq`), and leave waiting to a delayed job.

Crash safety, step by step: the key and the "newOrder sent" mark commit before the CA hears of
the order (a restart adopts that order from the account's order list instead of placing a
second one); the CA's order and authorizations commit as soon as they are known; publishing,
answering, validating, finalizing and downloading are repeatable and commit with the next wait
or the end; the certificate is stored in the inventory in the same transaction that marks the
order stored, so it is stored exactly once.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from certvault.acme_client import AcmeError, AcmeProblem, AcmeRateLimited, AcmeUnavailable
from certvault.auth.rbac import Actor
from certvault.context import ServiceContext
from certvault.errors import CertvaultError
from certvault.issuance import events, fulfil, steps
from certvault.issuance.clients import client_for
from certvault.issuance.models import (
    AUTHORIZATIONS_PENDING,
    CHALLENGES_ANSWERED,
    CREATED,
    DOWNLOADING,
    FAILED,
    FINALIZING,
    STORED,
    VALIDATING,
    AcmeOrder,
)
from certvault.issuance.snapshot import (
    OrderView,
    Outcome,
    advance_uncommitted,
    advance_view,
    commit_outcome,
    load_order,
    merge_outcomes,
)

log = logging.getLogger("certvault.issuance.engine")
ADVANCE_JOB, CLEANUP_JOB = "acme.order.advance", "acme.order.cleanup"
TERMINAL = (STORED, FAILED)
MAX_TRANSITIONS = 60
INLINE_WAIT = 0.1  # seconds: a CA re-poll due this soon runs inside the same job
INLINE_BUDGET = 1.0  # seconds of such waits per job, so a slot is never held long
CLEANUP_RETRY, CLEANUP_ATTEMPTS = 30.0, 20  # a failed removal: first retry after 30 s, then the job backoff
STEPS: dict[str, Any] = {
    AUTHORIZATIONS_PENDING: steps.authorizations_pending, CHALLENGES_ANSWERED: steps.challenges_answered,
    VALIDATING: steps.validating, FINALIZING: steps.finalizing, DOWNLOADING: steps.downloading,
}
ENGINE_ACTOR = Actor.system("acme-engine", via="job")


def enqueue_advance(ctx: ServiceContext, order_id: uuid.UUID, seq: int, delay: float = 0.0) -> None:
    job = ctx.enqueue(ADVANCE_JOB, {"order_id": str(order_id), "seq": seq}, dedup_key=f"acme-order:{order_id}:{seq}",
                      delay=timedelta(seconds=delay), max_attempts=20)
    if job is not None and job.status == "queued" and delay == 0 and job.run_at > ctx.now():
        job.run_at = ctx.now()  # "verify" should not wait for a poll scheduled later


def _short_wait(view: OrderView, outcome: Outcome) -> bool:
    """The same state asked again in a few milliseconds (a CA poll)."""
    return (outcome.state == view.state and not outcome.park and outcome.wait is not None
            and outcome.wait <= INLINE_WAIT and not outcome.new_authz)


def _now() -> datetime:
    return datetime.now(UTC)


class OrderEngine:
    """Runs in a job. `steps` opens short committed transactions; no transaction spans network I/O.

    Commits, per order: the key with the "newOrder sent" mark (in the transaction that reads the
    order), the CA's order and authorizations, and the last transition with the job's own commit.
    The transitions in between (publish, answer, validate, finalize, download) are repeatable, so
    they ride the next commit: a crash before it resumes from the authorizations and repeats them.
    """

    def __init__(self, job: Any) -> None:
        self.job = job

    def advance(self, order_id: uuid.UUID, seq: int | None) -> None:
        with self.job.step() as svc:
            ctx: ServiceContext = svc.ctx
            view = load_order(ctx, order_id)
            if view is None or view.state in TERMINAL:
                return  # gone or finished
            # A job from an older seq still runs: after a crash it is the only job left for the order.
            # Racing duplicates are harmless: every commit is guarded by seq and every step is repeatable.
            resumed = view.new_order_sent_at is not None
            view = self._key_here(ctx, view)
        if view is None:
            return
        pending: Outcome | None = None  # transitions since the last commit
        started, slept = time.monotonic(), 0.0
        for _ in range(MAX_TRANSITIONS):
            outcome = self._run_step(ctx, view, resumed)
            resumed = False
            if outcome.state == FAILED:
                outcome.authz.update(fulfil.remove(ctx, view, skip=outcome.authz.keys()))
            merged = merge_outcomes(pending, outcome)
            if _short_wait(view, outcome) and slept + (outcome.wait or 0.0) <= INLINE_BUDGET:
                # A re-poll due in a few ms is waited for here: a delayed job would cost more than the wait.
                pending, view = merged, advance_uncommitted(view, outcome)
                time.sleep(outcome.wait or 0.0)
                slept += outcome.wait or 0.0
                continue
            if outcome.state in TERMINAL or outcome.park or outcome.wait is not None:
                # The job's last transition rides the transaction that marks the job done.
                self._commit(self.job.services, view, merged)
                return
            if view.state == CREATED or time.monotonic() - started > 20:
                # The CA's order and its authorizations are committed at once (a restart must find them);
                # a long run continues in a fresh job.
                with self.job.step() as svc:
                    if not self._commit(svc, view, merged):
                        return
                    if view.state != CREATED:
                        enqueue_advance(svc.ctx, view.id, view.seq + 1)
                        return
                pending, view = None, advance_view(view, merged)
                continue
            pending, view = merged, advance_uncommitted(view, outcome)

    def _key_here(self, ctx: ServiceContext, view: OrderView) -> OrderView | None:
        """A fresh order's key, CSR and "newOrder sent" mark commit with the read that found it, when the
        key is quick to make (EC, or a key given). Returns the view to go on with (None: lost a race)."""
        if view.state != CREATED or steps.throttled(view) is not None:
            return view
        if view.key_pem is None and not view.key_algorithm.startswith("ec"):
            return view  # RSA generation takes long: not while holding the write lock
        outcome = steps.key_and_mark(view, _now())
        if outcome is None:
            return view
        if not commit_outcome(ctx, view, outcome):
            return None
        return advance_view(view, outcome)

    # ---- one step ----------------------------------------------------------------------------
    def _run_step(self, ctx: ServiceContext, view: OrderView, resumed: bool) -> Outcome:
        now = _now()
        if view.account is None:
            return steps.failed("the order's ACME account was deleted", "no_account", now=now)
        if view.account.status != "valid":
            return steps.failed(f"ACME account {view.account.name} is {view.account.status}", "account_unusable",
                                now=now)
        try:
            with client_for(ctx, view.account) as client:
                if view.state == CREATED:
                    outcome = steps.created(ctx, client, view, now, resumed, self._known_urls)
                else:
                    outcome = STEPS[view.state](ctx, client, view, now)
        except (AcmeUnavailable, AcmeRateLimited) as exc:
            return self._transient(view, exc, now)
        except AcmeProblem as exc:
            return steps.failed(str(exc.message), exc.type, exc.problem, now)
        except AcmeError as exc:
            return steps.failed(exc.message, "ca_error", now=now)
        except CertvaultError as exc:  # DNS provider, responder, bad stored input
            return steps.failed(exc.message, exc.code, now=now)
        if view.state != CREATED and outcome.state != FAILED:
            outcome.changes.setdefault("error_problem", None)  # the CA answered: clear "unreachable since"
        return outcome

    def _transient(self, view: OrderView, exc: AcmeError, now: datetime) -> Outcome:
        with self.job.step() as svc:
            order = svc.session.get(AcmeOrder, view.id)
            marker = (order.error_problem or {}) if order is not None else {}
        since = datetime.fromisoformat(marker["unavailable_since"]) if "unavailable_since" in marker else now
        grace = view.runtime.unavailable_grace
        if (now - since).total_seconds() >= grace:
            return steps.failed(f"{exc.message} (for {grace:g} s; giving up)", "unavailable", now=now)
        delay = max(1.0, (exc.retry_at - now).total_seconds()) if exc.retry_at else 5.0
        delay = min(delay, max(1.0, grace - (now - since).total_seconds()))
        return Outcome(view.state, {"last_check": exc.message,
                                    "error_problem": {"unavailable_since": since.isoformat()}}, wait=delay)

    def _known_urls(self, urls: list[str]) -> set[str]:
        if not urls:
            return set()
        with self.job.step() as svc:
            return set(svc.session.scalars(select(AcmeOrder.order_url).where(AcmeOrder.order_url.in_(urls))))

    # ---- commit ------------------------------------------------------------------------------
    def _commit(self, svc: Any, view: OrderView, outcome: Outcome) -> bool:
        ctx: ServiceContext = svc.ctx
        if not commit_outcome(ctx, view, outcome):
            return False
        if outcome.state in (FAILED, DOWNLOADING) and fulfil.still_published(advance_view(view, outcome)):
            enqueue_cleanup(ctx, view.id, CLEANUP_RETRY)  # a removal failed: retried until it works
        if outcome.state == STORED:
            assert outcome.chain_pem and view.key_pem
            svc.issuance.store_certificate(view.id, outcome.chain_pem, view.key_pem)
        elif outcome.state == FAILED:
            self._record_failure(svc, view, outcome)
        elif outcome.wait is not None and not outcome.park:
            enqueue_advance(ctx, view.id, view.seq + 1, outcome.wait)
        return True

    def _record_failure(self, svc: Any, view: OrderView, outcome: Outcome) -> None:
        ctx: ServiceContext = svc.ctx
        message = str(outcome.changes.get("error_message"))
        order = ctx.session.get(AcmeOrder, view.id)
        ctx.audit.record(ENGINE_ACTOR, "acme.order.fail", target_type="acme_order", target_id=view.id,
                         outcome="failure", details={"names": view.names[:10], "error": message,
                                                     "error_type": outcome.changes.get("error_type"),
                                                     "requested_by": order.created_by if order else None})
        if order is not None and order.managed_id is not None:
            svc.issuance.renewals.note_failure(order.managed_id, message)
        events.publish(ctx, events.FAILED, view.names, view.account.ca_name if view.account else "",
                       order_id=view.id, message=message, error_type=outcome.changes.get("error_type"))


def enqueue_cleanup(ctx: ServiceContext, order_id: uuid.UUID, delay: float = 0.0, *, cancelled: bool = False) -> None:
    key = f"acme-cleanup:{order_id}" + (f":cancel:{delay:g}" if cancelled else "")
    ctx.enqueue(CLEANUP_JOB, {"order_id": str(order_id), "cancelled": cancelled}, dedup_key=key,
                delay=timedelta(seconds=delay), max_attempts=CLEANUP_ATTEMPTS)


def cleanup_order(job: Any, order_id: uuid.UUID, cancelled: bool = False) -> None:
    """Remove what a finished order still has published (a removal that failed in its step), record it,
    and fail the job while something is left, so the job engine retries it with backoff. A cancelled order's
    cleanup removes every response it may have published."""
    with job.step() as svc:
        view = load_order(svc.ctx, order_id)
        ctx = svc.ctx
    if view is None or view.state not in TERMINAL + (DOWNLOADING,):
        return
    removed = fulfil.remove(ctx, view, every=cancelled)
    with job.step() as svc:
        commit_outcome(svc.ctx, view, Outcome(view.state, authz=removed))
    left = [a.identifier for a in fulfil.still_published(view) if a.id not in removed]
    if left:
        raise CertvaultError(f"could not remove the challenge records of {', '.join(left[:5])} yet")
