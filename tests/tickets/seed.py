"""Certificates and scan results for ticket tests: expiring certificates in the inventory, endpoints with
weaknesses, renewals and clean rescans."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from certvault.auth.rbac import Actor

ADMIN = Actor.system("test-admin", via="cli")
_KEY = ec.generate_private_key(ec.SECP256R1())


def certificate(cn: str, days: int, sans: tuple[str, ...] = ()) -> bytes:
    now = datetime.now(UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(_KEY.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=300))
               .not_valid_after(now + timedelta(days=days))
               .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in (cn, *sans)]), critical=False))
    return builder.sign(_KEY, hashes.SHA256()).public_bytes(Encoding.PEM)


def serial_of(pem: bytes) -> str:
    return format(x509.load_pem_x509_certificate(pem).serial_number, "X")


def import_certificate(app: Any, pem: bytes, name: str = "cert.pem") -> None:
    with app.transaction() as svc:
        svc.certificates.import_data(ADMIN, pem, name)


def scan_result(host: str, ip: str, weak: tuple[str, ...] = (), cn: str | None = None, serial: str = "0A",
                port: int = 443, **vulns: str) -> dict[str, Any]:
    suites = [{"code": "0x0001", "name": n, "weak": True, "reasons": [f"{n} is weak"]} for n in weak]
    return {
        "target": {"host": host, "ip": ip, "port": port, "sni": host}, "reachable": True,
        "protocols": {p: p in ("TLSv1.2", "TLSv1.3") for p in ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2",
                                                               "TLSv1.3")},
        "ciphers": {"TLSv1.2": [*suites, {"code": "0xC02F", "name": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                          "weak": False, "reasons": []}]},
        "vulnerabilities": {"heartbleed": "not_vulnerable", **vulns},
        "certificate": {"fingerprint_sha256": (serial * 32)[:64].lower(), "subject": f"CN={cn or host}",
                        "common_name": cn or host, "serial": serial, "not_after": "2027-07-23T00:00:00+00:00",
                        "days_left": 300, "signature_algorithm": "sha256WithRSAEncryption", "expiring_soon": False,
                        "expired": False},
        "grade": "C" if weak else "A", "errors": [],
    }


def store_scan(app: Any, *results: dict[str, Any]) -> None:
    with app.transaction() as svc:
        svc.scanning.store_results(ADMIN, None, list(results))
