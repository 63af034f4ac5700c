"""Help-desk ticket benchmark: `python -m bench.tickets [--certificates 10000] [--endpoints 10000]
[--helpdesks servicenow,servicedeskplus,jira]`.

N expiring certificates are imported into the inventory and M endpoints with weak cipher suites are stored
as scan results, in a fresh SQLite data directory per help desk. One help desk account is added (the
production plugin, the production outbound client, a PKCS#12 client keystore and the fake's CA as the
trusted certificate: mutual TLS on every call) and `TicketSync` runs twice against the help desk's HTTPS
fake on loopback (tests/servers/*_fake.py):

- first sync: every item gets a ticket (find by correlation key, then create); printed: tickets created
  per second and API calls per ticket (as the fake counted them);
- second sync, nothing changed: printed: API calls per 100 tickets (batched status reads; the target is
  at most 2), writes (the target is 0) and wall time (the target is 10 s for 20,000).

It prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from tests.outbound.pki import make_pki, pem
from tests.servers.test_ca import make_loopback_tls
from tests.tickets.desks import FAKES, PLUGINS

from certvault.auth.rbac import Actor
from certvault.config import load_settings
from certvault.container import App, build_app
from certvault.crypto import pkcs12
from certvault.tickets.sync import TicketSync

ADMIN = Actor.system("bench", via="cli")
PASSWORD = "bench-keystore"


def certificates(count: int) -> bytes:
    """`count` self-signed certificates expiring within 1-29 days, distinct names, one PEM bundle."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    out = []
    for i in range(count):
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"host{i}.bench.example")])
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=300))
                .not_valid_after(now + timedelta(days=1 + i % 29)).sign(key, hashes.SHA256()))
        out.append(cert.public_bytes(Encoding.PEM))
    return b"".join(out)


def weak_result(i: int) -> dict[str, Any]:
    host, ip = f"web{i}.bench.example", f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
    return {
        "target": {"host": host, "ip": ip, "port": 443, "sni": host}, "reachable": True,
        "protocols": {"TLSv1.2": True, "TLSv1.3": True},
        "ciphers": {"TLSv1.2": [{"code": "0x0005", "name": "TLS_RSA_WITH_RC4_128_SHA", "weak": True,
                                 "reasons": ["RC4"]}]},
        "vulnerabilities": {}, "grade": "C", "errors": [],
        "certificate": {"fingerprint_sha256": f"{i:064x}", "subject": f"CN={host}", "common_name": host,
                        "serial": f"{i:X}", "not_after": "2027-07-23T00:00:00+00:00", "days_left": 300,
                        "signature_algorithm": "sha256WithRSAEncryption"},
    }


def seed(app: App, certs: int, endpoints: int) -> None:
    started = time.monotonic()
    bundle = certificates(certs)
    with app.transaction() as svc:
        svc.certificates.import_data(ADMIN, bundle, "bench.pem")
    for start in range(0, endpoints, 500):
        with app.transaction() as svc:
            svc.scanning.store_results(ADMIN, None, [weak_result(i) for i in range(start, min(endpoints,
                                                                                               start + 500))])
    print(f"  seeded {certs} expiring certificates and {endpoints} weak endpoints in "
          f"{time.monotonic() - started:.1f} s", flush=True)


def run(plugin: str, certs: int, endpoints: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"cv-bench-tickets-{plugin}-"))
    tls = make_loopback_tls(work / "tls")
    pki = make_pki("bench client CA")
    client = pki.issue("certvault-bench", end=timedelta(days=365))
    (work / "client-ca.pem").write_bytes(pem(pki.ca.cert))
    fake_class, desk_class = FAKES[plugin]
    fake = fake_class(tls, client_ca=work / "client-ca.pem")
    # The fakes answer with several small writes; with Nagle's algorithm each answer then waits for the
    # client's delayed ACK (40 ms on Linux), which a real help desk's server does not make anyone wait.
    fake._server.RequestHandlerClass.disable_nagle_algorithm = True
    fake.start()
    desk = desk_class(fake)
    app = build_app(load_settings(environ={}, overrides={"data_dir": str(work / "data")}))
    try:
        seed(app, certs, endpoints)
        options, secrets = desk.options()
        with app.transaction() as svc:
            account = svc.integrations.add(ADMIN, "ticketing", plugin, "bench", options, secrets)
            svc.tickets.configure(ADMIN, account.id, keystore=pkcs12.export("c", client.key, client.cert, [],
                                                                             PASSWORD),
                                  keystore_password=PASSWORD, trusted_cert=tls.ca_file.read_bytes())
        sync = TicketSync(app.transaction, "bench", public_url="https://certvault.bench.example:8443")
        started = time.monotonic()
        first = sync.run()
        first_wall = time.monotonic() - started
        first_calls, first_writes = sum(fake.calls.values()), fake.writes()
        created = len(first.created)
        started = time.monotonic()
        second = sync.run()
        second_wall = time.monotonic() - started
        second_calls = sum(fake.calls.values()) - first_calls
        tracked = len(second.unchanged)
        return {"plugin": plugin, "created": created, "failed": len(first.failed) + len(second.failed),
                "first_wall": first_wall, "per_second": created / first_wall if first_wall else 0.0,
                "per_ticket": first_calls / created if created else 0.0, "first_writes": first_writes,
                "tracked": tracked, "second_calls": second_calls,
                "per_100": 100 * second_calls / tracked if tracked else 0.0,
                "second_writes": fake.writes() - first_writes - _post_reads(fake, first_calls),
                "second_wall": second_wall}
    finally:
        app.close()
        fake.stop()


def _post_reads(fake: Any, skip: int) -> int:
    """Jira searches by POST (search/jql): a read, not a write."""
    return sum(1 for method, path in fake.log[skip:] if method == "POST" and path.endswith("/search/jql"))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.tickets")
    parser.add_argument("--certificates", type=int, default=10_000)
    parser.add_argument("--endpoints", type=int, default=10_000)
    parser.add_argument("--helpdesks", default=",".join(PLUGINS))
    args = parser.parse_args([a for a in sys.argv[1:] if a != "tickets"])
    print(f"{args.certificates} expiring certificates + {args.endpoints} weak endpoints per help desk; load "
          f"average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    rows = []
    for plugin in [p.strip() for p in args.helpdesks.split(",") if p.strip()]:
        print(f"\n{plugin}:", flush=True)
        row = run(plugin, args.certificates, args.endpoints)
        rows.append(row)
        print(f"  first sync: {row['created']} tickets in {row['first_wall']:.1f} s = {row['per_second']:.0f}/s, "
              f"{row['per_ticket']:.2f} API calls per ticket; second sync: {row['second_calls']} calls for "
              f"{row['tracked']} tickets = {row['per_100']:.2f} per 100, {row['second_writes']} writes, "
              f"{row['second_wall']:.1f} s; failed {row['failed']}", flush=True)
    print(f"\n{'help desk':<16} {'tickets':>7} {'created/s':>9} {'calls/ticket':>12} {'2nd calls/100':>13} "
          f"{'2nd writes':>10} {'2nd wall s':>10}")
    for r in rows:
        print(f"{r['plugin']:<16} {r['created']:>7} {r['per_second']:>9.0f} {r['per_ticket']:>12.2f} "
              f"{r['per_100']:>13.2f} {r['second_writes']:>10} {r['second_wall']:>10.1f}")


if __name__ == "__main__":
    main()
