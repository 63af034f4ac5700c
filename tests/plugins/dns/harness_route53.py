"""Route 53 under the shared contract test: moto in server mode (its own process, real HTTP, SigV4
checked in front of it), reached by boto3 through the endpoint option alone."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certvault.plugins.protocols import DNSProvider
from tests.plugins.dns.harness import ZONES, Harness, build
from tests.servers.moto_server import ACCESS_KEY, SECRET_KEY, MotoServer
from tests.servers.test_ca import LoopbackTLS


@dataclass
class Route53Harness(Harness):
    server: MotoServer | None = None
    zone_ids: dict[str, str] = field(default_factory=dict)

    @property
    def moto(self) -> MotoServer:
        assert self.server is not None
        return self.server

    def provider(self, *, bad_credentials: bool = False, **connection: Any) -> DNSProvider:
        secrets = self.bad_secrets if bad_credentials else self.secrets
        return build(self.plugin, self.options, secrets, None)  # type: ignore[arg-type]

    def _sets(self, zone: str) -> list[dict[str, Any]]:
        client, out, start = self.moto.client(), [], {}
        while True:
            page = client.list_resource_record_sets(HostedZoneId=self.zone_ids[zone], **start)
            out += page["ResourceRecordSets"]
            if not page.get("IsTruncated"):
                return out
            start = {"StartRecordName": page["NextRecordName"], "StartRecordType": page["NextRecordType"]}

    def in_zone(self, zone: str, fqdn: str) -> list[str]:
        return [r["Value"].strip('"') for s in self._sets(zone) if s["Name"] == fqdn + "." and s["Type"] == "TXT"
                for r in s["ResourceRecords"]]

    def txt(self, fqdn: str) -> list[str]:
        zone = max((z for z in self.zones if fqdn == z or fqdn.endswith("." + z)), key=len, default=None)
        return self.in_zone(zone, fqdn) if zone else []

    def add_other(self, fqdn: str, value: str) -> None:
        zone = max((z for z in self.zones if fqdn.endswith("." + z)), key=len)
        values = [*self.txt(fqdn), value]
        self.moto.client().change_resource_record_sets(HostedZoneId=self.zone_ids[zone], ChangeBatch={"Changes": [
            {"Action": "UPSERT", "ResourceRecordSet": {"Name": fqdn, "Type": "TXT", "TTL": 300,
                                                       "ResourceRecords": [{"Value": f'"{v}"'} for v in values]}}]})

    def snapshot(self) -> object:
        return {zone: sorted((s["Name"], s["Type"], tuple(sorted(r["Value"] for r in s.get("ResourceRecords", []))))
                             for s in self._sets(zone)) for zone in self.zones}

    def zone_list_calls(self) -> int:
        return self.moto.calls().get("GET /2013-04-01/hostedzone", 0)

    def stop(self) -> None:
        self.moto.stop()


def route53(tls: LoopbackTLS) -> Harness:
    server = MotoServer(Path(tempfile.mkdtemp(prefix="cv-moto-contract-"))).start()
    zone_ids = {zone: server.create_zone(zone) for zone in ZONES}
    return Route53Harness("route53", "Route 53", {"endpoint": server.endpoint, "access_key_id": ACCESS_KEY},
                          {"secret_access_key": SECRET_KEY}, {"secret_access_key": f"wrong-{time.monotonic_ns()}"},
                          tls, server=server, zone_ids=zone_ids)
