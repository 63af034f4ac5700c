"""Upgrading a database made by the last release: its sealed DNS and channel secrets become vault secrets.

The old database is made by the release's own code (stop 9, commit bec0ac4, taken from git), run in
a separate process; then today's code opens it, which runs the migration.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import uuid
from io import BytesIO
from pathlib import Path

import pytest

from certvault.auth.rbac import Actor
from certvault.container import build_app
from tests.conftest import make_settings
from tests.servers.postgres import PostgresServer
from tests.test_no_plaintext_at_rest import _dump

ROOT = Path(__file__).resolve().parents[2]
RELEASE = "bec0ac4"  # the last landed release before integration accounts
TSIG = "c2VjcmV0LXRzaWcta2V5LWZvci1taWdyYXRpb24tdGVzdA=="
SMTP_PASSWORD = "old-release-smtp-password-7781"
SIGNING_KEY = "old-release-webhook-signing-key-5512"

OLD_RELEASE_SCRIPT = f"""
import sys
from certvault.auth.rbac import Actor
from certvault.config import load_settings
from certvault.container import build_app
overrides = {{"data_dir": sys.argv[1]}}
if len(sys.argv) > 2:
    overrides["db"] = {{"url": sys.argv[2]}}
app = build_app(load_settings(environ={{}}, overrides=overrides))
admin = Actor.system("old-release")
with app.transaction() as svc:
    svc.issuance.dns_accounts.add(admin, "rfc2136", "bind-main", {{"server": "127.0.0.1:5353", "key_name": "k1"}},
                                  {{"key_secret": "{TSIG}"}})
    svc.notifications.create_channel(admin, "ops-mail", "email", {{"host": "smtp.example", "username": "ops",
                                     "sender": "certvault@example.com", "recipients": ["ops@example.com"]}},
                                     "{SMTP_PASSWORD}")
    svc.notifications.create_channel(admin, "siem", "syslog", {{"host": "127.0.0.1", "port": 514}})
    hook = svc.notifications.create_channel(admin, "hook", "webhook", {{"url": "https://hooks.example/x"}},
                                            "{SIGNING_KEY}")
    svc.notifications.subscribe(admin, hook.id, "service_account.*")
app.close()
"""


@pytest.fixture(scope="module")
def release_src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("release")
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", RELEASE, "src"],
                             capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target / "src"


def _make_old_database(release_src: Path, data: Path, db_url: str | None) -> None:
    env = {**os.environ, "PYTHONPATH": str(release_src)}
    args = [sys.executable, "-c", OLD_RELEASE_SCRIPT, str(data)] + ([db_url] if db_url else [])
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_old_sealed_secrets_move_into_the_vault(backend: str, release_src: Path, tmp_path: Path,
                                                request: pytest.FixtureRequest) -> None:
    db_url = None
    if backend == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        db_url = server.create_database(f"rel_{uuid.uuid4().hex[:10]}")
    data = tmp_path / "data"
    _make_old_database(release_src, data, db_url)

    app = build_app(make_settings(data, db_url))  # today's code: the migration runs here
    try:
        with app.transaction() as svc:
            admin = Actor.system("test")
            dns = svc.issuance.dns_accounts.load("bind-main")
            assert (dns.plugin, dns.options["server"], sorted(dns.secret_refs)) == (
                "rfc2136", "127.0.0.1:5353", ["key_secret"])
            accounts = svc.integrations
            assert accounts.resolver(dns, "test")("key_secret") == TSIG
            mail = svc.notifications.get_channel(admin, "ops-mail")
            assert accounts.resolver(mail, "test")("password") == SMTP_PASSWORD
            hook = svc.notifications.get_channel(admin, "hook")
            assert accounts.resolver(hook, "test")("signing_secret") == SIGNING_KEY
            assert svc.notifications.get_channel(admin, "siem").secret_refs == {}
            # the subscription still points at the same channel, and the plugin builds from the vault
            assert [s.channel_id for s in svc.notifications.list_subscriptions(admin)] == [hook.id]
            assert svc.notifications.notifier_for(hook).options.url == "https://hooks.example/x"
            # administrators see the secrets in the vault, named after their accounts
            names = {s.secret.name for s in svc.vault.secrets.search(admin, "(")[0]}
            assert {"bind-main (rfc2136)", "ops-mail (email)", "hook (webhook)"} <= names
    finally:
        app.close()
    dump = _dump(app)
    assert b"integration_accounts" in dump and b"acme_dns_accounts" not in dump
    for plaintext in (TSIG, SMTP_PASSWORD, SIGNING_KEY):
        assert plaintext.encode() not in dump
