"""http-01 through a deploy mapping (the seed's precedence): a certificate first issued with dns-01 is mapped to
an SSH target with a webroot; its renewal is validated by Pebble through the file certvault writes there over
SSH (and removes afterwards), then the renewed certificate is deployed to the nginx behind it and verified."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from certvault.issuance.requests import RequestSpec
from tests.deploy.conftest import Authority, ssh_options, start_nginx
from tests.issuance.conftest import ADMIN, challtestsrv, dns_account, name, pebble, register, run_orders, wire
from tests.servers import pebble as servers
from tests.servers.process import stop
from tests.servers.sshd import Sshd

__all__ = ["challtestsrv", "pebble"]  # the issuance tests' session fixtures, shared


def test_renewal_answered_through_the_mapped_ssh_target_then_deployed(
        sqlite_app: Any, pebble: servers.Pebble, challtestsrv: servers.ChallTestSrv, sshd: Sshd,
        test_ca: Authority, tmp_path: Path) -> None:
    app = wire(sqlite_app, pebble, challtestsrv)
    chain, key, _ = test_ca.leaf()
    site = start_nginx(tmp_path / "nginx", chain, key, http_port=pebble.http_port)  # where Pebble asks
    try:
        www = name("www")
        account = register(app, pebble)
        dns = dns_account(app, challtestsrv)
        with app.transaction() as svc:
            order = svc.issuance.requests.request(ADMIN, RequestSpec(account.id, [www], challenge="dns-01",
                                                                     dns_account_id=dns.id))
        run_orders(app)
        with app.transaction() as svc:
            entry_id = svc.issuance.requests.get(ADMIN, order.id).certificate_entry_id
            options = ssh_options(sshd, site) | {"verify": [f"127.0.0.1:{site.port}/{www}"]}
            svc.integrations.add(ADMIN, "deploy", "ssh", "web", options, {"private_key": sshd.client_key.read_text()})
            svc.deploy.map(ADMIN, entry_id, "web", auto=True)
            renewal = svc.issuance.renewals.renew_now(ADMIN, entry_id)
            assert (renewal.challenge_type, renewal.fulfilment) == ("http-01", "deploy")  # the mapping answers
        run_orders(app, timeout=120)
        with app.transaction() as svc:
            renewed = svc.issuance.requests.get(ADMIN, renewal.id)
            assert renewed.state == "stored", renewed.error_message
            authz = svc.issuance.requests.authorizations(renewed)
            assert all(a.published_at is None for a in authz)  # removed after validation
        challenge_dir = site.webroot / ".well-known" / "acme-challenge"
        assert challenge_dir.is_dir() and list(challenge_dir.iterdir()) == []
        app.worker().run_until_idle(timeout=120)  # certificate.renewed -> the deploy consumer -> deploy.run
        with app.transaction() as svc:
            [run] = svc.deploy.deployments(ADMIN, entry_id)
            assert (run.status, run.trigger) == ("verified", "certificate.renewed"), run.reason
            assert run.serial == renewed.serial
        assert site.serves(renewed.serial)
    finally:
        stop(site.proc)
