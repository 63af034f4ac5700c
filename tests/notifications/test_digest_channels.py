"""Digests through every channel kind against real loopback servers: SMTP with implicit TLS and AUTH, syslog
framing (UDP, TCP octet counting, TLS) and CEF, webhook Slack / Teams / json shapes; vulnerability digests fed
by the event outbox; a renewal mailed to the ACME account holder; `cert email` with a PKCS#12 openssl opens."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from certvault.audit.models import AuditEvent
from certvault.auth.rbac import Actor
from certvault.container import App
from certvault.errors import InvalidInput
from certvault.issuance.models import AcmeAccount, AcmeOrder
from certvault.notifications.policies import PolicySpec
from certvault.scanning.models import ScanEndpoint, ScanFinding, ScanRun
from tests.certificates.factory import Issued, make_ca, make_leaf
from tests.notifications.test_policies import parts, run_policy
from tests.servers.certvault_server import certvault_cli
from tests.servers.smtp import SmtpServer
from tests.servers.syslog_listener import SyslogListener
from tests.servers.test_ca import LoopbackTLS, make_loopback_tls
from tests.servers.webhook_receiver import WebhookReceiver

ADMIN = Actor.system("test-admin", via="cli")


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> LoopbackTLS:
    return make_loopback_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def implicit_smtp(tls: LoopbackTLS) -> Iterator[SmtpServer]:
    server = SmtpServer(tls, implicit_tls=True).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ca() -> Issued:
    return make_ca("Digest Test CA")


def channel(app: App, name: str, kind: str, options: dict[str, Any], secret: str | None = None) -> None:
    with app.transaction() as svc:
        svc.notifications.create_channel(ADMIN, name, kind, options, secret)


def smtps_channel(app: App, server: SmtpServer, tls: LoopbackTLS, name: str = "smtps") -> None:
    channel(app, name, "email", {"host": "127.0.0.1", "port": server.port, "security": "tls",
                                 "username": server.username, "sender": "certvault@example.test",
                                 "recipients": [f"{name}@example.test"], "ca_file": str(tls.ca_file)},
            server.password)


def expiring(app: App, ca: Issued, *names_days: tuple[str, int]) -> None:
    with app.transaction() as svc:
        for cn, days in names_days:
            svc.certificates.import_data(ADMIN, make_leaf(ca, cn, days=days).pem, f"{cn}.pem")


def policy(app: App, name: str, channels: list[str], **spec: Any) -> None:
    with app.transaction() as svc:
        svc.notification_policies.add(ADMIN, PolicySpec(name, **spec), channels)


# ---- email ------------------------------------------------------------------------------------------------------
def test_expiry_report_over_implicit_tls_with_login(sqlite_app: App, implicit_smtp: SmtpServer, tls: LoopbackTLS,
                                                    ca: Issued) -> None:
    smtps_channel(sqlite_app, implicit_smtp, tls, "report-desk")
    expiring(sqlite_app, ca, ("r1.example.com", 3), ("r2.example.com", 40))
    policy(sqlite_app, "monthly-report", ["report-desk"], kind="report", within_days=60, schedule="weekly mon 06:00")
    run_policy(sqlite_app, "monthly-report")
    mail = implicit_smtp.mailbox.wait_for(lambda m: m["To"] == "report-desk@example.test")
    assert mail["Subject"] == "[certvault] Expiry report: 2 certificates expire within 60 days"
    found = parts(mail)
    assert "<td>r2.example.com</td>" in found["text/html"]
    [(_, data)] = found["attachments"].items()
    assert data.decode().splitlines()[0].startswith("common_name,names,issuer,serial,not_after,days_left")


def test_a_report_with_nothing_to_report_is_still_sent(sqlite_app: App, implicit_smtp: SmtpServer,
                                                       tls: LoopbackTLS) -> None:
    smtps_channel(sqlite_app, implicit_smtp, tls, "empty-report")
    policy(sqlite_app, "empty", ["empty-report"], kind="report")
    run_policy(sqlite_app, "empty")
    mail = implicit_smtp.mailbox.wait_for(lambda m: m["To"] == "empty-report@example.test")
    assert "0 certificates" in mail["Subject"]


# ---- syslog -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
def test_a_digest_is_one_syslog_message_per_transport(sqlite_app: App, tls: LoopbackTLS, ca: Issued,
                                                      transport: str) -> None:
    listener = SyslogListener(transport, tls.server_context() if transport == "tls" else None).start()
    try:
        channel(sqlite_app, "siem", "syslog", {"host": "127.0.0.1", "port": listener.port, "transport": transport,
                                              "hostname": "vaulthost", "ca_file": str(tls.ca_file)})
        expiring(sqlite_app, ca, ("s1.example.com", 4), ("s2.example.com", 5))
        policy(sqlite_app, "to-siem", ["siem"], within_days=10)
        run_policy(sqlite_app, "to-siem")
        line = listener.wait_for("CERTIFICATE_EXPIRING")
    finally:
        listener.stop()
    # local0 * 8 + warning (4) = 132; the framing (octet count over TCP/TLS) delivered exactly one message
    assert line.startswith("<132>1 ") and " vaulthost certvault " in line
    assert 'policy="to-siem"' in line and 'certificates="2"' in line
    assert "\n" not in line and "s1.example.com" in line and "s2.example.com" in line
    assert len(listener.lines) == 1


def test_a_digest_as_arcsight_cef(sqlite_app: App, ca: Issued) -> None:
    listener = SyslogListener("tcp").start()
    try:
        channel(sqlite_app, "arcsight", "syslog", {"host": "127.0.0.1", "port": listener.port, "transport": "tcp",
                                                  "format": "cef"})
        expiring(sqlite_app, ca, ("cef.example.com", 2))
        policy(sqlite_app, "to-arcsight", ["arcsight"], within_days=7)
        run_policy(sqlite_app, "to-arcsight")
        line = listener.wait_for("CEF:0")
    finally:
        listener.stop()
    cef = line[line.index("CEF:0"):]
    assert cef.startswith("CEF:0|certvault|certvault|")
    assert "|certificate.expiring|1 certificates expire within 7 days|6|" in cef
    assert "cs1Label=policy cs1=to-arcsight" in cef and "cef.example.com" in cef


# ---- webhook ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["slack", "teams", "json"])
def test_webhook_digest_shapes(sqlite_app: App, tls: LoopbackTLS, ca: Issued, fmt: str) -> None:
    receiver = WebhookReceiver(tls).start()
    try:
        channel(sqlite_app, f"chat-{fmt}", "webhook", {"url": receiver.url, "format": fmt, "ca_file": str(tls.ca_file)})
        expiring(sqlite_app, ca, ("hook.example.com", 6))
        policy(sqlite_app, f"to-{fmt}", [f"chat-{fmt}"], within_days=10)
        run_policy(sqlite_app, f"to-{fmt}")
        [(headers, body)] = receiver.wait(1)
    finally:
        receiver.stop()
    message = json.loads(body)
    assert headers["content-type"] == "application/json"
    title = "1 certificates expire within 10 days"
    if fmt == "slack":  # an incoming-webhook message: text, and Block Kit blocks
        assert message["text"] == title
        assert [b["type"] for b in message["blocks"]] == ["header", "section", "section", "context"]
        assert message["blocks"][0]["text"] == {"type": "plain_text", "text": title}
        assert "hook.example.com" in message["blocks"][1]["text"]["text"]
    elif fmt == "teams":  # a Workflows message carrying an Adaptive Card
        assert message["type"] == "message"
        [attachment] = message["attachments"]
        assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
        card = attachment["content"]
        assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
        assert card["body"][0]["text"] == title and "hook.example.com" in card["body"][1]["text"]
        assert {"title": "policy", "value": "to-teams"} in card["body"][2]["facts"]
    else:
        assert message["event"] == "certificate.expiring" and message["title"] == title
        assert [i["common_name"] for i in message["items"]] == ["hook.example.com"]


# ---- vulnerability policies -----------------------------------------------------------------------------------------
def _weakness_event(app: App, host: str, findings: list[str]) -> None:
    """What the scanner appends when it stores a result with new weaknesses (scanning/events.py)."""
    with app.transaction() as svc:
        svc.ctx.events.publish("scan.weakness_found", title=f"Weakness found on {host}:443", subject=f"{host}:443",
                               severity="warning", payload={"endpoint": str(uuid.uuid4()), "host": host,
                                                            "ip": "192.0.2.10", "port": 443, "findings": findings})


def _scan_finished(app: App, status: str = "done") -> None:
    with app.transaction() as svc:
        now = datetime.now(UTC)
        svc.session.add(ScanRun(id=uuid.uuid4(), status=status, source="schedule", requested_by="test",
                                spec={}, started_at=now, finished_at=now if status == "done" else None))


def _check_policies(app: App) -> None:
    with app.transaction() as svc:
        svc.enqueue("notifications.policies")
    app.worker().run_until_idle()


def test_vulnerability_policy_tells_new_weaknesses_once_after_the_scan(app: App, tls: LoopbackTLS) -> None:
    receiver = WebhookReceiver(tls).start()
    try:
        channel(app, "secops", "webhook", {"url": receiver.url, "ca_file": str(tls.ca_file)})
        policy(app, "weak-new", ["secops"], kind="vulnerability", scope="new")
        _scan_finished(app, "running")
        _weakness_event(app, "old.example.com", ["RC4"])
        _weakness_event(app, "shop.example.com", ["TLS1.0"])
        app.worker().run_until_idle()  # the consumer reads the events from the outbox
        _check_policies(app)
        assert receiver.requests == []  # a scan is still running: nothing yet
        with app.transaction() as svc:
            svc.session.execute(ScanRun.__table__.update().values(status="done", finished_at=datetime.now(UTC)))
        _check_policies(app)
        [(_, body)] = receiver.wait(1)
        digest = json.loads(body)
        assert digest["title"] == "2 endpoints with new weaknesses"
        assert {i["host"]: i["findings"] for i in digest["items"]} == {"old.example.com": "RC4",
                                                                       "shop.example.com": "TLS1.0"}
        _check_policies(app)  # the same scan is not told twice
        _scan_finished(app)  # a later scan that found nothing new: no digest
        _check_policies(app)
        assert len(receiver.requests) == 1
    finally:
        receiver.stop()


def test_vulnerability_policy_with_all_weak_endpoints(app: App, tls: LoopbackTLS) -> None:
    receiver = WebhookReceiver(tls).start()
    try:
        channel(app, "secops-all", "webhook", {"url": receiver.url, "ca_file": str(tls.ca_file)})
        policy(app, "weak-all", ["secops-all"], kind="vulnerability", scope="all")
        with app.transaction() as svc:
            now = datetime.now(UTC) + timedelta(seconds=1)
            for host, findings in (("weak.example.com", ["SSLv3", "RC4"]), ("clean.example.com", [])):
                endpoint = ScanEndpoint(id=uuid.uuid4(), host=host, ip="192.0.2.20", port=443, sni=host, sni_key=host,
                                        status="ok", findings=findings, last_scanned_at=now)
                svc.session.add(endpoint)
                svc.session.flush()
                svc.session.add_all([ScanFinding(endpoint_id=endpoint.id, name=f) for f in findings])
        _scan_finished(app)
        _check_policies(app)
        [(_, body)] = receiver.wait(1)
    finally:
        receiver.stop()
    digest = json.loads(body)
    assert digest["title"] == "1 endpoints with weaknesses"
    assert digest["items"] == [{"host": "weak.example.com", "ip": "192.0.2.20", "port": "443",
                                "findings": "SSLv3 RC4"}]


# ---- the ACME account holder hears of a renewal -------------------------------------------------------------------
def test_a_renewal_is_mailed_to_the_acme_account_holder(sqlite_app: App, implicit_smtp: SmtpServer,
                                                        tls: LoopbackTLS) -> None:
    smtps_channel(sqlite_app, implicit_smtp, tls, "admins-mail")
    with sqlite_app.transaction() as svc:
        account = AcmeAccount(id=uuid.uuid4(), name="le", directory_url="https://acme.test/dir", ca_name="Test CA",
                              email="holder@example.test", key_algorithm="ec256", key_sealed=b"-",
                              key_thumbprint="t" * 43, created_by="test")
        svc.session.add(account)
        svc.session.flush()
        order = AcmeOrder(id=uuid.uuid4(), account_id=account.id, names=["renew.example.com"],
                          challenge_type="http-01", fulfilment="manual", key_algorithm="ec256", created_by="test")
        svc.session.add(order)
        svc.session.flush()
        svc.ctx.events.publish("certificate.renewed", title="Certificate for renew.example.com renewed",
                               body="Test CA renewed the certificate for renew.example.com.",
                               payload={"order": str(order.id), "serial": "0a1b", "ca": "Test CA"})
    sqlite_app.worker().run_until_idle()
    mail = implicit_smtp.mailbox.wait_for(lambda m: m["To"] == "holder@example.test")
    assert mail["Subject"] == "[certvault] Certificate for renew.example.com renewed"
    assert "serial: 0a1b" in parts(mail)["text/plain"]


# ---- e-mailing a certificate ----------------------------------------------------------------------------------------
def test_cert_email_pkcs12_with_key_opens_with_openssl(tmp_path: Path, implicit_smtp: SmtpServer,
                                                        tls: LoopbackTLS) -> None:
    data = tmp_path / "data"
    certvault_cli(data, "init")
    ca = make_ca("Mail CA")
    leaf = make_leaf(ca, "mailed.example.com", days=30)
    (tmp_path / "site.pem").write_bytes(leaf.pem + ca.pem + leaf.key_pem)
    entry_id = json.loads(certvault_cli(data, "cert", "import", str(tmp_path / "site.pem"), "--json").stdout
                          )["files"][0]["entry_ids"][0]
    certvault_cli(data, "notify", "channel", "add", "email", "mailer", "--host", "127.0.0.1", "--port",
                  str(implicit_smtp.port), "--security", "tls", "--username", implicit_smtp.username,
                  "--sender", "certvault@example.test", "--recipients", "ops@example.test", "--ca-file",
                  str(tls.ca_file), "--password", implicit_smtp.password)
    refused = certvault_cli(data, "cert", "email", entry_id, "--to", "dev@example.test", "--with-key",
                            check=False)
    assert refused.returncode == 1 and "only leaves inside a password-protected PKCS#12" in refused.stderr
    sent = json.loads(certvault_cli(data, "cert", "email", entry_id, "--to", "dev@example.test", "--format",
                                    "pkcs12", "--with-key", "--password", "p12-secret-9", "--json").stdout)
    assert sent["to"] == "dev@example.test" and sent["with_key"] is True and sent["channel"] == "mailer"
    mail = implicit_smtp.mailbox.wait_for(lambda m: m["To"] == "dev@example.test")
    [(name, p12)] = parts(mail)["attachments"].items()
    assert name == "mailed.example.com.p12"
    (tmp_path / "got.p12").write_bytes(p12)
    opened = subprocess.run(["openssl", "pkcs12", "-in", str(tmp_path / "got.p12"), "-passin", "pass:p12-secret-9",
                             "-nodes"], capture_output=True, text=True, timeout=60, check=True).stdout
    assert "BEGIN PRIVATE KEY" in opened and "subject=CN=mailed.example.com" in opened.replace(" = ", "=")
    wrong = subprocess.run(["openssl", "pkcs12", "-in", str(tmp_path / "got.p12"), "-passin", "pass:wrong",
                            "-nodes"], capture_output=True, text=True, timeout=60)
    assert wrong.returncode != 0


def test_cert_email_is_audited_and_refuses_a_bad_address(sqlite_app: App, implicit_smtp: SmtpServer,
                                                         tls: LoopbackTLS, ca: Issued) -> None:
    smtps_channel(sqlite_app, implicit_smtp, tls, "cert-mailer")
    leaf = make_leaf(ca, "pem-only.example.com", days=30)
    with sqlite_app.transaction() as svc:
        entry_id = svc.certificates.import_data(ADMIN, leaf.pem + leaf.key_pem, "p.pem").entry_ids[0]
    with pytest.raises(InvalidInput, match="not an email address"), sqlite_app.transaction() as svc:
        svc.notifications.email_certificate(ADMIN, entry_id, "dev@example.test\r\nBcc: evil@example.test")
    with pytest.raises(InvalidInput, match="PKCS#12"), sqlite_app.transaction() as svc:
        svc.notifications.email_certificate(ADMIN, entry_id, "dev@example.test", fmt="pem", with_key=True,
                                            password="p12-secret-9")
    with sqlite_app.transaction() as svc:
        svc.notifications.email_certificate(ADMIN, entry_id, "pem@example.test")
    mail = implicit_smtp.mailbox.wait_for(lambda m: m["To"] == "pem@example.test")
    [(name, pem)] = parts(mail)["attachments"].items()
    assert name.endswith(".pem") and b"BEGIN CERTIFICATE" in pem and b"PRIVATE KEY" not in pem
    with sqlite_app.transaction() as svc:
        [event] = svc.session.scalars(select(AuditEvent).where(AuditEvent.action == "certificate.email")).all()
        assert event.target_id == str(entry_id)
        assert (event.details["to"], event.details["format"], event.details["with_key"]) == \
            ("pem@example.test", "pem", False)
