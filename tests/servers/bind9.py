"""Debian BIND9 (`named`) on a loopback port: zones accepting TSIG-signed RFC 2136 TXT updates."""

from __future__ import annotations

import base64
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsigkeyring
import dns.update

from tests.servers.pebble import shared
from tests.servers.process import free_port, start, stop, wait_until, which

ZONE_TEMPLATE = """$TTL 60
@   IN SOA ns1.{zone}. hostmaster.{zone}. ( 1 60 60 600 60 )
    IN NS  ns1.{zone}.
ns1 IN A   127.0.0.1
@   IN A   127.0.0.1
*   IN A   127.0.0.1
"""


@dataclass
class Bind9:
    workdir: Path
    zones: tuple[str, ...] = ("bind.test",)
    key_name: str = "acme-key"
    algorithm: str = "hmac-sha256"
    secret: str = field(default_factory=lambda: base64.b64encode(os.urandom(32)).decode())
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    record_types: str = "TXT"  # what the key may update (tests that delegate with a CNAME add "CNAME")
    chase_cnames: bool = False  # answer with the target of a CNAME into another of its zones (as a resolver)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Bind9:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        zones = ""
        for zone in self.zones:
            (self.workdir / f"db.{zone}").write_text(ZONE_TEMPLATE.format(zone=zone))
            zones += (f'zone "{zone}" {{ type primary; file "{self.workdir}/db.{zone}"; '
                      f'journal "{self.workdir}/db.{zone}.jnl"; '
                      f'update-policy {{ grant {self.key_name} zonesub {self.record_types}; }}; }};\n')
        conf = self.workdir / "named.conf"
        conf.write_text(
            f'key "{self.key_name}" {{ algorithm {self.algorithm}; secret "{self.secret}"; }};\n'
            f'options {{ directory "{self.workdir}"; pid-file "{self.workdir}/named.pid"; '
            f'listen-on port {self.port} {{ 127.0.0.1; }}; listen-on-v6 {{ none; }}; {self._recursion()} '
            f'dnssec-validation no; allow-transfer {{ none; }}; notify no; }};\n'
            f'controls {{ }};\n{zones}')
        subprocess.run([which("named-checkconf", "/usr/sbin/named-checkconf"), str(conf)], check=True,
                       capture_output=True)
        log = self.workdir / "named.log"
        args = [which("named", "/usr/sbin/named"), "-g", "-c", str(conf)]
        if os.geteuid() == 0:
            args += ["-u", "root"]
        self.proc = start(args, log)
        wait_until(self._answers, 20, "named", self.proc, log)
        return self

    def _recursion(self) -> str:
        if not self.chase_cnames:
            return "recursion no;"
        # loopback may recurse, so BIND follows a CNAME into its other zones; nothing is forwarded
        return "recursion yes; allow-recursion { 127.0.0.1; };"

    def _answers(self) -> bool:
        try:
            query = dns.message.make_query(self.zones[0], dns.rdatatype.SOA)
            response = dns.query.udp(query, "127.0.0.1", timeout=0.5, port=self.port)
            return bool(response.answer)
        except Exception:
            return False

    def txt(self, name: str) -> list[str]:
        query = dns.message.make_query(name, dns.rdatatype.TXT)
        response = dns.query.tcp(query, "127.0.0.1", timeout=2, port=self.port)
        return [b"".join(r.strings).decode() for rrset in response.answer for r in rrset]

    def replace(self, name: str, rdtype: str, values: list[str]) -> None:
        """Make the set at `name` exactly `values` (none: removed), as a fake provider writing through does."""
        replace_rrset(self.address, self.key_name, self.secret, self.zones, name, rdtype, values)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None


def replace_rrset(address: str, key_name: str, secret: str, zones: tuple[str, ...] | list[str], name: str,
                  rdtype: str, values: list[str]) -> None:
    """One TSIG-signed RFC 2136 update replacing the whole set (TXT values are given unquoted)."""
    fqdn = dns.name.from_text(name)
    zone = max((dns.name.from_text(z) for z in zones if fqdn.is_subdomain(dns.name.from_text(z))),
               key=lambda z: len(z.labels))
    update = dns.update.UpdateMessage(zone, keyring=dns.tsigkeyring.from_text({key_name: secret}),
                                      keyalgorithm="hmac-sha256")
    relative = fqdn.relativize(zone)
    update.delete(relative, rdtype)
    for value in values:
        update.add(relative, 60, rdtype, '"' + value.replace('"', '\\"') + '"' if rdtype == "TXT" else value)
    host, _, port = address.rpartition(":")
    response = dns.query.tcp(update, host, timeout=5, port=int(port))
    if response.rcode() != dns.rcode.NOERROR:
        raise RuntimeError(f"BIND refused the update of {name}: {dns.rcode.to_text(response.rcode())}")


def bind9() -> Bind9:
    return shared("bind9", lambda: Bind9(Path(tempfile.mkdtemp(prefix="cv-bind9-"))).start())
