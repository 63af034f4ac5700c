"""Domain events reach a real channel end to end: an ACME order the CA refuses (Pebble), a weakness a scan
finds (openssl s_server), and a service account locked out (the Secret Server OAuth endpoint), each through
the outbox, the notifications consumer's job and the delivery job, to a syslog listener on loopback."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from certvault.auth.rbac import Actor
from certvault.container import App
from certvault.issuance.requests import RequestSpec
from certvault.server import create_server
from tests.issuance.conftest import register, run_orders
from tests.scanning.conftest import scan_and_wait
from tests.scanning.tls import ScanCA, TlsServers
from tests.servers import pebble as servers
from tests.servers.syslog_listener import SyslogListener

ADMIN = Actor.system("events-test", via="cli")


@pytest.fixture
def syslog() -> Iterator[SyslogListener]:
    listener = SyslogListener("udp").start()
    yield listener
    listener.stop()


def _subscribe(app: App, syslog: SyslogListener, *events: str) -> str:
    with app.transaction() as svc:
        channel = svc.notifications.create_channel(ADMIN, f"siem-{uuid.uuid4().hex[:6]}", "syslog",
                                                   {"host": "127.0.0.1", "port": syslog.port})
        for event in events:
            svc.notifications.subscribe(ADMIN, channel.id, event)
        return channel.name


@pytest.fixture(scope="session")
def shadow_dns() -> servers.ChallTestSrv:
    """A DNS server our pre-check reads and Pebble never asks: the CA finds no TXT record."""
    return servers.shared("challtestsrv-shadow",
                          lambda: servers.ChallTestSrv(Path(tempfile.mkdtemp(prefix="cv-shadow-"))).start())


def test_an_acme_order_the_ca_refuses_reaches_syslog(acme_app: App, pebble: servers.Pebble,
                                                      shadow_dns: servers.ChallTestSrv,
                                                      syslog: SyslogListener) -> None:
    _subscribe(acme_app, syslog, "acme.*")
    account = register(acme_app, pebble)
    domain = f"refused-{uuid.uuid4().hex[:8]}.example.test"
    with acme_app.transaction() as svc:
        dns = svc.issuance.dns_accounts.add(
            ADMIN, "challtestsrv", f"shadow-{uuid.uuid4().hex[:6]}",
            {"management_url": f"http://127.0.0.1:{shadow_dns.management_port}", "dns_server": shadow_dns.dns}, {})
        svc.issuance.requests.request(ADMIN, RequestSpec(account.id, [domain], challenge="dns-01",
                                                         dns_account_id=dns.id))
    run_orders(acme_app)  # the worker also runs the consumer's and the channel's jobs
    line = syslog.wait_for(f"ACME order for {domain} failed")
    assert 'event="acme.order_failed"' in line and "No TXT records found" in line


def test_a_weakness_a_scan_finds_reaches_syslog(app: App, test_ca: ScanCA, tls_servers: TlsServers,
                                                syslog: SyslogListener) -> None:
    _subscribe(app, syslog, "scan.weakness_found")
    server = tls_servers.serve(test_ca.issue(["old.test"], ["127.0.0.3"]), ip="127.0.0.3", profile="legacy")
    scan_and_wait(app, ADMIN, hosts=[f"127.0.0.3:{server.port}"], ca_pem=test_ca.ca_pem)
    line = syslog.wait_for(f"Weakness found on 127.0.0.3:{server.port}")
    assert 'event="scan.weakness_found"' in line and "legacy protocol TLSv1.0 offered" in line


def test_a_service_account_locked_out_reaches_syslog(app: App, syslog: SyslogListener) -> None:
    channel = _subscribe(app, syslog)
    with app.transaction() as svc:  # the account's alert channel: subscribed to service_account.* for qualys
        folder = svc.vault.folders.create(ADMIN, "Scan")
        svc.vault.accounts.create(ADMIN, "qualys", [folder.id], alert_channels=[channel])
    attacker = TestClient(create_server(app), base_url="https://testserver", client=("198.51.100.66", 40000))
    for n in range(app.settings.security.lockout_threshold):
        answer = attacker.post("/secretserver/oauth2/token",
                               data={"grant_type": "password", "username": "qualys", "password": f"guess-{n}"})
        assert answer.status_code == 400
    app.worker().run_until_idle()
    line = syslog.wait_for("Service account qualys locked out")
    assert 'event="service_account.locked"' in line and "last from 198.51.100.66" in line
    failed = syslog.wait_for("Service account qualys failed to log in")
    assert "failed to log in from 198.51.100.66: wrong password" in failed
