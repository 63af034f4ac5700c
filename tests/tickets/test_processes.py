"""No duplicates with real processes against the HTTPS fakes: a worker killed with SIGKILL right after the
help desk created the ticket (before certvault stored its number), then the job retried by another worker,
gives one ticket; two processes syncing at once give one ticket. And `certvault tickets sync --json` prints
exactly the six lists, each item naming help desk, kind, key and ticket number."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from certvault.container import App
from tests.servers.certvault_server import certvault_cli
from tests.servers.test_ca import LoopbackTLS
from tests.tickets.desks import KEYSTORE_PASSWORD, ClientPki, Desk, add_account
from tests.tickets.seed import ADMIN, certificate, import_certificate, serial_of

ROOT = Path(__file__).resolve().parents[2]


def _data_dir(app: App) -> str:
    return str(app.settings.data_dir)


def _process(app: App, mode: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tests.tickets.worker_process", _data_dir(app), mode], cwd=ROOT,
                            env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_worker_killed_between_create_and_store_leaves_one_ticket(
        sqlite_app: App, desk: Desk, tls: LoopbackTLS, client_pki: ClientPki) -> None:
    app = sqlite_app
    add_account(app, desk, tls, client_pki)
    import_certificate(app, certificate("crash.example.com", 9))
    with app.transaction() as svc:
        svc.tickets.request_sync(ADMIN)
    killed = _process(app, "worker", CERTVAULT_TEST_KILL_AFTER_CREATE="1", CERTVAULT_TEST_LEASE="2")
    assert killed.wait(120) == -9, killed.stderr.read() if killed.stderr else ""
    assert desk.count() == 1  # the help desk has it ...
    with app.transaction() as svc:
        (record, _), = svc.tickets.records(ADMIN)
        assert record.number is None and record.sync_state == "pending"  # ... certvault never stored it
    time.sleep(2.5)  # the job's lease and the record's run out
    retried = _process(app, "worker", CERTVAULT_TEST_LEASE="2")
    assert retried.wait(120) == 0, retried.stderr.read() if retried.stderr else ""
    assert desk.count() == 1  # found by its correlation key, not created again
    with app.transaction() as svc:
        (record, _), = svc.tickets.records(ADMIN)
        assert (record.number, record.sync_state) == (desk.numbers()[0], "ok")


def test_two_processes_syncing_at_once_make_one_ticket(
        sqlite_app: App, desk: Desk, tls: LoopbackTLS, client_pki: ClientPki) -> None:
    app = sqlite_app
    add_account(app, desk, tls, client_pki)
    import_certificate(app, certificate("race.example.com", 9))
    both = [_process(app, "sync", CERTVAULT_TEST_SLOW_CREATE="1.5") for _ in range(2)]
    reports = []
    for proc in both:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    assert desk.count() == 1
    assert sum(len(r["created"]) for r in reports) == 1


@pytest.mark.parametrize("desk", ["servicenow"], indirect=True)
def test_cli_adds_a_help_desk_and_sync_prints_the_six_lists(
        tmp_path: Path, desk: Desk, tls: LoopbackTLS, client_pki: ClientPki) -> None:
    data = tmp_path / "cli"
    keystore, ca = tmp_path / "client.p12", tmp_path / "ca.pem"
    keystore.write_bytes(client_pki.keystore())
    ca.write_bytes(tls.ca_file.read_bytes())
    fake = desk.fake
    wrong = certvault_cli(data, "helpdesk", "add", "servicenow", "sn", "--url", fake.url, "--username",
                          fake.username, "--password", fake.password, "--client-keystore", str(keystore),
                          "--keystore-password", "not-it", "--trusted-cert", str(ca), check=False)
    assert wrong.returncode == 1 and "password" in wrong.stderr and "Traceback" not in wrong.stderr
    assert json.loads(certvault_cli(data, "helpdesk", "list", "--json").stdout) == []  # nothing stored
    added = json.loads(certvault_cli(
        data, "helpdesk", "add", "servicenow", "sn", "--url", fake.url, "--username", fake.username,
        "--password", fake.password, "--client-keystore", str(keystore), "--keystore-password", KEYSTORE_PASSWORD,
        "--trusted-cert", str(ca), "--no-vulnerability-tickets", "--json").stdout)
    assert added["name"] == "sn" and added["plugin"] == "servicenow"
    shown = json.loads(certvault_cli(data, "helpdesk", "show", "sn", "--json").stdout)
    assert (shown["expiry_tickets"], shown["vulnerability_tickets"]) == (True, False)
    assert shown["client_identity"]["subject"] == "CN=certvault-client"
    tested = json.loads(certvault_cli(data, "helpdesk", "test", "sn", "--json").stdout)
    assert tested["ok"] is True and tested["result"]  # one authenticated call through mTLS and the trusted CA
    cert = tmp_path / "expiring.pem"
    cert.write_bytes(certificate("cli.example.com", 10))
    certvault_cli(data, "cert", "import", str(cert))
    first = json.loads(certvault_cli(data, "tickets", "sync", "--json").stdout)
    assert list(first) == ["created", "noted", "reopened", "resolved", "unchanged", "failed"]
    (item,) = first["created"]
    assert item == {"helpdesk": "sn", "kind": "expiry", "key": serial_of(cert.read_bytes()),
                    "number": desk.numbers()[0]}
    second = json.loads(certvault_cli(data, "tickets", "sync", "--json").stdout)
    assert [i["number"] for i in second["unchanged"]] == [item["number"]] and second["created"] == []
    (listed,) = json.loads(certvault_cli(data, "tickets", "list", "--json").stdout)
    assert (listed["number"], listed["sync_state"], listed["helpdesk"]) == (item["number"], "ok", "sn")
    certvault_cli(data, "helpdesk", "disable", "sn")
    assert json.loads(certvault_cli(data, "tickets", "sync", "--json").stdout)["unchanged"] == []
