"""Channels deliver to real loopback servers: SMTP (STARTTLS + AUTH), syslog (UDP/TCP/TLS, CEF), webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from certvault.auth.rbac import Actor
from certvault.container import App
from certvault.errors import InvalidInput
from certvault.integrations.models import IntegrationAccount
from certvault.notifications.models import OutboxMessage
from tests.servers.smtp import SmtpServer
from tests.servers.syslog_listener import SyslogListener
from tests.servers.test_ca import LoopbackTLS, make_loopback_tls
from tests.servers.webhook_receiver import WebhookReceiver

ADMIN = Actor.system("test-admin", via="cli")


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> LoopbackTLS:
    return make_loopback_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def smtp(tls: LoopbackTLS) -> Iterator[SmtpServer]:
    server = SmtpServer(tls).start()
    yield server
    server.stop()


def _channel(app: App, kind: str, options: dict[str, Any], secret: str | None = None,
             events: tuple[str, ...] = ("*",)) -> None:
    with app.transaction() as svc:
        channel = svc.notifications.create_channel(ADMIN, f"{kind}-{len(options)}", kind, options, secret)
        for event in events:
            svc.notifications.subscribe(ADMIN, channel.id, event)


def _publish(app: App, event: str = "service_account.locked", **details: str) -> None:
    with app.transaction() as svc:
        svc.notifications.publish(event, "Service account qualys locked out", "qualys was locked out.",
                                  severity="critical", subject="qualys", details={"account": "qualys", **details})
    app.worker().run_until_idle()


def _outbox(app: App) -> list[OutboxMessage]:
    with app.transaction() as svc:
        return svc.notifications.list_outbox(ADMIN)


def test_email_over_starttls_with_login_reaches_the_mailbox(sqlite_app: App, smtp: SmtpServer,
                                                            tls: LoopbackTLS) -> None:
    _channel(sqlite_app, "email", {"host": "127.0.0.1", "port": smtp.port, "security": "starttls",
                                   "username": smtp.username, "sender": "certvault@example.test",
                                   "recipients": ["secops@example.test"], "ca_file": str(tls.ca_file)},
             secret=smtp.password, events=("service_account.*",))
    _publish(sqlite_app, ip="10.9.8.7")
    mail = smtp.mailbox.wait_for(lambda m: "qualys" in m["Subject"])
    assert mail["Subject"] == "[certvault] Service account qualys locked out"
    assert mail["X-Certvault-Event"] == "service_account.locked"
    assert "ip: 10.9.8.7" in mail.get_payload()
    assert [m.status for m in _outbox(sqlite_app)] == ["sent"]


def test_email_with_a_wrong_password_is_retried_and_says_why(sqlite_app: App, smtp: SmtpServer,
                                                             tls: LoopbackTLS) -> None:
    _channel(sqlite_app, "email", {"host": "127.0.0.1", "port": smtp.port, "username": smtp.username,
                                   "sender": "certvault@example.test", "recipients": ["secops@example.test"],
                                   "ca_file": str(tls.ca_file)}, secret="wrong-password")
    _publish(sqlite_app)
    [message] = _outbox(sqlite_app)
    assert message.status == "pending" and message.attempts == 1
    assert "535" in (message.last_error or "")  # the server's authentication failure, named


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
def test_syslog_lines_are_rfc5424(sqlite_app: App, tls: LoopbackTLS, transport: str) -> None:
    listener = SyslogListener(transport, tls.server_context() if transport == "tls" else None).start()
    try:
        _channel(sqlite_app, "syslog", {"host": "127.0.0.1", "port": listener.port, "transport": transport,
                                        "hostname": "vaulthost", "ca_file": str(tls.ca_file)})
        _publish(sqlite_app, ip="10.9.8.7")
        line = listener.wait_for("SERVICE_ACCOUNT_LOCKED")
    finally:
        listener.stop()
    # local0 (16) * 8 + critical (2) = 130
    assert line.startswith("<130>1 ")
    assert " vaulthost certvault " in line
    assert '[certvault@32473 event="service_account.locked" account="qualys" ip="10.9.8.7"]' in line
    assert line.endswith("Service account qualys locked out: qualys was locked out.")


def test_syslog_cef_format_for_a_siem(sqlite_app: App) -> None:
    listener = SyslogListener("udp").start()
    try:
        _channel(sqlite_app, "syslog", {"host": "127.0.0.1", "port": listener.port, "format": "cef"})
        _publish(sqlite_app, ip="10.9.8.7", reason="bad|pipe=eq")
        line = listener.wait_for("CEF:0")
    finally:
        listener.stop()
    cef = line[line.index("CEF:0"):]
    assert cef.startswith("CEF:0|certvault|certvault|")
    assert "|service_account.locked|Service account qualys locked out|9|" in cef
    assert "suser=qualys" in cef and "src=10.9.8.7" in cef
    assert "cs1Label=reason cs1=bad|pipe\\=eq" in cef


def test_webhook_is_signed_with_hmac(sqlite_app: App, tls: LoopbackTLS) -> None:
    receiver = WebhookReceiver(tls).start()
    key = "0123456789abcdef-signing"
    try:
        _channel(sqlite_app, "webhook", {"url": receiver.url, "ca_file": str(tls.ca_file)}, secret=key)
        _publish(sqlite_app)
        [(headers, body)] = receiver.wait(1)
    finally:
        receiver.stop()
    expected = hmac.new(key.encode(), headers["x-certvault-timestamp"].encode() + b"." + body,
                        hashlib.sha256).hexdigest()
    assert headers["x-certvault-signature"] == f"sha256={expected}"
    assert json.loads(body)["event"] == "service_account.locked"


def test_a_failing_webhook_is_retried(sqlite_app: App, tls: LoopbackTLS) -> None:
    receiver = WebhookReceiver(tls, status=503).start()
    try:
        _channel(sqlite_app, "webhook", {"url": receiver.url, "ca_file": str(tls.ca_file)})
        _publish(sqlite_app)
    finally:
        receiver.stop()
    [message] = _outbox(sqlite_app)
    assert message.status == "pending" and "HTTP 503" in (message.last_error or "")


@pytest.mark.parametrize(("kind", "options", "secret", "problem"), [
    ("email", {"host": "smtp", "sender": "a@b", "recipients": []}, None, "recipients"),
    ("email", {"host": "smtp", "sender": "nope", "recipients": ["a@b"]}, None, "sender"),
    ("email", {"host": "smtp", "security": "none", "username": "u", "sender": "a@b", "recipients": ["a@b"]},
     "pw", "without TLS"),
    ("webhook", {"url": "http://hooks.example/x"}, None, "https://"),
    ("syslog", {"host": "x", "transport": "carrier-pigeon"}, None, "transport"),
    ("pager", {}, None, "unknown channel kind"),
])
def test_bad_channel_options_are_refused_and_nothing_is_stored(sqlite_app: App, kind: str, options: dict[str, Any],
                                                               secret: str | None, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem), sqlite_app.transaction() as svc:
        svc.notifications.create_channel(ADMIN, "bad", kind, options, secret)
    with sqlite_app.transaction() as svc:
        assert svc.session.query(IntegrationAccount).count() == 0


def test_channel_secrets_are_sealed_at_rest(sqlite_app: App, tmp_path: Path) -> None:
    _channel(sqlite_app, "webhook", {"url": "https://hooks.example/x"}, secret="very-secret-signing-key-42")
    raw = (sqlite_app.settings.data_dir / "certvault.db").read_bytes()
    assert b"very-secret-signing-key-42" not in raw
