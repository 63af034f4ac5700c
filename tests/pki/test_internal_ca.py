"""The internal CA issues client certificates that real TLS stacks accept for mutual TLS."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID

from certvault.auth.rbac import Actor
from certvault.container import App
from certvault.errors import InvalidInput
from tests.servers.certvault_server import certvault_cli
from tests.servers.process import free_port, start, stop, wait_until


def _issue_to_files(app: App, tmp_path: Path, cn: str = "agent-01") -> tuple[Path, Path, Path, Path]:
    with app.transaction() as svc:
        bundle = svc.pki.issue_client(Actor.system(), cn, [f"{cn}.example.test"], 30)
        root = svc.pki.root_pem()
    cert, key, chain, ca = (tmp_path / n for n in ("client.pem", "client.key", "chain.pem", "root.pem"))
    cert.write_bytes(bundle.cert_pem)
    key.write_bytes(bundle.key_pem())
    chain.write_bytes(bundle.chain_pem)
    ca.write_text(root)
    return cert, key, chain, ca


def test_client_certificate_passes_openssl_verify_for_sslclient(sqlite_app: App, tmp_path: Path) -> None:
    cert, _key, chain, ca = _issue_to_files(sqlite_app, tmp_path)
    intermediate = tmp_path / "intermediate.pem"
    intermediate.write_bytes(chain.read_bytes().split(b"-----END CERTIFICATE-----")[0] + b"-----END CERTIFICATE-----\n")
    result = subprocess.run(["openssl", "verify", "-purpose", "sslclient", "-CAfile", str(ca), "-untrusted",
                             str(intermediate), str(cert)], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip().endswith("OK"), result.stdout + result.stderr
    server_purpose = subprocess.run(["openssl", "verify", "-purpose", "sslserver", "-CAfile", str(ca),
                                     "-untrusted", str(intermediate), str(cert)], capture_output=True, text=True)
    assert server_purpose.returncode != 0  # clientAuth only

    parsed = x509.load_pem_x509_certificate(cert.read_bytes())
    usage = parsed.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment
    eku = parsed.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    sans = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["agent-01.example.test"]


def test_client_certificate_completes_a_real_mtls_handshake(sqlite_app: App, tmp_path: Path) -> None:
    cert, key, chain, ca = _issue_to_files(sqlite_app, tmp_path)
    with sqlite_app.transaction() as svc:
        server = svc.pki.issue_server(Actor.system(), ["localhost", "127.0.0.1"], 30)
    server_cert, server_key = tmp_path / "server.pem", tmp_path / "server.key"
    server_cert.write_bytes(server.cert_pem)
    server_key.write_bytes(server.key_pem())
    port = free_port()
    log = tmp_path / "s_server.log"
    proc = start(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(server_cert), "-key",
                  str(server_key), "-cert_chain", str(chain), "-CAfile", str(ca), "-Verify", "2",
                  "-verify_return_error", "-naccept", "2", "-www"], log)
    try:
        wait_until(lambda: "ACCEPT" in log.read_text(), 30, "openssl s_server", proc, log)
        ok = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-cert", str(cert),
                             "-cert_chain", str(chain), "-key", str(key), "-CAfile", str(ca),
                             "-verify_return_error", "-brief", "-ign_eof"],
                            input="GET / HTTP/1.0\r\n\r\n", capture_output=True, text=True, timeout=20)
        assert ok.returncode == 0, ok.stderr
        assert "Verification: OK" in ok.stderr and "HTTP/1.0 200" in ok.stdout
        # In TLS 1.3 the server checks the client's certificate after the client considers the handshake done;
        # -ign_eof keeps the client reading until the server's alert arrives instead of racing it to the exit.
        refused = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", str(ca),
                                  "-brief", "-ign_eof"], input="GET / HTTP/1.0\r\n\r\n", capture_output=True,
                                 text=True, timeout=20)
        assert "HTTP/1.0 200" not in refused.stdout  # no client certificate: the server refuses
        assert "certificate required" in refused.stderr.lower(), refused.stderr
        wait_until(lambda: "did not return a certificate" in log.read_text().lower(), 10, "s_server refusal", proc,
                   log)
    finally:
        stop(proc)
    assert "CN = agent-01" in log.read_text() or "agent-01" in log.read_text()


def test_cli_issue_client_writes_a_password_protected_pkcs12(sqlite_app: App, tmp_path: Path) -> None:
    out = tmp_path / "agent.p12"
    certvault_cli(sqlite_app.settings.data_dir, "ca", "issue-client", "--cn", "agent-02", "--san",
                  "agent-02.example.test", "--days", "10", "--out", str(out), "--password", "p12-secret")
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    key, cert, extra = pkcs12.load_key_and_certificates(out.read_bytes(), b"p12-secret")
    assert cert is not None and key is not None and len(extra) == 2
    assert cert.subject.rfc4514_string() == "CN=agent-02,O=certvault"
    openssl = subprocess.run(["openssl", "pkcs12", "-in", str(out), "-nokeys", "-passin", "pass:p12-secret"],
                             capture_output=True, text=True)
    assert openssl.returncode == 0 and "subject=O = certvault, CN = agent-02" in openssl.stdout
    root = certvault_cli(sqlite_app.settings.data_dir, "ca", "show-root").stdout
    assert "BEGIN CERTIFICATE" in root
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(out.read_bytes(), b"wrong")


def test_bad_requests_are_refused_and_nothing_is_issued(sqlite_app: App) -> None:
    with sqlite_app.transaction() as svc:
        with pytest.raises(InvalidInput, match="common name"):
            svc.pki.issue_client(Actor.system(), "  ", [], 30)
        with pytest.raises(InvalidInput, match="lifetime"):
            svc.pki.issue_client(Actor.system(), "x", [], 5000)
        with pytest.raises(InvalidInput, match="key type"):
            svc.pki.issue_client(Actor.system(), "x", [], 30, "dsa1024")
        assert svc.pki.list_issued(Actor.system(), "client") == []
