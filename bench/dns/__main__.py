"""DNS provider benchmark: `python -m bench.dns [--names 500] [--zones 50] [--concurrency 8]
[--providers cloudflare,azure,godaddy,cloudns,route53]`.

N names spread over Z zones are "renewed" through one account of each provider: for each name a
dns-01 challenge value is presented at `_acme-challenge.<name>` and then cleaned up, `--concurrency`
renewals at a time, through the production plugin, the production outbound client and the account's
pacing defaults (the plugin's `connection_defaults`, as IntegrationService.http_for applies them),
against the provider's fake over HTTPS on loopback (tests/servers/*_fake.py). The fakes enforce the
provider's documented limit where there is one (Cloudflare 1,200 / 5 min, GoDaddy 60 / min) and
answer 429 with Retry-After above it, as the real APIs do. The propagation wait is not part of it
(no name server is queried): the figures are the API's side.

Printed per provider: API calls per certificate (zone listing included), the most calls in any
60-second window and in any window of the provider's limit (5 minutes for Cloudflare), 429 answers,
wall time, and whether every zone was left as it was. It prints figures and asserts nothing.

Adding a provider is one entry in PROVIDERS: a `Bench` whose `start(tls, zones)` starts its server
with those zones and returns a `Target` (how to build the plugin, the call times, how to stop).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.servers.azure_dns_fake import AzureDnsFake
from tests.servers.cloudflare_fake import CloudflareFake
from tests.servers.cloudns_fake import ClouDNSFake
from tests.servers.godaddy_fake import GoDaddyFake
from tests.servers.hosted_dns import FakeDNSAPI
from tests.servers.test_ca import LoopbackTLS, make_loopback_tls

from certvault.integrations.service import BoundClients
from certvault.plugins.protocols import DNSProvider
from certvault.plugins.registry import default_registry


@dataclass
class Target:
    """One provider's running server and the account that renews through it."""

    plugin: str
    options: dict[str, Any]
    secrets: dict[str, str]
    call_times: Callable[[], list[float]]  # monotonic time of every API call the server saw
    throttled: Callable[[], int]  # 429 answers it gave
    snapshot: Callable[[], object]  # every record of every zone
    stop: Callable[[], None]
    connection: dict[str, Any] = field(default_factory=dict)  # trust for the test CA


@dataclass(frozen=True)
class Bench:
    start: Callable[[LoopbackTLS, list[str]], Target]
    limit: tuple[int, float] | None  # the documented limit: requests per window of seconds (None: none published)
    limit_text: str


def _fake_target(fake: FakeDNSAPI, zones: list[str], plugin: str, options: dict[str, Any],
                 secrets: dict[str, str], tls: LoopbackTLS) -> Target:
    for zone in zones:
        fake.add_zone(zone)
        fake.add_record(f"www.{zone}", "v=spf1 -all")  # a record of someone else's in every zone
    fake.start()
    return Target(plugin, {"endpoint": fake.url, **options}, secrets,
                  call_times=lambda: [t for t, _m, _p in list(fake.calls)],
                  throttled=lambda: fake.served.get(429, 0), snapshot=fake.snapshot, stop=fake.stop,
                  connection={"trust": "ca_bundle", "ca_bundle": tls.ca_file.read_text()})


def cloudflare(tls: LoopbackTLS, zones: list[str]) -> Target:
    fake = CloudflareFake(tls, tokens={"bench-token": None}, limit=True)
    return _fake_target(fake, zones, "cloudflare", {}, {"api_token": "bench-token"}, tls)


def godaddy(tls: LoopbackTLS, zones: list[str]) -> Target:
    fake = GoDaddyFake(tls, keys={"bench-key": "bench-secret"}, limit=True)
    return _fake_target(fake, zones, "godaddy", {}, {"api_key": "bench-key", "api_secret": "bench-secret"}, tls)


def azure(tls: LoopbackTLS, zones: list[str]) -> Target:
    fake = AzureDnsFake(tls, apps={("tenant", "client"): "bench-secret"}, subscription="sub", resource_group="rg")
    options = {"authority_url": fake.authority_url, "subscription_id": "sub", "tenant_id": "tenant",
               "client_id": "client", "resource_group": "rg"}
    return _fake_target(fake, zones, "azure", options, {"client_secret": "bench-secret"}, tls)


def cloudns(tls: LoopbackTLS, zones: list[str]) -> Target:
    fake = ClouDNSFake(tls, auth_ids={"1000": "bench-password"}, sync_polls=0)
    return _fake_target(fake, zones, "cloudns", {"auth_id": "1000"}, {"auth_password": "bench-password"}, tls)


