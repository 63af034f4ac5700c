"""The real certvault-agent against a real certvault server: enrolment, its client certificate (SAN kept as
typed), rotation while it polls with no failed poll, jobs, and refusals (forged, expired, revoked, replaced).
The server's agent certificates live 60 s here (agents.cert_seconds), so an agent rotates about every 40 s."""

from __future__ import annotations

import datetime as dt
import shutil
import ssl
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.agent.conftest import agent_cli, agents, enroll, run_agent, status, stop, token
from tests.servers.certvault_server import LiveServer
from tests.servers.process import wait_until


def _cert(directory: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificates((directory / "identity.pem").read_bytes())[0]


def _poll(server: LiveServer, identity: Path, wait: float = 0) -> httpx.Response:
    context = ssl.create_default_context(cafile=str(server.ca_file))
    context.load_cert_chain(str(identity))
    with httpx.Client(base_url=server.url, verify=context, timeout=30) as client:
        return client.get("/api/v1/agent/jobs", params={"wait": wait})


def _refused(server: LiveServer, identity: Path) -> str:
    """Why the server refused a call with this identity (a TLS alert or a 401); fails when it was accepted."""
    try:
        response = _poll(server, identity)
    except httpx.HTTPError as exc:  # the TLS handshake itself refused the certificate
        return f"tls: {exc}"
    assert response.status_code == 401, response.text
    return str(response.json()["detail"])


def test_enrolment_gives_a_client_certificate_named_exactly_as_typed(server: LiveServer, tmp_path: Path) -> None:
    directory = enroll(server, "itAuth", tmp_path / "a")
    cert = _cert(directory)
    assert cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName
    ) == ["itAuth"]
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "itAuth"
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    assert oct((directory / "identity.pem").stat().st_mode & 0o777) == "0o600"
    listed = agents(server)["itAuth"]
    assert listed["serial"] == format(cert.serial_number, "x") and listed["status"] == "enrolled"
    shown = status(directory)
    assert shown["enrolled"] is True and shown["name"] == "itAuth" and shown["serial"] == listed["serial"]


