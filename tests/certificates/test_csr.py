"""CSR + key generation, then importing the externally signed certificate attaches it to the key."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certvault.auth.rbac import Actor
from certvault.certificates.views import detail
from certvault.container import App
from certvault.crypto.csr import CsrSpec
from certvault.errors import InvalidInput
from tests.servers.certvault_server import certvault_cli

ADMIN = Actor.system("test", via="cli")


@pytest.mark.parametrize(("key", "hash_name", "kind", "size"), [
    ("ec256", "sha256", ec.EllipticCurvePublicKey, 256), ("ec384", "sha384", ec.EllipticCurvePublicKey, 384),
    ("rsa2048", "sha512", rsa.RSAPublicKey, 2048), ("rsa3072", "sha256", rsa.RSAPublicKey, 3072),
    ("rsa4096", "sha384", rsa.RSAPublicKey, 4096),
])
def test_csr_key_types_and_hashes(sqlite_app: App, key: str, hash_name: str, kind: type, size: int) -> None:
    spec = CsrSpec(common_name="app.example.com", sans=("app.example.com", "10.0.0.7", "alt.example.com"),
                   key_spec=key, hash_name=hash_name, organization="Example Ltd", country="DE")
    with sqlite_app.transaction() as svc:
        entry, pem = svc.certificates.create_request(ADMIN, spec, tags=["new"])
        info = detail(svc.certificates, ADMIN, entry.id)
    request = x509.load_pem_x509_csr(pem)
    assert request.is_signature_valid and isinstance(request.public_key(), kind)
    assert request.public_key().key_size == size and request.signature_hash_algorithm.name == hash_name
    assert request.subject.rfc4514_string() == "CN=app.example.com,O=Example Ltd,C=DE"
    sans = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(v) for v in sans.get_values_for_type(x509.DNSName)] == ["app.example.com", "alt.example.com"]
    assert [str(v) for v in sans.get_values_for_type(x509.IPAddress)] == ["10.0.0.7"]
    assert info.status == "pending" and info.csr_pem == pem.decode() and info.tags == ["new"]
    assert (info.key_algorithm, info.key_size) == (kind is rsa.RSAPublicKey and "RSA" or "EC", size)


def test_bad_csr_requests(sqlite_app: App) -> None:
    for spec, message in [(CsrSpec("x", key_spec="dsa1024"), "unknown key type 'dsa1024'"),
                          (CsrSpec("x", hash_name="md5"), "unknown signature hash 'md5'"),
                          (CsrSpec("x", country="Germany"), "country must be a two-letter code"),
                          (CsrSpec("", key_spec="ec256"), "common name must be 1 to 64 characters"),
                          (CsrSpec("x", sans=("bad name",)), "'bad name' is not a valid DNS name")]:
        with pytest.raises(InvalidInput, match=message), sqlite_app.transaction() as svc:
            svc.certificates.create_request(ADMIN, spec)


def test_cli_csr_signed_by_openssl_then_imported(tmp_path: Path) -> None:
    """keytool -genkey + -certreq, the CA signs elsewhere, the signed certificate comes back."""
    data = tmp_path / "data"
    certvault_cli(data, "init")
    made = json.loads(certvault_cli(data, "cert", "csr", "--cn", "legacy.example.com", "--san", "legacy.example.com",
                                    "--san", "www.legacy.example.com", "--key", "rsa2048", "--hash", "sha384",
                                    "--out", str(tmp_path / "req.csr"), "--json").stdout)
    verify = subprocess.run(["openssl", "req", "-in", str(tmp_path / "req.csr"), "-verify", "-noout"],
                            capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0, verify.stderr
    ca_key, ca_crt, signed = tmp_path / "ca.key", tmp_path / "ca.crt", tmp_path / "signed.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(ca_key), "-out", str(ca_crt), "-subj", "/CN=External CA", "-days", "30"],
                   check=True, capture_output=True, timeout=60)
    subprocess.run(["openssl", "x509", "-req", "-in", str(tmp_path / "req.csr"), "-CA", str(ca_crt), "-CAkey",
                    str(ca_key), "-CAcreateserial", "-out", str(signed), "-days", "60", "-copy_extensions", "copy"],
                   check=True, capture_output=True, timeout=60)
    imported = json.loads(certvault_cli(data, "cert", "import", str(signed), "--json").stdout)
    assert imported["files"][0]["entry_ids"] == [made["id"]] and imported["files"][0]["renewed"] == 1
    shown = json.loads(certvault_cli(data, "cert", "show", made["id"], "--json").stdout)
    assert shown["status"] == "active" and shown["current"]["has_key"] is True
    assert shown["current"]["issuer"] == "CN=External CA"
    assert shown["names"] == ["legacy.example.com", "www.legacy.example.com"]
    certvault_cli(data, "cert", "export", made["id"], "--format", "pkcs12", "--with-key", "--password", "pw-123456",
                  "--out", str(tmp_path / "out.p12"))
    check = subprocess.run(["openssl", "pkcs12", "-in", str(tmp_path / "out.p12"), "-passin", "pass:pw-123456",
                            "-nodes"], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 and "BEGIN PRIVATE KEY" in check.stdout
