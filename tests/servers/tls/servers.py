"""Real TLS servers for the scanner matrix, each started on a free loopback port and stopped by PID.

gnutls-serv and `openssl ocsp` bind every address, so they run inside a network namespace made here
(`ip netns` + a veth pair on a private /30 that exists only on this machine).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers.process import free_port, port_open, start, stop, wait_until, which


@dataclass
class Running:
    name: str
    ip: str
    port: int
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop(self) -> None:
        for proc in self.procs:
            stop(proc)


class NetNamespace:
    """A private namespace reachable from the host at `self.ip` (host side is `self.host_ip`)."""

    def __init__(self, tag: str) -> None:
        slot = (os.getpid() * 7 + sum(map(ord, tag))) % 250 + 2
        self.name = f"cv{tag}{os.getpid()}"[:14]
        self.host_if, self.ns_if = f"cvh{slot}{tag[:3]}", f"cvn{slot}{tag[:3]}"
        self.host_ip, self.ip = f"10.213.{slot}.1", f"10.213.{slot}.2"
        self._up = False

    def _ip(self, *args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)

    def create(self) -> NetNamespace:
        self.delete()
        self._ip("netns", "add", self.name)
        self._up = True
        self._ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        self._ip("link", "set", self.ns_if, "netns", self.name)
        self._ip("addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
        self._ip("link", "set", self.host_if, "up")
        self._ip("netns", "exec", self.name, "ip", "addr", "add", f"{self.ip}/30", "dev", self.ns_if)
        self._ip("netns", "exec", self.name, "ip", "link", "set", self.ns_if, "up")
        self._ip("netns", "exec", self.name, "ip", "link", "set", "lo", "up")
        return self

    def wrap(self, args: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *args]

    def delete(self) -> None:
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=10)
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True, timeout=10)


def _wait_port(running: Running, log: Path, what: str) -> Running:
    wait_until(lambda: port_open(running.port, running.ip), 20, what, running.procs[-1], log)
    return running


def start_s_server(workdir: Path, name: str, cert: Path, key: Path, extra: list[str]) -> Running:
    """`openssl s_server -www` (answers GET so HSTS probes do not hang the single-connection server)."""
    port = free_port()
    log = workdir / f"{name}.log"
    args = [which("openssl"), "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(cert), "-key", str(key),
            "-www", "-quiet", "-naccept", "100000", *extra]
    return _wait_port(Running(name, "127.0.0.1", port, [start(args, log)]), log, f"s_server {name}")


def dhparam(cache_dir: Path, bits: int) -> Path:
    """`openssl dhparam BITS`, generated once and kept in pytest's cache (a fresh prime takes seconds)."""
    path = cache_dir / f"dh{bits}.pem"
    if not path.exists():
        partial = cache_dir / f"dh{bits}.{os.getpid()}.tmp"
        subprocess.run([which("openssl"), "dhparam", "-out", str(partial), str(bits)], check=True,
                       capture_output=True, timeout=120)
        partial.replace(path)  # atomic: xdist workers racing here each write their own file
    return path


@dataclass
class NginxSite:
    name: str
    cert: Path
    key: Path
    protocols: str = "TLSv1.2 TLSv1.3"
    ciphers: str = "ECDHE+AESGCM:ECDHE+CHACHA20"
    hsts: str | None = 'max-age=31536000; includeSubDomains'
    extra: str = ""
    port: int = 0


NGINX_SITE = """
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {cert}; ssl_certificate_key {key};
    ssl_protocols {protocols}; ssl_ciphers '{ciphers}'; ssl_prefer_server_ciphers on;
    {hsts}
    {extra}
    location / {{ return 200 "ok\\n"; }}
  }}
"""


def start_nginx(workdir: Path, sites: list[NginxSite], workers: int = 1) -> dict[str, Running]:
    """One nginx process serving several sites, one port each."""
    for site in sites:
        site.port = free_port()
    body = "".join(NGINX_SITE.format(
        port=s.port, cert=s.cert, key=s.key, protocols=s.protocols, ciphers=s.ciphers, extra=s.extra,
        hsts=f"add_header Strict-Transport-Security \"{s.hsts}\" always;" if s.hsts else "") for s in sites)
    conf = workdir / "nginx.conf"
    conf.write_text(f"""
worker_processes {workers};
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
daemon off;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {workdir}/tmp; proxy_temp_path {workdir}/tmp; fastcgi_temp_path {workdir}/tmp;
  uwsgi_temp_path {workdir}/tmp; scgi_temp_path {workdir}/tmp;
  {body}
}}
""")
    (workdir / "tmp").mkdir(exist_ok=True)
    log = workdir / "nginx.log"
    proc = start([which("nginx", "/usr/sbin/nginx"), "-c", str(conf), "-p", str(workdir), "-e",
                  str(workdir / "nginx-error.log")], log)
    running = {s.name: Running(s.name, "127.0.0.1", s.port, [proc]) for s in sites}
    for run in running.values():
        _wait_port(run, log, "nginx")
    return running


def start_gnutls(workdir: Path, ns: NetNamespace, name: str, cert: Path, key: Path, priority: str) -> Running:
    port = 8443
    log = workdir / f"{name}.log"
    args = ns.wrap([which("gnutls-serv"), "--http", "--port", str(port), "--x509certfile", str(cert),
                    "--x509keyfile", str(key), "--priority", priority])
    return _wait_port(Running(name, ns.ip, port, [start(args, log)]), log, f"gnutls-serv {name}")


def start_ocsp_responder(workdir: Path, ns: NetNamespace, ca_dir: Path) -> Running:
    port = 8888
    log = workdir / "ocsp.log"
    args = ns.wrap([which("openssl"), "ocsp", "-index", str(ca_dir / "index.txt"), "-port", str(port),
                    "-rsigner", str(ca_dir / "ca.crt"), "-rkey", str(ca_dir / "ca.key"), "-CA", str(ca_dir / "ca.crt"),
                    "-nrequest", "100000", "-ndays", "7"])
    proc = start(args, log)
    # a probe connection that sends nothing wedges the one-at-a-time responder: wait for its log line instead
    wait_until(lambda: log.exists() and "waiting for OCSP" in log.read_text(errors="replace"), 20, "openssl ocsp",
               proc, log)
    return Running("ocsp", ns.ip, port, [proc])


def start_http_files(workdir: Path, directory: Path) -> Running:
    port = free_port()
    log = workdir / "crl-http.log"
    args = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(directory), str(port)]
    return _wait_port(Running("crl-http", "127.0.0.1", port, [start(args, log)]), log, "CRL http.server")


def start_python_server(workdir: Path, name: str, module: str, *args: str) -> Running:
    port = free_port()
    log = workdir / f"{name}.log"
    cmd = [sys.executable, "-m", module, *args[:1], str(port), *args[1:]]
    root = Path(__file__).resolve().parents[3]
    proc = start(cmd, log, env={"PYTHONPATH": str(root)}, cwd=root)
    return _wait_port(Running(name, "127.0.0.1", port, [proc]), log, name)