def route53(tls: LoopbackTLS, zones: list[str]) -> Target:
    """moto in server mode (its own process) enforcing Route 53's 5 requests per second; boto3 unchanged."""
    from tests.servers.moto_server import ACCESS_KEY, SECRET_KEY, MotoServer

    server = MotoServer(Path(tempfile.mkdtemp(prefix="cv-bench-moto-")), rate_limit=5).start()
    client = server.client()
    ids = {}
    for zone in zones:
        ids[zone] = server.create_zone(zone)
        time.sleep(0.2)  # setup stays under the limit too
        client.change_resource_record_sets(HostedZoneId=ids[zone], ChangeBatch={"Changes": [{
            "Action": "UPSERT", "ResourceRecordSet": {"Name": f"www.{zone}", "Type": "TXT", "TTL": 300,
                                                      "ResourceRecords": [{"Value": '"v=spf1 -all"'}]}}]})
        time.sleep(0.2)
    mark = [0]

    def snapshot() -> object:  # the first one (before the renewals) marks where certvault's calls begin
        out = {}
        for zone, zone_id in ids.items():
            time.sleep(0.2)
            out[zone] = sorted((r["Name"], r["Type"], str(r.get("ResourceRecords"))) for r in
                               client.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"])
        mark[0] = mark[0] or len(server.call_times())
        return out

    return Target("route53", {"endpoint": server.endpoint, "access_key_id": ACCESS_KEY, "polling_interval": 0.2},
                  {"secret_access_key": SECRET_KEY}, call_times=lambda: server.call_times()[mark[0]:],
                  throttled=lambda: server.calls().get("throttled", 0), snapshot=snapshot, stop=server.stop)


PROVIDERS: dict[str, Bench] = {
    "cloudflare": Bench(cloudflare, (1200, 300.0), "1,200 / 5 min"),
    "azure": Bench(azure, None, "throttled per subscription (429 + Retry-After)"),
    "godaddy": Bench(godaddy, (60, 60.0), "60 / min"),
    "cloudns": Bench(cloudns, None, "none published"),
    "route53": Bench(route53, (5, 1.0), "5 / s"),
}


def build(target: Target) -> DNSProvider:
    """The plugin as the service builds it: registry-validated, with the account's pacing defaults."""
    registry = default_registry()
    registry.validate("dns", target.plugin, target.options, target.secrets)
    defaults = getattr(registry.get("dns", target.plugin).cls, "connection_defaults", {})
    http = BoundClients(f"dns:bench-{uuid.uuid4().hex}", {**defaults, **target.connection})
    provider: DNSProvider = registry.create("dns", target.plugin, target.options,
                                            lambda f: target.secrets.get(f, ""), http)
    return provider


def peak(times: list[float], window: float = 60.0) -> int:
    """The most calls in any `window` seconds."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def run(name: str, bench: Bench, tls: LoopbackTLS, names: int, zones: int, concurrency: int) -> dict[str, Any]:
    zone_names = [f"z{i:03d}-{uuid.uuid4().hex[:6]}.bench.test" for i in range(zones)]
    target = bench.start(tls, zone_names)
    try:
        before = target.snapshot()
        provider = build(target)
        fqdns = [f"_acme-challenge.host{i // zones:04d}.{zone_names[i % zones]}" for i in range(names)]
        failures: list[str] = []
        lock = threading.Lock()

        def renew(fqdn: str) -> None:
            value = uuid.uuid4().hex + uuid.uuid4().hex[:11]
            try:
                provider.present(fqdn, value)
                provider.cleanup(fqdn, value)
            except Exception as exc:  # noqa: BLE001 - a failed renewal is counted and printed
                with lock:
                    failures.append(f"{fqdn}: {exc}")

        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(renew, fqdns))
        wall = time.perf_counter() - started
        times = target.call_times()
        return {"provider": name, "certificates": names, "calls": len(times), "per_cert": len(times) / names,
                "peak": peak(times), "limit": bench.limit_text,
                "peak_in_window": peak(times, bench.limit[1]) if bench.limit else None,
                "throttled": target.throttled(), "wall": wall, "failures": failures,
                "clean": target.snapshot() == before}
    finally:
        target.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dns")
    parser.add_argument("--names", type=int, default=500)
    parser.add_argument("--zones", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--providers", default=",".join(PROVIDERS))
    args, _ = parser.parse_known_args(sys.argv[1:])  # `python -m bench dns` passes benchmark names too
    chosen = [p.strip() for p in args.providers.split(",") if p.strip()]
    tls = make_loopback_tls(Path(tempfile.mkdtemp(prefix="cv-bench-dns-")))
    print(f"{args.names} names in {args.zones} zones, {args.concurrency} renewals at a time, one account per "
          f"provider; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    results: dict[str, dict[str, Any]] = {}

    def one(name: str) -> None:
        results[name] = run(name, PROVIDERS[name], tls, args.names, args.zones, args.concurrency)
        _print(results[name])

    threads = [threading.Thread(target=one, args=(name,)) for name in chosen]  # providers side by side
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(f"\n{'provider':<12} {'certs':>6} {'calls':>6} {'calls/cert':>10} {'peak/min':>9} "
          f"{'peak in limit window':<22} {'limit':<48} {'429s':>5} {'wall s':>8}  zones as before")
    for name in chosen:
        r = results.get(name)
        if r is not None:
            print(f"{r['provider']:<12} {r['certificates']:>6} {r['calls']:>6} {r['per_cert']:>10.2f} {r['peak']:>9} "
                  f"{_window(r):<22} {r['limit']:<48} {r['throttled']:>5} {r['wall']:>8.1f}  "
                  f"{'yes' if r['clean'] else 'NO'}")


def _window(r: dict[str, Any]) -> str:
    return "-" if r["peak_in_window"] is None else str(r["peak_in_window"])


def _print(r: dict[str, Any]) -> None:
    window = "" if r["peak_in_window"] is None else f", {r['peak_in_window']} in the limit's window"
    print(f"{r['provider']}: {r['certificates']} certificates, {r['calls']} API calls ({r['per_cert']:.2f} per "
          f"certificate), peak {r['peak']} calls in 60 s{window} (limit {r['limit']}), {r['throttled']} answered 429, "
          f"{r['wall']:.1f} s, {len(r['failures'])} failed, zones {'as before' if r['clean'] else 'CHANGED'}",
          flush=True)
    for failure in r["failures"][:3]:
        print(f"  {failure}", flush=True)


if __name__ == "__main__":
    main()
