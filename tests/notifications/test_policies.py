"""Notification policies: the default one, schedules across timezones and DST, filters, one digest per channel
(an HTML email with the CSV attached, read back from a real SMTP server), and a channel that is down."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any

import pytest

from certvault.auth.rbac import Actor
from certvault.container import App
from certvault.errors import InvalidInput
from certvault.notifications import schedule
from certvault.notifications.policies import PolicySpec
from tests.certificates.factory import Issued, make_ca, make_leaf
from tests.servers.smtp import SmtpServer
from tests.servers.test_ca import LoopbackTLS, make_loopback_tls

ADMIN = Actor.system("test-admin", via="cli")


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> LoopbackTLS:
    return make_loopback_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def smtp(tls: LoopbackTLS) -> Iterator[SmtpServer]:
    server = SmtpServer(tls).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ca() -> Issued:
    return make_ca("Policy Test CA")


def mail_channel(app: App, smtp: SmtpServer, tls: LoopbackTLS, name: str = "admins",
                 recipients: tuple[str, ...] = ("admins@example.test",), port: int | None = None) -> None:
    with app.transaction() as svc:
        svc.notifications.create_channel(ADMIN, name, "email", {
            "host": "127.0.0.1", "port": port or smtp.port, "security": "starttls", "username": smtp.username,
            "sender": "certvault@example.test", "recipients": list(recipients), "ca_file": str(tls.ca_file)},
            smtp.password)


def store(app: App, ca: Issued, cn: str, days: int, *, tags: list[str] | None = None, owner: str | None = None,
          managed: bool | None = None) -> str:
    leaf = make_leaf(ca, cn, days=days)
    with app.transaction() as svc:
        entry_id = svc.certificates.import_data(ADMIN, leaf.pem, f"{cn}.pem").entry_ids[0]
        if tags or owner or managed is not None:
            svc.certificates.update(ADMIN, entry_id, tags=tags, owner=owner, managed=managed)
    return str(entry_id)


def parts(mail: Message) -> dict[str, Any]:
    found: dict[str, Any] = {"attachments": {}}
    for part in mail.walk():
        filename = part.get_filename()
        if filename:
            found["attachments"][filename] = part.get_payload(decode=True)
        elif part.get_content_type() in ("text/plain", "text/html"):
            found[part.get_content_type()] = part.get_payload(decode=True).decode()
    return found


def run_policy(app: App, name: str) -> dict[str, Any]:
    with app.transaction() as svc:
        result = svc.notification_policies.run(ADMIN, name)
    app.worker().run_until_idle()
    return result


# ---- the default policy --------------------------------------------------------------------------------------
def test_the_default_expiry_policy_exists_from_the_first_start(sqlite_app: App) -> None:
    with sqlite_app.transaction() as svc:
        [policy] = svc.notification_policies.list_policies(ADMIN)
        assert (policy.name, policy.kind, policy.within_days, policy.schedule, policy.is_default) == \
            ("expiring-certificates", "expiry", 30, "daily 08:00", True)
        assert policy.channel_ids == []  # the administrators' email
        with pytest.raises(InvalidInput, match="default policy"):
            svc.notification_policies.delete(ADMIN, policy.name)


def test_the_default_policy_runs_on_its_schedule_and_mails_one_digest(sqlite_app: App, smtp: SmtpServer,
                                                                      tls: LoopbackTLS, ca: Issued) -> None:
    mail_channel(sqlite_app, smtp, tls, recipients=("default-admins@example.test",))
    store(sqlite_app, ca, "soon.example.com", days=10)
    store(sqlite_app, ca, "later.example.com", days=200)
    sqlite_app.install_schedules()  # as at start-up: the policy check runs every minute
    with sqlite_app.transaction() as svc:
        svc.enqueue("notifications.policies")  # this minute's check
    sqlite_app.worker().run_until_idle()  # gives the default policy its first slot
    with sqlite_app.transaction() as svc:
        policy = svc.notification_policies.get(ADMIN, "expiring-certificates")
        assert policy.next_run_at is not None and policy.next_run_at.strftime("%H:%M") == "08:00"
        policy.next_run_at = datetime.now(UTC) - timedelta(minutes=1)  # its time has come
        svc.enqueue("notifications.policies")
    sqlite_app.worker().run_until_idle()
    mail = smtp.mailbox.wait_for(lambda m: m["To"] == "default-admins@example.test")
    assert mail["Subject"] == "[certvault] 1 certificates expire within 30 days"
    with sqlite_app.transaction() as svc:
        policy = svc.notification_policies.get(ADMIN, "expiring-certificates")
        assert policy.next_run_at > datetime.now(UTC)  # moved to the next slot
        assert policy.last_result["certificates"] == 1


# ---- schedules ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["daily 8:00", "weekly 07:30", "weekly mon,funday 07:30", "hourly", "daily 24:00",
                                  "weekly mon thu 07:30"])
def test_schedules_other_than_the_two_forms_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="schedule"):
        schedule.parse(text)


def test_weekly_schedule_in_a_timezone_across_the_start_and_end_of_dst() -> None:
    weekly = schedule.parse("weekly mon,thu 07:30")
    assert weekly.text == "weekly mon,thu 07:30"
    # New York moves to EDT on Sunday 8 March 2026: Thursday 07:30 EST is 12:30 UTC, Monday 07:30 EDT 11:30 UTC
    thursday = schedule.next_run(weekly, "America/New_York", datetime(2026, 3, 5, 12, 0, tzinfo=UTC))
    assert thursday == datetime(2026, 3, 5, 12, 30, tzinfo=UTC)
    monday = schedule.next_run(weekly, "America/New_York", thursday)
    assert monday == datetime(2026, 3, 9, 11, 30, tzinfo=UTC)
    # ... and back to EST on Sunday 1 November 2026
    assert schedule.next_run(weekly, "America/New_York", datetime(2026, 10, 30, tzinfo=UTC)) == \
        datetime(2026, 11, 2, 12, 30, tzinfo=UTC)


def test_a_wall_time_skipped_or_repeated_by_dst_runs_once() -> None:
    sunday = schedule.parse("weekly sun 02:30")
    # Berlin skips 02:00-03:00 on 29 March 2026: the run is at 03:30 CEST (01:30 UTC)
    assert schedule.next_run(sunday, "Europe/Berlin", datetime(2026, 3, 23, tzinfo=UTC)) == \
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    # ... and repeats 02:00-03:00 on 25 October: the first 02:30 (CEST, 00:30 UTC), not the second one too
    first = schedule.next_run(sunday, "Europe/Berlin", datetime(2026, 10, 19, tzinfo=UTC))
    assert first == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert schedule.next_run(sunday, "Europe/Berlin", first) == datetime(2026, 11, 1, 1, 30, tzinfo=UTC)


def test_daily_schedule_in_tokyo_is_the_previous_utc_day() -> None:
    assert schedule.next_run(schedule.parse("daily 08:00"), "Asia/Tokyo", datetime(2026, 6, 1, 0, 0, tzinfo=UTC)) \
        == datetime(2026, 6, 1, 23, 0, tzinfo=UTC)


def test_an_unknown_timezone_is_refused(sqlite_app: App) -> None:
    with pytest.raises(InvalidInput, match="Mars/Olympus"), sqlite_app.transaction() as svc:
        svc.notification_policies.add(ADMIN, PolicySpec("bad", timezone="Mars/Olympus"))


# ---- digests --------------------------------------------------------------------------------------------------
def test_one_html_digest_with_the_csv_attached_per_channel(sqlite_app: App, smtp: SmtpServer, tls: LoopbackTLS,
                                                           ca: Issued) -> None:
    mail_channel(sqlite_app, smtp, tls, "team-a", ("team-a@example.test",))
    mail_channel(sqlite_app, smtp, tls, "team-b", ("team-b@example.test",))
    for i in range(3):
        store(sqlite_app, ca, f"shop{i}.example.com", days=5 + i)
    store(sqlite_app, ca, "gone.example.com", days=2, )
    store(sqlite_app, ca, "far.example.com", days=300)
    with sqlite_app.transaction() as svc:
        svc.notification_policies.add(ADMIN, PolicySpec("fortnight", within_days=14, schedule="weekly mon,thu 07:30",
                                                       timezone="Europe/Berlin"), ["team-a", "team-b"])
    result = run_policy(sqlite_app, "fortnight")
    assert result["certificates"] == 4 and result["channels"] == ["team-a", "team-b"]
    for team in ("team-a", "team-b"):
        mail = smtp.mailbox.wait_for(lambda m, t=team: m["To"] == f"{t}@example.test")
        found = parts(mail)
        assert "shop0.example.com" in found["text/plain"] and "far.example.com" not in found["text/plain"]
        assert "<table" in found["text/html"] and "<td>shop2.example.com</td>" in found["text/html"]
        [(name, data)] = found["attachments"].items()
        assert name.startswith("certvault-expiry-") and name.endswith(".csv")
        rows = list(csv.DictReader(io.StringIO(data.decode())))
        assert sorted(r["common_name"] for r in rows) == ["gone.example.com", "shop0.example.com",
                                                         "shop1.example.com", "shop2.example.com"]
        assert {r["state"] for r in rows} == {"expiring"}
    # one message per channel, not one per certificate
    assert len([m for m in smtp.mailbox.messages if m["To"] in ("team-a@example.test", "team-b@example.test")]) == 2


def test_filters_by_tag_issuer_owner_and_origin(app: App, ca: Issued) -> None:
    other_ca = make_ca("Other Issuer CA")
    store(app, ca, "web.example.com", days=5, tags=["web"], owner="alice")
    store(app, ca, "db.example.com", days=5, tags=["db"], owner="bob")
    store(app, other_ca, "mail.example.com", days=5, tags=["web"], owner="carol")
    store(app, ca, "found.example.com", days=5, managed=False)

    def names(**filters: Any) -> list[str]:
        with app.transaction() as svc:
            data = svc.notification_policies.expiry_report_csv(ADMIN, 30, filters)
        return sorted(r["common_name"] for r in csv.DictReader(io.StringIO(data.decode())))

    assert names(tags=["web"]) == ["mail.example.com", "web.example.com"]
    assert names(issuers=["other issuer"]) == ["mail.example.com"]
    assert names(owners=["bob", "carol"]) == ["db.example.com", "mail.example.com"]
    assert names(origin="discovered") == ["found.example.com"]
    assert "found.example.com" not in names(origin="managed")
    with pytest.raises(InvalidInput, match="colour"):
        names(colour=["red"])


def test_a_channel_that_is_down_keeps_the_digest_pending_until_it_answers(sqlite_app: App, tls: LoopbackTLS,
                                                                          ca: Issued) -> None:
    server = SmtpServer(tls)  # not started yet: the port refuses connections
    mail_channel(sqlite_app, server, tls, "flaky", ("flaky@example.test",))
    store(sqlite_app, ca, "down.example.com", days=3)
    with sqlite_app.transaction() as svc:
        svc.notification_policies.add(ADMIN, PolicySpec("to-flaky"), ["flaky"])
    run_policy(sqlite_app, "to-flaky")
    with sqlite_app.transaction() as svc:
        [message] = svc.notifications.list_outbox(ADMIN, status="pending")
        assert message.attempts == 1 and "refused" in (message.last_error or "").lower()
        message_id = message.id
    server.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the retry is due after its backoff
            sqlite_app.worker().run_until_idle()
            with sqlite_app.transaction() as svc:
                if svc.notifications.get_message(ADMIN, message_id).status == "sent":
                    break
            time.sleep(0.5)
        mail = server.mailbox.wait_for(lambda m: m["To"] == "flaky@example.test")
    finally:
        server.stop()
    assert "down.example.com" in parts(mail)["text/plain"]
    with sqlite_app.transaction() as svc:
        assert svc.notifications.get_message(ADMIN, message_id).status == "sent"
        assert svc.notifications.list_outbox(ADMIN, status="pending") == []


def test_the_default_policy_mails_the_administrators(sqlite_app: App, smtp: SmtpServer, tls: LoopbackTLS,
                                                     ca: Issued) -> None:
    mail_channel(sqlite_app, smtp, tls, "a-mail", ("a-list@example.test",))
    mail_channel(sqlite_app, smtp, tls, "b-mail", ("b-list@example.test",))
    with sqlite_app.transaction() as svc:
        for name, role, email in (("boss", "administrator", "boss@example.test"),
                                  ("deputy", "administrator", "deputy@example.test"),
                                  ("reader", "auditor", "reader@example.test"), ("quiet", "administrator", None)):
            svc.auth.create_user(ADMIN, name, role, password="Admin-pass-12345", email=email)
    store(sqlite_app, ca, "admins.example.com", days=4)
    result = run_policy(sqlite_app, "expiring-certificates")
    assert result["channels"] == ["a-mail"] and len(result["messages"]) == 1  # one digest, the first channel
    mail = smtp.mailbox.wait_for(lambda m: "boss@example.test" in m["To"])
    assert mail["To"] == "boss@example.test, deputy@example.test"
    assert "admins.example.com" in parts(mail)["text/plain"]
