"""`openssl s_server` processes on loopback serving chosen chains (TLS 1.3 or 1.2, with SNI)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.servers.process import free_port, port_open, start, stop, wait_until


@dataclass
class TlsServer:
    port: int
    proc: subprocess.Popen[bytes]

    def stop(self) -> None:
        stop(self.proc)


def start_s_server(workdir: Path, name: str, cert_pem: bytes, key_pem: bytes, chain_pem: bytes = b"",
                   protocol: str = "-tls1_3", sni: tuple[str, bytes, bytes] | None = None,
                   extra: tuple[str, ...] = ()) -> TlsServer:
    """Serve `cert_pem` (+ chain); with `sni=(name, cert, key)` that name gets another certificate."""
    files = {"cert.pem": cert_pem, "key.pem": key_pem, "chain.pem": chain_pem}
    if sni:
        files.update({"sni-cert.pem": sni[1], "sni-key.pem": sni[2]})
    for file, content in files.items():
        (workdir / f"{name}-{file}").write_bytes(content)
    port = free_port()
    args = ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(workdir / f"{name}-cert.pem"),
            "-key", str(workdir / f"{name}-key.pem"), protocol, "-quiet", "-www"]
    if chain_pem:
        args += ["-cert_chain", str(workdir / f"{name}-chain.pem")]
    if sni:
        args += ["-servername", sni[0], "-cert2", str(workdir / f"{name}-sni-cert.pem"),
                 "-key2", str(workdir / f"{name}-sni-key.pem")]
    proc = start([*args, *extra], workdir / f"{name}.log")
    wait_until(lambda: port_open(port), 15, f"openssl s_server {name}", proc, workdir / f"{name}.log")
    return TlsServer(port, proc)
