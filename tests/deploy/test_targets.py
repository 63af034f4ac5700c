"""The other targets: a local directory deployed automatically on renewal, AWS ACM (moto in server mode;
re-importing keeps the ARN), and a webhook whose receiver checks the HMAC signature."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from certvault.auth.rbac import Actor
from certvault.issuance import events as issuance_events
from tests.deploy.conftest import Authority, Nginx, store
from tests.servers.moto_server import ACCESS_KEY, SECRET_KEY, MotoServer
from tests.servers.test_ca import make_loopback_tls
from tests.servers.webhook_receiver import WebhookReceiver

ADMIN = Actor.system("test-admin", via="cli")


def _deploy(app: Any, entry_id: Any, target: str) -> Any:
    with app.transaction() as svc:
        [run] = svc.deploy.run(ADMIN, entry_id, target)
        run_id = run.id
    app.worker().run_until_idle(timeout=120)
    with app.transaction() as svc:
        return svc.deploy.deployment(ADMIN, run_id)


def test_local_target_deploys_on_renewal(sqlite_app: Any, nginx: Nginx, test_ca: Authority) -> None:
    options = {"fullchain_path": str(nginx.fullchain), "key_path": str(nginx.key),
               "test_command": nginx.command("-t"), "reload_command": nginx.command("-s", "reload"),
               "verify": [f"127.0.0.1:{nginx.port}/localhost"], "verify_timeout": 15}
    chain, key, serial = test_ca.leaf()
    with sqlite_app.transaction() as svc:
        svc.integrations.add(ADMIN, "deploy", "local", "here", options, {})
        entry_id = store(svc, chain, key)
        svc.deploy.map(ADMIN, entry_id, "here", auto=True)
        other = store(svc, *test_ca.leaf("other.test")[:2])
        svc.deploy.map(ADMIN, other, "here", auto=False)
    renewed_chain, renewed_key, renewed_serial = test_ca.leaf()
    with sqlite_app.transaction() as svc:
        store(svc, renewed_chain, renewed_key, entry_id)
        issuance_events.publish(svc.ctx, issuance_events.RENEWED, ["localhost"], "test CA",
                                certificate_id=entry_id, serial=renewed_serial)
        issuance_events.publish(svc.ctx, issuance_events.RENEWED, ["other.test"], "test CA", certificate_id=other)
    sqlite_app.worker().run_until_idle(timeout=120)
    with sqlite_app.transaction() as svc:
        runs = svc.deploy.deployments(ADMIN)
        by_version = svc.deploy.by_version(ADMIN, entry_id)
    assert [(r.entry_id, r.status, r.trigger, r.serial) for r in runs] == [
        (entry_id, "verified", "certificate.renewed", renewed_serial)]  # the --no-auto mapping stayed put
    assert nginx.serves(renewed_serial) and renewed_serial != serial
    [(version_id, [where])] = by_version.items()
    assert where.target_name == "here" and where.verified_at is not None


def test_acm_reimport_keeps_the_arn(sqlite_app: Any, test_ca: Authority, tmp_path: Path) -> None:
    moto = MotoServer(tmp_path / "moto").start()
    try:
        with sqlite_app.transaction() as svc:
            svc.integrations.add(ADMIN, "deploy", "acm", "aws", {"region": "eu-west-1", "endpoint_url": moto.endpoint},
                                 {"access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY})
            assert "ACM in eu-west-1 answered" in svc.integrations.check(ADMIN, "deploy", "aws")
            chain, key, serial = test_ca.leaf()
            entry_id = store(svc, chain, key)
        first = _deploy(sqlite_app, entry_id, "aws")
        assert first.status == "verified", first.reason
        arn = first.receipt["arn"]
        assert first.receipt["created"] == "yes"
        renewed_chain, renewed_key, renewed_serial = test_ca.leaf()
        with sqlite_app.transaction() as svc:
            store(svc, renewed_chain, renewed_key, entry_id)
        second = _deploy(sqlite_app, entry_id, "aws")
        assert second.status == "verified", second.reason
        assert second.receipt["arn"] == arn and second.receipt["created"] == "no"
        assert second.receipt["previous_serial"] == serial.lstrip("0")
        import boto3

        acm = boto3.client("acm", endpoint_url=moto.endpoint, region_name="eu-west-1",
                           aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
        assert [c["CertificateArn"] for c in acm.list_certificates()["CertificateSummaryList"]] == [arn]
        held = acm.describe_certificate(CertificateArn=arn)["Certificate"]["Serial"]
        assert int(held) == int(renewed_serial, 16)  # moto writes the serial as a decimal number
    finally:
        moto.stop()


def test_webhook_is_signed_and_carries_the_pems(sqlite_app: Any, test_ca: Authority, tmp_path: Path) -> None:
    tls = make_loopback_tls(tmp_path / "tls")
    receiver = WebhookReceiver(tls).start()
    secret = "s3cret-signing-key-0123456789"
    try:
        with sqlite_app.transaction() as svc:
            svc.integrations.add(ADMIN, "deploy", "webhook", "hook", {"url": receiver.url, "ca_file": str(tls.ca_file)},
                                 {"signing_secret": secret})
            chain, key, serial = test_ca.leaf()
            entry_id = store(svc, chain, key)
        done = _deploy(sqlite_app, entry_id, "hook")
        assert done.status == "verified", done.reason
        [(headers, body)] = receiver.wait(1)
        expected = "sha256=" + hmac.new(secret.encode(), headers["x-certvault-timestamp"].encode() + b"." + body,
                                        hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["x-certvault-signature"], expected)
        assert headers["x-certvault-event"] == "certificate.deploy"
        document = json.loads(body)
        assert document["serial"] == serial and document["certificate"] == str(entry_id)
        assert document["fullchain_pem"].encode() == chain and document["key_pem"].encode() == key
        forged = "sha256=" + hmac.new(b"another-secret-entirely", body, hashlib.sha256).hexdigest()
        assert not hmac.compare_digest(forged, expected)
    finally:
        receiver.stop()


def test_local_keystores_and_combined_pem(sqlite_app: Any, test_ca: Authority, tmp_path: Path) -> None:
    """Tomcat's PKCS#12 keystore, a JKS, and HAProxy's combined PEM, each read back with its own reader."""
    import jks
    from cryptography.hazmat.primitives.serialization import pkcs12

    chain, key, serial = test_ca.leaf()
    password = "changeit-123"
    with sqlite_app.transaction() as svc:
        entry_id = store(svc, chain, key)
        for name, options in (("p12", {"preset": "tomcat", "keystore_path": str(tmp_path / "site.p12"),
                                       "reload_command": "true"}),
                              ("jks", {"format": "jks", "cert_path": str(tmp_path / "site.jks")}),
                              ("haproxy", {"preset": "haproxy", "combined_path": str(tmp_path / "site.pem"),
                                           "test_command": "true", "reload_command": "true"})):
            svc.integrations.add(ADMIN, "deploy", "local", name, options,
                                 {"keystore_password": password} if name != "haproxy" else {})
    for name in ("p12", "jks", "haproxy"):
        done = _deploy(sqlite_app, entry_id, name)
        assert done.status == "verified", done.reason
    p12 = pkcs12.load_pkcs12((tmp_path / "site.p12").read_bytes(), password.encode())
    assert p12.cert is not None and format(p12.cert.certificate.serial_number, "x") == serial
    assert p12.key is not None and len(p12.additional_certs) == 1
    store_jks = jks.KeyStore.loads((tmp_path / "site.jks").read_bytes(), password)
    [entry] = store_jks.private_keys.values()
    assert len(entry.cert_chain) == 2
    assert (tmp_path / "site.pem").read_bytes() == key + chain
    assert (tmp_path / "site.pem").stat().st_mode & 0o777 == 0o640
    with sqlite_app.transaction() as svc:
        import pytest

        from certvault.errors import InvalidInput

        with pytest.raises(InvalidInput, match="keystore-password"):
            svc.integrations.add(ADMIN, "deploy", "local", "nopw", {"preset": "tomcat"}, {})


def test_a_newer_version_supersedes_one_not_started(sqlite_app: Any, test_ca: Authority, tmp_path: Path) -> None:
    chain, key, _ = test_ca.leaf()
    with sqlite_app.transaction() as svc:
        svc.integrations.add(ADMIN, "deploy", "local", "files", {"fullchain_path": str(tmp_path / "full.pem")}, {})
        entry_id = store(svc, chain, key)
        [first] = svc.deploy.run(ADMIN, entry_id, "files")
        assert svc.deploy.run(ADMIN, entry_id, "files")[0].id == first.id  # the same version: the same deployment
    new_chain, new_key, new_serial = test_ca.leaf()
    with sqlite_app.transaction() as svc:
        store(svc, new_chain, new_key, entry_id)
        [second] = svc.deploy.run(ADMIN, entry_id, "files")
    sqlite_app.worker().run_until_idle(timeout=60)
    with sqlite_app.transaction() as svc:
        older, newer = svc.deploy.deployment(ADMIN, first.id), svc.deploy.deployment(ADMIN, second.id)
        assert (older.status, older.reason) == ("failed", f"superseded by serial {new_serial} before it started")
        assert newer.status == "verified"
    assert (tmp_path / "full.pem").read_bytes() == new_chain
