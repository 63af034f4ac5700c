"""A throwaway test CA built with the openssl CLI (`openssl ca` keeps index.txt for `openssl ocsp` and CRLs;
the CLI also signs SHA-1 and 1024-bit certificates that `cryptography` refuses to make)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

CA_CONF = """
[ ca ]
default_ca = test_ca
[ test_ca ]
dir = {dir}
database = $dir/index.txt
serial = $dir/serial
crlnumber = $dir/crlnumber
new_certs_dir = $dir/newcerts
certificate = $dir/ca.crt
private_key = $dir/ca.key
default_md = sha256
default_days = 365
default_crl_days = 30
policy = any
unique_subject = no
copy_extensions = none
[ any ]
commonName = supplied
"""


def _run(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {done.stderr[-1500:]}")


@dataclass
class Leaf:
    cert: Path
    key: Path


class TestCA:
    def __init__(self, directory: Path, name: str = "certvault test CA") -> None:
        self.dir = directory
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "newcerts").mkdir(exist_ok=True)
        (directory / "index.txt").write_text("")
        (directory / "serial").write_text("1000\n")
        (directory / "crlnumber").write_text("1000\n")
        (directory / "ca.cnf").write_text(CA_CONF.format(dir=directory))
        _run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "3650",
             "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)
        self.cert = directory / "ca.crt"
        self.key = directory / "ca.key"

    def issue(self, name: str, *, sans: str = "DNS:localhost,IP:127.0.0.1", key: str = "rsa:2048",
              md: str = "sha256", ocsp_url: str | None = None, crl_url: str | None = None,
              start: str | None = None, end: str | None = None, cn: str = "localhost") -> Leaf:
        ext = [f"subjectAltName={sans}", "basicConstraints=CA:FALSE", "extendedKeyUsage=serverAuth",
               "keyUsage=critical,digitalSignature,keyEncipherment"]
        if ocsp_url:
            ext.append(f"authorityInfoAccess=OCSP;URI:{ocsp_url}")
        if crl_url:
            ext.append(f"crlDistributionPoints=URI:{crl_url}")
        (self.dir / f"{name}.ext").write_text("\n".join(ext) + "\n")
        keyopt = ["-newkey", key] if not key.startswith("ec:") else ["-newkey", "ec", "-pkeyopt",
                                                                        f"ec_paramgen_curve:{key[3:]}"]
        _run("req", "-new", *keyopt, "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}",
             cwd=self.dir)
        dates = ["-startdate", start, "-enddate", end] if start and end else []
        _run("ca", "-batch", "-config", "ca.cnf", "-notext", "-md", md, "-in", f"{name}.csr", "-out", f"{name}.crt",
             "-extfile", f"{name}.ext", *dates, cwd=self.dir)
        return Leaf(self.dir / f"{name}.crt", self.dir / f"{name}.key")

    def revoke(self, leaf: Leaf) -> None:
        _run("ca", "-config", "ca.cnf", "-revoke", str(leaf.cert), cwd=self.dir)

    def crl_der(self) -> Path:
        _run("ca", "-config", "ca.cnf", "-gencrl", "-out", "ca.crl.pem", cwd=self.dir)
        _run("crl", "-in", "ca.crl.pem", "-outform", "DER", "-out", "ca.crl", cwd=self.dir)
        return self.dir / "ca.crl"

    def ocsp_response(self, leaf: Leaf, out: str) -> Path:
        """A signed OCSP response for this leaf from index.txt (what a stapling server serves)."""
        _run("ocsp", "-issuer", "ca.crt", "-cert", str(leaf.cert), "-reqout", f"{out}.req", "-no_nonce", cwd=self.dir)
        _run("ocsp", "-index", "index.txt", "-rsigner", "ca.crt", "-rkey", "ca.key", "-CA", "ca.crt",
             "-reqin", f"{out}.req", "-respout", out, "-ndays", "7", cwd=self.dir)
        return self.dir / out


def self_signed(directory: Path, name: str, cn: str = "localhost") -> Leaf:
    _run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.crt",
         "-days", "30", "-subj", f"/CN={cn}", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", cwd=directory)
    return Leaf(directory / f"{name}.crt", directory / f"{name}.key")
