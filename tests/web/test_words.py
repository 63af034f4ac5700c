"""What issue 16 still found, as a browser is served it: non-secret vault fields shown plainly (secret ones behind
Reveal), states, kinds and renewal reasons in words through the one `human` filter, a channel form with the chosen
kind's fields only, dashboard counts for open tickets and vault alerts that open their filter, an import result
that names its certificates and says which certificate a lone key belongs to, no command-line flags in errors,
schedules shown with their own ports, and confirmations before deleting and after saving."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, load_pem_private_key, pkcs12
from fastapi.testclient import TestClient
from sqlalchemy import update

from certvault.auth.rbac import Actor
from certvault.container import App
from certvault.issuance.models import AcmeAccount, ManagedCertificate
from certvault.tickets.models import TicketRecord
from tests.certificates.factory import make_ca, make_leaf
from tests.conftest import create_login, web_login
from tests.tickets.seed import certificate, import_certificate
from tests.tickets.test_api import _desk
from tests.tickets.test_rules import sync

HTML = {"accept": "text/html"}
TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "certvault" / "web" / "templates"
SYSTEM = Actor.system("test")


def _secret(app: App, **settings: object) -> str:
    with app.transaction() as svc:
        folder = svc.vault.folders.create(SYSTEM, f"Ops-{uuid.uuid4().hex[:6]}")
        secret = svc.vault.secrets.create(SYSTEM, folder.id, "db01", "password",
                                          {"username": "dbadmin", "password": "S3cret-pass-2026!",
                                           "host": "db01.example.com", "notes": "rotate monthly"}, **settings)
        return str(secret.id)


def test_non_secret_vault_fields_are_shown_and_secret_ones_stay_behind_reveal(
        sqlite_app: App, sqlite_client: TestClient) -> None:
    web_login(sqlite_client, create_login(sqlite_app, "administrator"))
    page = sqlite_client.get(f"/vault/secrets/{_secret(sqlite_app)}").text
    for slug, value in (("username", "dbadmin"), ("host", "db01.example.com")):
        assert f'id="value-{slug}" value="{value}"' in page and f'data-copy="value-{slug}"' in page
    assert re.search(r'<textarea readonly class="mono plain" id="value-notes"[^>]*>rotate monthly</textarea>', page)
    assert "S3cret-pass-2026!" not in page and 'value="view:password">Reveal' in page
    assert 'value="view:username"' not in page  # no Reveal for what is not secret
    assert "Template</dt><dd>Password (version 1)" in page and "Your permission</dt><dd>Owner" in page


def test_a_checked_out_secret_reads_in_words_and_keeps_every_value_behind_the_gate(
        sqlite_app: App, sqlite_client: TestClient) -> None:
    secret_id = _secret(sqlite_app, checkout_enabled=True)
    web_login(sqlite_client, create_login(sqlite_app, "administrator"))
    page = sqlite_client.get(f"/vault/secrets/{secret_id}").text
    assert 'id="state">Requires checkout<' in page and "RequiresCheckout" not in page
    assert "dbadmin" not in page and 'value="view:username">Reveal' in page  # check-out first, then all values


def test_the_vault_channel_form_shows_only_the_chosen_kind(sqlite_app: App, sqlite_client: TestClient) -> None:
    web_login(sqlite_client, create_login(sqlite_app, "administrator"))
    form = {kind: sqlite_client.get(f"/vault/notifications?kind={kind}").text.split('id="channel-form"')[1]
            .split("</form>")[0] for kind in ("email", "syslog", "webhook")}
    assert 'id="ch-recipients"' in form["email"] and 'id="ch-url"' not in form["email"]
    assert 'id="ch-transport"' in form["syslog"] and 'id="ch-recipients"' not in form["syslog"]
    assert 'id="ch-secret"' not in form["syslog"] and 'id="ch-url"' not in form["syslog"]
    assert 'id="ch-url"' in form["webhook"] and 'id="ch-host"' not in form["webhook"]
    assert 'name="kind" value="webhook"' in form["webhook"]
    unknown = sqlite_client.get("/vault/notifications?kind=nonsense").text
    assert 'name="kind" value="email"' in unknown


def test_dashboard_counts_open_tickets_and_vault_alerts_that_open_their_filter(
        sqlite_app: App, sqlite_client: TestClient) -> None:
    _desk(sqlite_app)
    import_certificate(sqlite_app, certificate("open.example.com", 7))
    import_certificate(sqlite_app, certificate("closed.example.com", 8), "closed.pem")
    sync(sqlite_app)
    with sqlite_app.transaction() as svc:  # closed at the help desk, as the last sync read it
        svc.session.execute(update(TicketRecord).where(TicketRecord.common_name == "closed.example.com")
                            .values(status="closed"))
    _secret(sqlite_app, expires_at=datetime.now(UTC) - timedelta(days=2))
    web_login(sqlite_client, create_login(sqlite_app, "administrator"))
    page = sqlite_client.get("/").text
    assert re.search(r'href="/tickets\?status=open"><div class="n" data-count="open-tickets">1<', page)
    assert re.search(r'href="/vault/hardening"><div class="n" data-count="secrets-overdue">1<', page)
    assert re.search(r'href="/acme\?status=failed"><div class="n" data-count="failed-orders">0<', page)
    assert 'data-count="vault-requests">0<' in page and "1 secret past its expiry or rotation date" in page
    listed = sqlite_client.get("/tickets?status=open").text
    assert "Showing open tickets only" in listed and "open.example.com" in listed
    assert re.search(r'<time datetime="[^"]+">\d{4}-\d\d-\d\d \d\d:\d\d UTC</time> <span class="rel">\(', listed)
    assert "closed.example.com" not in listed
    assert "closed.example.com" in sqlite_client.get("/tickets").text


def test_renewal_reasons_and_acme_states_are_words(sqlite_app: App, sqlite_client: TestClient) -> None:
    now = datetime.now(UTC)
    with sqlite_app.transaction() as svc:
        for name, status in (("le-main", "valid"), ("le-old", "deactivated")):
            svc.session.add(AcmeAccount(id=uuid.uuid4(), name=name, directory_url="https://acme.test/dir",
                                        ca_name="Test CA", status=status, key_algorithm="ec256", key_sealed=b"-",
                                        key_thumbprint="t", created_by="test"))
        for names, reason, days in ((["third.example.com"], "one_third_lifetime", None),
                                    (["fixed.example.com"], "fixed_days", 30)):
            svc.session.add(ManagedCertificate(
                id=uuid.uuid4(), certificate_entry_id=uuid.uuid4(), names=names, challenge_type="dns-01",
                fulfilment="manual", key_algorithm="ec256", cert_pem="-", serial="01", not_before=now,
                not_after=now + timedelta(days=90), renew_at=now + timedelta(days=60), renew_reason=reason,
                renew_days_before=days, created_by="test"))
    web_login(sqlite_client, create_login(sqlite_app, "administrator"))
    renewals = sqlite_client.get("/acme/renewals").text
    assert "When a third of its lifetime is left" in renewals and "30 days before expiry" in renewals
    assert "one_third_lifetime" not in renewals and "fixed_days" not in renewals
    assert "<td>Active" in renewals and ">active<" not in renewals
    accounts = sqlite_client.get("/acme/accounts").text
    assert ">Active</span>" in accounts and ">Deactivated</span>" in accounts and ">valid<" not in accounts


def test_templates_show_state_names_only_through_the_human_filter() -> None:
    raw = re.compile(r"(?<!class=\"badge )\{\{\s*[\w.]+\.(?:status|state|kind|sync_state|outcome|source|renew_reason"
                     r"|pending_action)\s*\}\}")  # shown as text, not a class name
    leaks = [f"{path.relative_to(TEMPLATES)}: {match.group(0)}" for path in TEMPLATES.rglob("*.html")
             for match in raw.finditer(path.read_text())]
    assert not leaks, leaks
    per_page = re.compile(r"\{\{\s*\{'[a-z_]+':\s*'[A-Z][^}]*\}\.get\(")  # a page's own word list
    assert not [p.name for p in TEMPLATES.rglob("*.html") if per_page.search(p.read_text())]


def _import(client: TestClient, csrf: str, *files: tuple[str, bytes], password: str = "") -> str:
    answer = client.post("/certificates/import", data={"csrf_token": csrf, "password": password},
                         files=[("files", (name, data)) for name, data in files])
    return answer.text


def test_the_import_result_names_certificates_and_what_a_lone_key_matched(
        sqlite_app: App, sqlite_client: TestClient) -> None:
    csrf = web_login(sqlite_client, create_login(sqlite_app, "operator"), "/certificates/import")
    ca = make_ca("Import CA")
    alpha = make_leaf(ca, "alpha.example.com", ["alpha.example.com"], days=20)
    beta = make_leaf(ca, "beta.example.com", ["beta.example.com"], days=200)
    first = _import(sqlite_client, csrf, ("alpha.pem", alpha.pem + ca.pem), ("beta.pem", beta.pem))
    report = first.split('id="import-report"')[1]
    expiry = alpha.cert.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC")
    assert re.search(r'<a href="/certificates/[0-9a-f-]{36}">alpha\.example\.com</a>, expires <time[^>]*>'
                     + re.escape(expiry), report)
    assert ">beta.example.com</a>, expires" in report and ">view<" not in report
    lone = _import(sqlite_client, csrf, ("beta.key", beta.key_pem)).split('id="import-report"')[1]
    assert re.search(r'class="key-match">Private key for <a href="/certificates/[0-9a-f-]{36}">beta\.example\.com'
                     r"</a>, expires", lone)

    key = load_pem_private_key(alpha.key_pem, None)
    keystore = pkcs12.serialize_key_and_certificates(b"a", key, alpha.cert, None,  # type: ignore[arg-type]
                                                     BestAvailableEncryption(b"pw"))
    refused = _import(sqlite_client, csrf, ("alpha.p12", keystore))
    assert "alpha.p12: is a PKCS#12 keystore; give its password" in refused and "--password" not in refused


def test_a_schedule_keeps_its_own_port_and_deleting_it_asks_first(sqlite_app: App, sqlite_client: TestClient) -> None:
    csrf = web_login(sqlite_client, create_login(sqlite_app, "administrator"), "/scans/schedules")
    added = sqlite_client.post("/scans/schedules", data={"csrf_token": csrf, "name": "nightly", "frequency": "daily",
                                                         "time": "02:30", "hosts": "127.0.0.1:18443", "ports": "443"})
    assert added.status_code == 201 and "Schedule nightly added" in added.text
    row = added.text.split('id="schedules"')[1].split("</table>")[0]
    assert "<td>127.0.0.1:18443</td>" in row and "443," not in row and "port 443" not in row
    mixed = sqlite_client.post("/scans/schedules", data={"csrf_token": csrf, "name": "mixed", "frequency": "daily",
                                                         "time": "03:00", "hosts": "127.0.0.1:18443 www.example.com",
                                                         "ports": "443, 8443"})
    assert "127.0.0.1:18443; www.example.com on ports 443, 8443" in mixed.text
    schedule = re.search(r'action="/scans/schedules/([0-9a-f-]{36})/delete"', row)
    assert schedule and re.search(r'<details class="confirm"><summary class="button danger">Delete</summary>\s*'
                                  rf'<form method="post" action="/scans/schedules/{schedule.group(1)}/delete">', row)
    paused = sqlite_client.post(f"/scans/schedules/{schedule.group(1)}/toggle", data={"csrf_token": csrf})
    assert "Schedule paused." in paused.text
    deleted = sqlite_client.post(f"/scans/schedules/{schedule.group(1)}/delete", data={"csrf_token": csrf})
    assert "Schedule deleted." in deleted.text and "nightly" not in deleted.text.split('id="schedules"')[1]


def test_page_errors_carry_no_command_line_flags() -> None:
    from certvault.web.filters import plain_words, scan_error

    assert plain_words("x.p12: is a PKCS#12 keystore; give its password (--password)") == \
        "x.p12: is a PKCS#12 keystore; give its password"
    assert plain_words("this CA requires External Account Binding: give --eab-kid and --eab-hmac") == \
        "this CA requires External Account Binding: give the eab kid and the eab hmac"
    assert scan_error("SSLv2: connect to 127.0.0.1:1: connection refused").startswith(
        "Could not connect to 127.0.0.1:1: nothing is listening there")
    assert "trusted root" in scan_error("validation failed: candidates exhausted: all candidates exhausted")


def test_vault_and_channel_deletes_ask_first(sqlite_app: App, sqlite_client: TestClient) -> None:
    csrf = web_login(sqlite_client, create_login(sqlite_app, "administrator"))
    secret_id = _secret(sqlite_app)
    page = sqlite_client.get(f"/vault/secrets/{secret_id}").text
    assert re.search(r'<details class="confirm" id="delete-secret"><summary class="button danger">Delete this secret'
                     r'</summary>\s*<form method="post" action="/vault/secrets/[0-9a-f-]{36}/delete">', page)
    assert "Yes, delete db01" in page and 'style="' not in page.split('id="delete-secret"')[1]
    added = sqlite_client.post("/vault/notifications/channels", data={
        "csrf_token": csrf, "name": "soc-hook", "kind": "webhook", "url": "https://hooks.example.test/x"})
    assert added.status_code == 200 and "soc-hook" in added.text
    channels = sqlite_client.get("/vault/notifications").text
    assert re.search(r'<details class="confirm"><summary class="button danger">Delete</summary>\s*<form method="post" '
                     r'action="/vault/notifications/channels/[0-9a-f-]{36}/delete">', channels)
    assert "Yes, delete soc-hook" in channels


def test_audit_targets_are_named(sqlite_app: App, sqlite_client: TestClient) -> None:
    ca = make_ca("Audit CA")
    import_certificate(sqlite_app, make_leaf(ca, "audited.example.com", ["audited.example.com"]).pem, "a.pem")
    web_login(sqlite_client, create_login(sqlite_app, "auditor"))
    page = sqlite_client.get("/audit?action=certificate.import").text
    row = page.split('id="audit"')[1].split("</table>")[0]
    assert re.search(r'Certificate\s*<a class="target" href="/certificates/[0-9a-f-]{36}" title="[0-9a-f-]{36}">'
                     r"audited\.example\.com</a>", row)
