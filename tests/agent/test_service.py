"""The agents service on both databases: tokens stored hashed and spent once, identity checks, rotation,
leased jobs handed out again after their lease, repeated results ignored, revocation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import text

from certvault.agent.identity import csr_pem, new_key
from certvault.agents import service as agents_service
from certvault.auth.rbac import Actor, Role
from certvault.container import App
from certvault.errors import Conflict, Forbidden, InvalidInput, Unauthenticated

ADMIN = Actor.system("test-admin", via="cli")


def _der(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


def _enrolled(app: App, name: str) -> bytes:
    with app.transaction() as svc:
        token, _ = svc.agents.create_token(ADMIN, name, timedelta(hours=1))
    with app.transaction() as svc:
        issued = svc.agents.enroll(token, csr_pem(new_key(), name).encode(), "127.0.0.1", {"platform": "test"})
    return _der(issued.cert_pem)


def test_tokens_are_hashed_one_time_and_expire(app: App) -> None:
    with app.transaction() as svc:
        token, row = svc.agents.create_token(ADMIN, "Web-01", timedelta(minutes=1))
        expired, old = svc.agents.create_token(ADMIN, "web-02", timedelta(minutes=1))
        old.expires_at = svc.ctx.now() - timedelta(seconds=1)
    with app.engine.connect() as conn:
        stored = [r[0] for r in conn.execute(text("SELECT token_hash FROM agent_enrolment_tokens"))]
    assert token not in stored and agents_service.token_hash(token) in stored
    csr = csr_pem(new_key(), "x").encode()
    with app.transaction() as svc:
        issued = svc.agents.enroll(token, csr, None, {})
    assert issued.agent == "Web-01"
    for spent in (token, expired, "cvat_nothing"):
        with pytest.raises(Unauthenticated, match="unknown, used or expired"), app.transaction() as svc:
            svc.agents.enroll(spent, csr, None, {})
    with pytest.raises(Conflict, match="is enrolled"), app.transaction() as svc:
        svc.agents.create_token(ADMIN, "Web-01", timedelta(hours=1))


@pytest.mark.parametrize("name", ["", "a b", "-x", "x" * 65, "naïve", "under_score"])
def test_agent_names_are_dns_names(app: App, name: str) -> None:
    with pytest.raises(InvalidInput), app.transaction() as svc:
        svc.agents.create_token(ADMIN, name, timedelta(hours=1))


def test_only_ca_issuers_manage_agents(app: App) -> None:
    auditor = Actor(name="aud", role=Role.AUDITOR)
    with pytest.raises(Forbidden), app.transaction() as svc:
        svc.agents.create_token(auditor, "web-03", timedelta(hours=1))
    with app.transaction() as svc:
        assert svc.agents.agents(auditor) == []


def test_identity_rotation_and_revocation(app: App) -> None:
    first = _enrolled(app, "itAuth")
    with app.transaction() as svc:
        agent = svc.agents.authenticate(first, "127.0.0.1")
        assert agent.name == "itAuth"
        renewed = svc.agents.renew(agent, csr_pem(new_key(), "itAuth").encode())
    second = _der(renewed.cert_pem)
    with app.transaction() as svc:  # both work until the new one is used
        svc.agents.authenticate(first)
        assert svc.agents.authenticate(second).serial == renewed.serial
    with pytest.raises(Unauthenticated, match="belongs to no agent"), app.transaction() as svc:
        svc.agents.authenticate(first)
    with app.transaction() as svc:
        job = svc.agents.submit("itAuth", "tls.check", {"port": 443})
        svc.agents.revoke(ADMIN, "itAuth")
    with pytest.raises(Unauthenticated, match="revoked"), app.transaction() as svc:
        svc.agents.authenticate(second)
    with app.transaction() as svc:
        assert svc.agents.job(job).state == "failed"
        assert all(r.revoked_at for r in svc.pki.list_issued(ADMIN, "client") if r.common_name == "itAuth")


def test_a_certificate_of_another_ca_is_refused(app: App) -> None:
    with app.transaction() as svc:
        bundle = svc.pki.issue_client(ADMIN, "outsider", ["outsider"], 1, "ec256")
    with pytest.raises(Unauthenticated, match="belongs to no agent"), app.transaction() as svc:
        svc.agents.authenticate(_der(bundle.cert_pem))  # the internal CA's, but no agent's
    with pytest.raises(Unauthenticated, match="client certificate"), app.transaction() as svc:
        svc.agents.authenticate(None)


def test_jobs_are_leased_handed_out_again_and_reported_once(app: App) -> None:
    der = _enrolled(app, "worker-1")
    with app.transaction() as svc:
        agent = svc.agents.authenticate(der)
        job_id = svc.agents.submit("worker-1", "deploy", {"serial": "ab"}, secret=b'{"files": []}', dedup_key="d:ab")
        assert svc.agents.submit("worker-1", "deploy", {"serial": "ab"}, dedup_key="d:ab") == job_id
        assert svc.agents.ready_agents(svc.ctx.now()) == {agent.id}
    with app.transaction() as svc:
        (leased,) = svc.agents.lease(agent)
        assert leased.id == job_id and leased.payload["secret"] == '{"files": []}' and leased.attempts == 1
        assert svc.agents.lease(agent) == []  # leased: not handed out twice
    with app.transaction() as svc:  # the lease runs out (the agent died): handed out again
        svc.agents.job(job_id).available_at = svc.ctx.now() - timedelta(seconds=1)
    with app.transaction() as svc:
        (again,) = svc.agents.lease(agent)
        assert again.id == job_id and again.attempts == 2
        svc.agents.report(agent, job_id, True, {"receipt": {"serial": "ab"}}, None)
    with app.transaction() as svc:
        job = svc.agents.report(agent, job_id, False, {}, "late duplicate")
        assert job.state == "done" and job.result == {"receipt": {"serial": "ab"}} and job.secret_sealed is None
    other = _enrolled(app, "worker-2")
    with pytest.raises(Exception, match="has no job"), app.transaction() as svc:
        svc.agents.report(svc.agents.authenticate(other), job_id, True, {}, None)


def test_unknown_job_kinds_and_agents(app: App) -> None:
    _enrolled(app, "w3")
    with pytest.raises(InvalidInput), app.transaction() as svc:
        svc.agents.submit("w3", "format-disk", {})
    with pytest.raises(Exception, match="no enrolled agent"), app.transaction() as svc:
        svc.agents.submit("nobody", "tls.check", {})
