"""kill -9 at every transition of the order engine, then a restart: the order finishes with the key
generated before the crash, one certificate, and one order at the CA."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

from certvault.container import App
from certvault.crypto import keys
from certvault.issuance.clients import AccountRef, client_for
from certvault.issuance.models import AcmeAccount, AcmeOrder
from certvault.issuance.requests import RequestSpec
from tests.issuance.conftest import ADMIN, dns_account, name, register, run_orders
from tests.servers import pebble as servers

ROOT = Path(__file__).resolve().parents[2]
POINTS = ["created->created", "created->authorizations_pending", "authorizations_pending->challenges_answered",
          "challenges_answered->validating", "validating->finalizing", "finalizing->downloading",
          "downloading->stored"]


@pytest.mark.parametrize("point", POINTS)
def test_kill_9_then_restart_resumes_without_loss_or_duplicates(
        acme_app: App, pebble: servers.Pebble, challtestsrv: servers.ChallTestSrv, point: str) -> None:
    account, dns = register(acme_app, pebble), dns_account(acme_app, challtestsrv)
    with acme_app.transaction() as svc:
        order = svc.issuance.requests.request(ADMIN, RequestSpec(account.id, [name("crash")], challenge="dns-01",
                                                                 dns_account_id=dns.id))
    proc = subprocess.run([sys.executable, "-m", "tests.issuance.crash_worker", str(acme_app.settings.data_dir),
                           point, acme_app.settings.database_url], cwd=ROOT, timeout=60, capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr[-2000:]
    with acme_app.transaction() as svc:
        crashed = svc.session.get(AcmeOrder, order.id)
        key_before = svc.sealer.open(crashed.key_sealed, aad=f"acme_orders:{order.id}") if crashed.key_sealed else None
    run_orders(acme_app)  # the restart: a fresh worker picks the order up after the dead one's lease
    with acme_app.transaction() as svc:
        done = svc.issuance.requests.get(ADMIN, order.id)
        assert done.state == "stored", done.error_message
        entry = svc.certificates.get(ADMIN, done.certificate_entry_id)
        assert len(entry.versions) == 1
        leaf = x509.load_der_x509_certificate(entry.current.der)
        if key_before is not None:
            assert keys.public_matches(keys.from_pem(key_before), leaf.public_key())
        ref = AccountRef.of(svc.ctx, svc.session.get(AcmeAccount, account.id))
        ctx = svc.ctx
    with client_for(ctx, ref) as client:
        assert len(client.list_orders()) == 1  # no second order at the CA
