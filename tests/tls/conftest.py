"""The scanner's real-server matrix, started once per xdist worker (all tls tests share xdist_group "tls").

Each server is scanned once and the result cached, so every check's positive and negative tests read the
same scan a user would see. Reference scanners (nmap, testssl.sh) also run once per server, cached.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from certvault.tls.scanner import ScanOptions, ScanTarget, scan_target
from tests.servers.tls.mail import start_dovecot, start_postgres_ssl, start_slapd, start_vsftpd
from tests.servers.tls.pki import Leaf, TestCA, self_signed
from tests.servers.tls.servers import (
    NetNamespace,
    NginxSite,
    Running,
    dhparam,
    start_gnutls,
    start_http_files,
    start_nginx,
    start_ocsp_responder,
    start_python_server,
    start_s_server,
)

SIMULATOR_MODES = ("heartbleed", "ccs", "robot", "compression", "nofallback", "sslv2", "export")


@dataclass
class Matrix:
    ca: TestCA
    servers: dict[str, Running]
    options: ScanOptions
    _scans: dict[str, dict[str, Any]]

    def target(self, name: str, host: str = "localhost", starttls: str | None = None) -> ScanTarget:
        server = self.servers[name]
        return ScanTarget(host, server.ip, server.port, starttls=starttls or "none")

    def scan(self, name: str, host: str = "localhost", starttls: str | None = None) -> dict[str, Any]:
        key = f"{name}|{host}|{starttls}"
        if key not in self._scans:
            self._scans[key] = asyncio.run(scan_target(self.target(name, host, starttls), self.options))
        return self._scans[key]


def _certificates(ca: TestCA, workdir: Path, ocsp_url: str, crl_url: str) -> dict[str, Leaf]:
    leaves = {
        "good": ca.issue("good", ocsp_url=ocsp_url, crl_url=crl_url),
        "revoked_ocsp": ca.issue("revoked_ocsp", ocsp_url=ocsp_url),
        "revoked_crl": ca.issue("revoked_crl", crl_url=crl_url),
        "revoked_staple": ca.issue("revoked_staple"),
        "expired": ca.issue("expired", start="20200101000000Z", end="20200201000000Z"),
        "weak": ca.issue("weak", key="rsa:1024", md="sha1"),
        "future": ca.issue("future", start="20400101000000Z", end="20410101000000Z"),
        "plain": ca.issue("plain"),
    }
    for name in ("revoked_ocsp", "revoked_crl", "revoked_staple"):
        ca.revoke(leaves[name])
    other_ca = TestCA(workdir / "other-ca", "some other CA")
    leaves["untrusted"] = other_ca.issue("untrusted")
    leaves["selfsigned"] = self_signed(workdir, "selfsigned")
    return leaves


def _nginx_sites(leaves: dict[str, Leaf], ca: TestCA, staple_good: Path) -> list[NginxSite]:
    def site(name: str, leaf: str, **kw: Any) -> NginxSite:
        return NginxSite(name, leaves[leaf].cert, leaves[leaf].key, **kw)

    return [
        site("nginx-modern", "good", extra=f"ssl_stapling on; ssl_stapling_file {staple_good};"),
        site("nginx-expired", "expired", hsts=None),
        site("nginx-future", "future"),
        site("nginx-selfsigned", "selfsigned"),
        site("nginx-untrusted", "untrusted"),
        site("nginx-weakcert", "weak", ciphers="ECDHE+AESGCM:@SECLEVEL=0"),
        site("nginx-revoked-ocsp", "revoked_ocsp"),
        site("nginx-revoked-crl", "revoked_crl"),
        site("nginx-clientauth", "plain", extra=f"ssl_verify_client on; ssl_client_certificate {ca.cert};"),
    ]


@pytest.fixture(scope="session")
def matrix(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[Matrix]:
    workdir = tmp_path_factory.mktemp("tls-matrix")
    started: list[Running] = []
    servers: dict[str, Running] = {}  # stopped in `finally` even when a later server fails to start
    ns = NetNamespace("tls").create()
    try:
        crl_dir = workdir / "crl"
        crl_dir.mkdir()
        crl_http = start_http_files(workdir, crl_dir)
        started.append(crl_http)
        ca = TestCA(workdir / "ca")
        leaves = _certificates(ca, workdir, f"http://{ns.ip}:8888", f"http://127.0.0.1:{crl_http.port}/ca.crl")
        ca.crl_der().replace(crl_dir / "ca.crl")
        staple_good = ca.ocsp_response(leaves["good"], "good.ocsp.der")
        staple_revoked = ca.ocsp_response(leaves["revoked_staple"], "revoked.ocsp.der")
        started.append(start_ocsp_responder(workdir, ns, ca.dir))
        servers.update(start_nginx(workdir, _nginx_sites(leaves, ca, staple_good)))
        good, plain = leaves["good"], leaves["plain"]
        legacy = ["-min_protocol", "TLSv1", "-max_protocol", "TLSv1.2", "-cipher", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"]
        servers["s_server-legacy"] = start_s_server(workdir, "legacy", plain.cert, plain.key, legacy)
        servers["s_server-reneg"] = start_s_server(workdir, "reneg", plain.cert, plain.key, ["-client_renegotiation"])
        cache = getattr(pytestconfig, "cache", None)  # absent under -p no:cacheprovider
        dh_cache = cache.mkdir("tls-dhparam") if cache else workdir
        dh1024 = ["-dhparam", str(dhparam(dh_cache, 1024)),
                  "-cipher", "DHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0"]
        servers["s_server-dh1024"] = start_s_server(workdir, "dh1024", plain.cert, plain.key, dh1024)
        servers["s_server-staple"] = start_s_server(workdir, "staple", leaves["revoked_staple"].cert,
                                                    leaves["revoked_staple"].key, ["-status_file", str(staple_revoked)])
        servers["gnutls-weak"] = start_gnutls(workdir, ns, "gnutls", plain.cert, plain.key,
                                              "NORMAL:+ARCFOUR-128:+3DES-CBC:%DISABLE_SAFE_RENEGOTIATION")
        servers["tlslite-sslv3"] = start_python_server(workdir, "tlslite", "tests.servers.tls.tlslite_server", "-",
                                                       str(plain.cert), str(plain.key))
        for mode in SIMULATOR_MODES:
            servers[f"sim-{mode}"] = start_python_server(workdir, f"sim-{mode}", "tests.servers.tls.simulator", mode,
                                                         str(plain.cert), str(plain.key))
        servers["smtp"] = start_python_server(workdir, "smtp", "tests.servers.tls.smtp_server", "-",
                                              str(plain.cert), str(plain.key))
        servers["imap"], servers["pop3"] = start_dovecot(workdir, good.cert, good.key)
        servers["postgres"] = start_postgres_ssl(workdir, plain.cert, plain.key)
        servers["ftp"] = start_vsftpd(workdir, plain.cert, plain.key)
        servers["ldap"] = start_slapd(workdir, plain.cert, plain.key)
        options = ScanOptions(ca_file=str(ca.cert), timeout=4.0)
        yield Matrix(ca, servers, options, {})
    finally:
        for server in [*servers.values(), *started]:
            server.stop()
        ns.delete()
        pg_dir = workdir / "postgres-ssl-dir"
        if pg_dir.exists():
            shutil.rmtree(pg_dir.read_text(), ignore_errors=True)