def test_ca_issue_client_keeps_the_san_case(server: LiveServer, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.serialization import pkcs12

    out = tmp_path / "client.p12"
    server.cli("ca", "issue-client", "--cn", "observeit", "--san", "itAuth", "--out", str(out), "--password", "pw")
    _key, cert, _chain = pkcs12.load_key_and_certificates(out.read_bytes(), b"pw")
    assert cert is not None
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["itAuth"]


def test_a_token_enrols_once_and_only_before_it_expires(server: LiveServer, tmp_path: Path) -> None:
    once = token(server, "web-01")
    args = ["--server", server.url, "--ca-file", str(server.ca_file)]
    agent_cli("enroll", *args, "--token", once, "--dir", str(tmp_path / "first"))
    again = agent_cli("enroll", *args, "--token", once, "--dir", str(tmp_path / "second"), check=False)
    assert again.returncode != 0 and "unknown, used or expired" in again.stderr
    assert not (tmp_path / "second" / "identity.pem").exists()
    bad = agent_cli("enroll", *args, "--token", "cvat_made-up", "--dir", str(tmp_path / "third"), check=False)
    assert bad.returncode != 0 and "enrolment refused (401)" in bad.stderr


def test_the_agent_runs_jobs_and_reports_them(server: LiveServer, tmp_path: Path) -> None:
    directory = enroll(server, "jobs-01", tmp_path / "agent")
    webroot = tmp_path / "www"
    webroot.mkdir()
    proc = run_agent(directory)
    try:
        from tests.agent.helpers import submit, wait_job

        job = submit(
            server,
            "jobs-01",
            "http01.place",
            {"webroot": str(webroot), "token": "tok-1", "key_authorization": "tok-1.thumb"},
        )
        assert wait_job(server, job)["state"] == "done"
        assert (webroot / ".well-known" / "acme-challenge" / "tok-1").read_text() == "tok-1.thumb"
        job = submit(server, "jobs-01", "http01.remove", {"webroot": str(webroot), "token": "tok-1"})
        assert wait_job(server, job)["state"] == "done"
        assert not (webroot / ".well-known" / "acme-challenge" / "tok-1").exists()
        bad = submit(server, "jobs-01", "http01.place", {"webroot": "relative/path", "token": "t"})
        failed = wait_job(server, bad)
        assert failed["state"] == "failed" and "absolute webroot" in failed["error"]

        served = wait_job(server, submit(server, "jobs-01", "tls.check", {"host": "127.0.0.1", "port": server.port}))
        server_cert = x509.load_pem_x509_certificate((server.data_dir / "tls" / "server.crt").read_bytes())
        assert served["state"] == "done" and served["result"]["serial"] == format(server_cert.serial_number, "x")

        found = tmp_path / "etc-ssl"
        (found / "sub").mkdir(parents=True)
        local = _forged_identity(tmp_path, "found-on-disk.example")  # key first, then the certificate
        (found / "sub" / "site.pem").write_bytes(local.read_bytes())
        (found / "notes.txt").write_text("no certificate here")
        report = wait_job(server, submit(server, "jobs-01", "inventory.report", {"paths": [str(found)]}))
        assert report["state"] == "done" and report["result"] == {"stored": 1}
        assert "found-on-disk.example" in server.cli("cert", "list", "--json").stdout
    finally:
        stop(proc)
    assert status(directory)["failed_polls"] == 0


@pytest.mark.slow
def test_rotation_while_polling_with_no_failed_poll_and_refusals(server: LiveServer, tmp_path: Path) -> None:
    """Two rotations of a 60 s certificate while the agent polls; meanwhile an expired certificate (an agent
    that never ran), the replaced one, a forged one (another CA, same name) and a revoked agent are refused."""
    rotor = enroll(server, "rotor", tmp_path / "rotor")
    first = _cert(rotor)
    shutil.copy(rotor / "identity.pem", tmp_path / "first-identity.pem")
    idle = enroll(server, "idle", tmp_path / "idle")
    proc = run_agent(rotor, "--poll-wait", "5")
    try:
        wait_until(lambda: int(status(rotor).get("rotations", 0)) >= 2, 200, "two rotations", proc, rotor / "agent.log")
        shown = status(rotor)
        assert shown["failed_polls"] == 0 and int(shown["polls"]) > 4
        assert "last_error" not in shown
        current = _cert(rotor)
        assert current.serial_number != first.serial_number
        wait_until(lambda: agents(server)["rotor"]["serial"] == format(current.serial_number, "x"), 30, "new serial")
        assert "belongs to no agent" in _refused(server, tmp_path / "first-identity.pem") or _refused(
            server, tmp_path / "first-identity.pem"
        ).startswith("tls:")
        assert _cert(idle).not_valid_after_utc < dt.datetime.now(dt.UTC)
        assert _refused(server, idle / "identity.pem").startswith("tls:")  # expired: the handshake refuses it
        assert proc.poll() is None
    finally:
        stop(proc)
    forged = _forged_identity(tmp_path, "rotor")
    assert _refused(server, forged).startswith("tls:")


def test_a_revoked_agent_is_refused_at_its_next_call(server: LiveServer, tmp_path: Path) -> None:
    directory = enroll(server, "doomed", tmp_path / "doomed")
    proc = run_agent(directory, "--poll-wait", "2")
    try:
        wait_until(lambda: int(status(directory).get("polls", 0)) >= 1, 60, "first poll", proc, directory / "agent.log")
        server.cli("agent", "revoke", "doomed")
        proc.wait(60)
        assert proc.returncode == 3
    finally:
        stop(proc)
    assert "revoked" in str(status(directory)["last_error"])
    assert agents(server)["doomed"]["status"] == "revoked"
    assert "revoked" in _refused(server, directory / "identity.pem")


def _forged_identity(tmp_path: Path, name: str) -> Path:
    """A client certificate for `name` from a CA certvault never heard of."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "certvault Issuing CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
        .sign(ca_key, hashes.SHA256())
    )
    path = tmp_path / "forged.pem"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        + cert.public_bytes(serialization.Encoding.PEM)
    )
    return path


def test_no_client_certificate_no_agent_api(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, verify=ssl.create_default_context(cafile=str(server.ca_file))) as client:
        response = client.get("/api/v1/agent/jobs", params={"wait": 0})
        assert response.status_code == 401 and "client certificate" in response.json()["detail"]
        assert client.get("/api/v1/health").status_code == 200  # browsers and API clients send none: unchanged
    time.sleep(0)
