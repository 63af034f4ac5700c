"""A corpus of distinct certificates for the benchmark, generated fast and cached on disk.

One CA key and one leaf key sign every certificate (key generation is not what we measure); names,
serials and validity differ. Expiry dates spread evenly from 30 days ago to 730 days ahead, so
"expiring within 30 days" matches about 4% of the inventory. Files hold 10,000 PEM certificates each.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PER_FILE = 10_000
CACHE = Path(os.environ.get("CERTVAULT_BENCH_CACHE", Path.home() / ".cache" / "certvault-bench")) / "inventory"
_SEED_CA = ec.derive_private_key(0xC0FFEE, ec.SECP256R1())
_SEED_LEAF = ec.derive_private_key(0xBEEF, ec.SECP256R1())


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def ca_certificate(created: datetime) -> x509.Certificate:
    return (x509.CertificateBuilder().subject_name(_name("Bench Issuing CA")).issuer_name(_name("Bench Issuing CA"))
            .public_key(_SEED_CA.public_key()).serial_number(1).not_valid_before(created - timedelta(days=400))
            .not_valid_after(created + timedelta(days=4000))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(_SEED_CA.public_key()), False)
            .sign(_SEED_CA, hashes.SHA256()))


def _write_file(index: int, created_ts: float, directory: str) -> str:
    created = datetime.fromtimestamp(created_ts, UTC)
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(_SEED_CA.public_key())
    issuer = _name("Bench Issuing CA")
    public = _SEED_LEAF.public_key()
    chunks = []
    for n in range(index * PER_FILE, (index + 1) * PER_FILE):
        cn = f"host{n}.bench{n // 1000}.example.com"
        not_after = created - timedelta(days=30) + timedelta(seconds=(n * 7919) % (760 * 86400))
        cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(issuer).public_key(public)
                .serial_number(n + 1000).not_valid_before(not_after - timedelta(days=90)).not_valid_after(not_after)
                .add_extension(aki, False)
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), False)
                .sign(_SEED_CA, hashes.SHA256()))
        chunks.append(cert.public_bytes(serialization.Encoding.PEM))
    path = Path(directory) / f"certs-{index:04d}.pem"
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(b"".join(chunks))
    tmp.rename(path)
    return str(path)


def ensure(count: int, workers: int = 2) -> list[Path]:
    """Files holding `count` certificates (rounded up to whole files), generating what is missing."""
    CACHE.mkdir(parents=True, exist_ok=True)
    stamp = CACHE / "created"
    if not stamp.exists():
        stamp.write_text(str(datetime.now(UTC).timestamp()))
    created = float(stamp.read_text())
    files = [CACHE / f"certs-{i:04d}.pem" for i in range((count + PER_FILE - 1) // PER_FILE)]
    missing = [i for i, f in enumerate(files) if not f.exists()]
    if missing:
        print(f"generating {len(missing) * PER_FILE:,} certificates into {CACHE} (cached for later runs)", flush=True)
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_write_file, missing, [created] * len(missing), [str(CACHE)] * len(missing)))
    return files


def created_at() -> datetime:
    return datetime.fromtimestamp(float((CACHE / "created").read_text()), UTC)
