"""Email and syslog over TLS use the account's connection settings through outbound's ssl_context, as the
webhook does: a pinned server certificate is accepted whatever CA signed it, and any other one is refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from certvault.auth.rbac import Actor
from certvault.container import App
from certvault.integrations.models import IntegrationAccount
from tests.certificates.factory import make_ca, make_leaf
from tests.servers.smtp import SmtpServer
from tests.servers.syslog_listener import SyslogListener
from tests.servers.test_ca import LoopbackTLS, make_loopback_tls

ADMIN = Actor.system("test-admin", via="cli")


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> LoopbackTLS:
    return make_loopback_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def smtp(tls: LoopbackTLS) -> Iterator[SmtpServer]:
    server = SmtpServer(tls, implicit_tls=True).start()
    yield server
    server.stop()


def _pin(app: App, name: str, certificate_pem: str) -> None:
    with app.transaction() as svc:
        account = svc.session.scalar(select(IntegrationAccount).where(IntegrationAccount.name == name))
        assert account is not None
        account.connection = {"trust": "pinned", "pinned_certificate": certificate_pem}


def _test_message(app: App, name: str) -> str:
    with app.transaction() as svc:
        message = svc.notifications.send_test(ADMIN, name)
    app.worker().run_until_idle()
    with app.transaction() as svc:
        found = svc.notifications.get_message(ADMIN, message.id)
        return found.status if found.status == "sent" else found.last_error or found.status


def test_syslog_tls_trusts_the_pinned_server_certificate_only(sqlite_app: App, tls: LoopbackTLS) -> None:
    listener = SyslogListener("tls", tls.server_context()).start()
    try:
        with sqlite_app.transaction() as svc:  # no ca_file: the system store would refuse the test CA
            svc.notifications.create_channel(ADMIN, "pinned-siem", "syslog", {
                "host": "127.0.0.1", "port": listener.port, "transport": "tls"})
        assert "certificate verify failed" in _test_message(sqlite_app, "pinned-siem")
        _pin(sqlite_app, "pinned-siem", tls.cert_file.read_text())
        assert _test_message(sqlite_app, "pinned-siem") == "sent"
        listener.wait_for("NOTIFICATION_TEST")
        other = make_leaf(make_ca("Elsewhere CA"), "127.0.0.1", days=30)
        _pin(sqlite_app, "pinned-siem", other.pem.decode())
        assert "not the pinned" in _test_message(sqlite_app, "pinned-siem")
    finally:
        listener.stop()


def test_smtp_over_implicit_tls_with_a_pinned_certificate(sqlite_app: App, smtp: SmtpServer,
                                                          tls: LoopbackTLS) -> None:
    with sqlite_app.transaction() as svc:
        svc.notifications.create_channel(ADMIN, "pinned-mail", "email", {
            "host": "127.0.0.1", "port": smtp.port, "security": "tls", "username": smtp.username,
            "sender": "certvault@example.test", "recipients": ["pinned@example.test"]}, smtp.password)
    _pin(sqlite_app, "pinned-mail", tls.cert_file.read_text())
    assert _test_message(sqlite_app, "pinned-mail") == "sent"
    smtp.mailbox.wait_for(lambda m: m["To"] == "pinned@example.test")
