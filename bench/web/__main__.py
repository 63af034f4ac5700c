"""Web page benchmark: server time per page with a large inventory, endpoint list and audit log.

    python -m bench.web [--certs 1000000] [--endpoints 100000] [--audit 1000000]
                        [--backends sqlite,postgresql] [--loads 50]

Rows are written straight into the tables in batches (the import path is bench.inventory's subject), plus
one certificate imported through the service for the detail page. Each page is then requested `--loads`
times in-process (FastAPI TestClient, a logged-in session, HTML asked for, start-up objects frozen out of
garbage collection as `certvault serve` does) after one warm-up; the time is from request to complete
response. Deep pages are requested with the cursor their "next" link carries. Prints the median and p99
(of 50 loads: the slowest) per page; asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import re
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Table, select

from certvault.audit.models import AuditEvent
from certvault.audit.service import NEWEST_FIRST
from certvault.auth.rbac import Actor
from certvault.certificates.models import CertificateEntry, CertificateName
from certvault.certificates.search import KEYSETS, CertificateQuery, _ordered
from certvault.config import load_settings
from certvault.container import App, build_app
from certvault.db.keyset import Cursor, encode
from certvault.scanning.models import ScanEndpoint, grade_rank
from certvault.scanning.queries import KEYSETS as ENDPOINT_KEYSETS
from certvault.server import create_server

ACTOR = Actor.system("bench", via="cli")
BATCH = 20_000
PASSWORD = "Bench-web-pass-1"
TARGET_MEDIAN_MS, TARGET_P99_MS = 100.0, 250.0


def _batches(count: int, make: Callable[[int], dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, count, BATCH):
        yield [make(i) for i in range(start, min(count, start + BATCH))]


def _insert(app: App, table: Any, count: int, make: Callable[[int], dict[str, Any]]) -> None:
    target: Table = table.__table__
    for rows in _batches(count, make):
        with app.transaction() as svc:
            svc.session.execute(target.insert(), rows)


def seed(app: App, certs: int, endpoints: int, audit: int) -> None:
    now, rng = datetime.now(UTC), random.Random(7)
    ids = [uuid.uuid4() for _ in range(certs)]
    issuers = ["Example Issuing CA", "Let's Encrypt R11", "Internal Root", "DigiCert G2"]

    def entry(i: int) -> dict[str, Any]:
        return {"id": ids[i], "status": "active", "common_name": f"host{i}.example{i % 97}.com",
                "names_key": f"{i:040x}"[-40:], "issuer_cn": issuers[i % 4], "key_algorithm": "EC" if i % 3 else "RSA",
                "key_size": 256 if i % 3 else 2048, "not_after": now + timedelta(minutes=rng.randint(-43200, 1051200)),
                "managed": bool(i % 5), "source": "import", "created_at": now - timedelta(seconds=i),
                "updated_at": now}

    def name(i: int) -> dict[str, Any]:
        text = f"host{i}.example{i % 97}.com"
        return {"entry_id": ids[i], "name": text, "name_rev": text[::-1]}

    def endpoint(i: int) -> dict[str, Any]:
        grade = "A+ A A- B C F T".split()[i % 7]
        return {"id": uuid.uuid4(), "grade_rank": grade_rank(grade),
                "host": f"host{i}.example{i % 97}.com", "ip": f"10.{i >> 16 & 255}.{i >> 8 & 255}."
                f"{i & 255}", "port": 443, "sni_key": "", "status": "ok", "grade": grade, "protocols": ["TLSv1.2"],
                "findings": [], "weak_cipher_count": 0, "cert_not_after": now + timedelta(days=i % 400),
                "first_seen_at": now, "last_scanned_at": now - timedelta(minutes=i), "created_at": now,
                "updated_at": now}

    def event(i: int) -> dict[str, Any]:
        # Below the live chain's sequence numbers (older history), so the audit rows of the run append after them.
        target = str(ids[i % certs]) if certs else None
        return {"seq": i - audit - 1, "id": uuid.uuid4(), "at": now - timedelta(seconds=audit - i),
                "actor_kind": "user", "actor_name": f"user{i % 50}",
                "action": ("auth.login", "certificate.import", "vault.read")[i % 3], "outcome": "success",
                "target_type": "user", "target_id": target, "details": {"n": i}, "prev_hash": "0" * 64,
                "hash": f"{i:064x}"}

    for label, table, count, make in (("certificates", CertificateEntry, certs, entry),
                                      ("names", CertificateName, certs, name),
                                      ("endpoints", ScanEndpoint, endpoints, endpoint),
                                      ("audit rows", AuditEvent, audit, event)):
        start = time.perf_counter()
        _insert(app, table, count, make)
        print(f"  seeded {count:,} {label} in {time.perf_counter() - start:.0f} s", flush=True)
    with app.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


def detail_entry(app: App) -> None:
    from tests.certificates.factory import make_ca, make_leaf

    ca = make_ca("Bench CA")
    leaf = make_leaf(ca, "detail.bench.example", ["detail.bench.example", "www.detail.bench.example"])
    with app.transaction() as svc:
        svc.certificates.import_data(ACTOR, leaf.pem + ca.pem, "detail.pem")
        svc.auth.create_user(ACTOR, "bench-admin", "administrator", password=PASSWORD)


def login(client: TestClient) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    answer = client.post("/login", data={"username": "bench-admin", "password": PASSWORD, "next": "/",
                                         "csrf_token": token[1]}, follow_redirects=False)
    assert answer.status_code == 303, answer.text


def time_page(client: TestClient, path: str, loads: int) -> tuple[float, float, int]:
    client.get(path, headers={"accept": "text/html"})  # warm-up
    samples = []
    status = 0
    for _ in range(loads):
        start = time.perf_counter()
        answer = client.get(path, headers={"accept": "text/html"})
        samples.append((time.perf_counter() - start) * 1000)
        status = answer.status_code
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(round(0.99 * (len(samples) - 1))))]
    return statistics.median(samples), p99, status


def deep_cursor(app: App, sort: str, number: int, size: int = 50) -> str:
    """The cursor the list's "next" link carries to page `number` (its previous page's last row), found once
    with an OFFSET outside the timing; the timed request is the URL the UI links to."""
    keyset = KEYSETS[sort]
    stmt = _ordered(select(*[c.column for c in keyset.columns]), sort).offset((number - 1) * size - 1).limit(1)
    with app.transaction() as svc:
        row = svc.session.execute(stmt).one()
    return encode(keyset, Cursor(sort, True, tuple(row), number))


def endpoint_cursor(app: App, number: int, size: int = 50) -> str:
    keyset = ENDPOINT_KEYSETS["grade"]
    columns = [c.column for c in keyset.columns]
    stmt = select(*columns).order_by(*columns).offset((number - 1) * size - 1).limit(1)
    with app.transaction() as svc:
        row = svc.session.execute(stmt).one()
    return encode(keyset, Cursor("grade", True, tuple(row), number))


def pages(app: App, entry_id: str, audit: int) -> dict[str, str]:
    # page 10,000 of 50 rows: after the row about 499,950 rows down (the seeded history is seq -2 ... -audit - 1,
    # under the run's own few rows); the cursor holds that row's sequence number, as the "next" link would
    deep_before = -min(499_950, audit // 2)
    found = {"dashboard": "/"}
    for sort in ("expiry", "-expiry", "name", "-name", "created", "-created"):
        found[f"certificates sort={sort}"] = f"/certificates?sort={sort}"
    found.update({
        "certificates name filter": "/certificates?name=host4242.example69.com",
        "certificates expiring 30 d": "/certificates?state=30",
        "certificates page 5,000 (cursor)": f"/certificates?cursor={deep_cursor(app, 'expiry', 5000)}",
        "certificates -name page 5,000": f"/certificates?sort=-name&cursor={deep_cursor(app, '-name', 5000)}",
        "certificates last page": f"/certificates?cursor={encode(KEYSETS['expiry'], Cursor('expiry', False, None))}",
        "certificate detail": f"/certificates/{entry_id}",
        "endpoints": "/scans",
        "endpoints sort=grade": "/scans?sort=grade",
        "endpoints sort=grade page 1,000": f"/scans?sort=grade&cursor={endpoint_cursor(app, 1000)}",
        "audit": "/audit",
        "audit page 10,000 (cursor)": "/audit?cursor=" + encode(NEWEST_FIRST, Cursor("newest", True, (deep_before,),
                                                                                   10_000)),
        "audit last page": "/audit?cursor=" + encode(NEWEST_FIRST, Cursor("newest", False, None)),
    })
    return found


def open_backend(name: str, workdir: Path) -> tuple[App, Callable[[], None]]:
    data = workdir / name
    if name == "sqlite":  # with --keep, a seeded SQLite data directory is used again (migrated to the head)
        app = build_app(load_settings(environ={}, overrides={"data_dir": str(data)}))
        return app, app.close
    from tests.servers.postgres import PostgresServer

    server = PostgresServer().start()
    url = server.create_database("benchweb")
    app = build_app(load_settings(environ={}, overrides={"data_dir": str(data), "db": {"url": url}}))

    def close() -> None:
        app.close()
        server.stop()

    return app, close


def run_backend(name: str, args: argparse.Namespace, workdir: Path) -> None:
    print(f"\n{name}: {args.certs:,} certificates, {args.endpoints:,} endpoints, {args.audit:,} audit rows",
          flush=True)
    app, close = open_backend(name, workdir)
    marker = workdir / name / "bench-web-seeded"
    try:
        if not marker.exists():
            seed(app, args.certs, args.endpoints, args.audit)
            detail_entry(app)
            marker.write_text(f"{args.certs} {args.endpoints} {args.audit}\n")
        with app.transaction() as svc:
            entry_id = str(svc.certificates.search(ACTOR, CertificateQuery(name="detail.bench.example", limit=1))
                           .items[0].id)
        with TestClient(create_server(app), base_url="https://testserver") as client:
            login(client)
            # as `certvault serve` does after start-up (cli/system.py): a full collection would otherwise walk
            # the start-up heap (and here the seeding's) and stall one request in ~150 ms now and then
            gc.collect()
            gc.freeze()
            print(f"  {'page':34} {'median ms':>10} {'p99 ms':>8}  status  (target ≤ {TARGET_MEDIAN_MS:.0f} / "
                  f"≤ {TARGET_P99_MS:.0f}; {load()})")
            for label, path in pages(app, entry_id, args.audit).items():
                if args.only and args.only not in label:
                    continue
                median, p99, status = time_page(client, path, args.loads)
                flag = "" if median <= TARGET_MEDIAN_MS and p99 <= TARGET_P99_MS else "  over target"
                print(f"  {label:34} {median:10.1f} {p99:8.1f}  {status}{flag}", flush=True)
    finally:
        close()


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f} on {os.cpu_count()} cores"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.web")
    parser.add_argument("--certs", type=int, default=1_000_000)
    parser.add_argument("--endpoints", type=int, default=100_000)
    parser.add_argument("--audit", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--loads", type=int, default=50)
    parser.add_argument("--keep", type=Path, help="SQLite: seed into this directory once and use it again")
    parser.add_argument("--only", help="time only the pages whose label contains this text")
    args = parser.parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-web-") as folder:
        for name in args.backends.split(","):
            run_backend(name.strip(), args, args.keep if args.keep and name.strip() == "sqlite" else Path(folder))


if __name__ == "__main__":
    main()
