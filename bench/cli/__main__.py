"""python -m bench.cli [--runs N] [--acme-runs N] [--certificates N] [--no-certbot]

Whole processes, as users run them, each the median of N runs after one warm-up (hyperfine's way:
wall time from fork to exit, plus the CPU the process used):

* `certvault --help` beside `certbot --help`, and `python -c pass` (the floor every Python program pays);
* `certvault cert list --json` on an empty store and on one holding --certificates (10,000) certificates;
* `certvault acme request --wait` for a wildcard + apex certificate beside `certbot certonly` for the same
  two names: Pebble 2.4 (PEBBLE_VA_NOSLEEP=1) validates dns-01 against a local BIND9 that both clients
  update with TSIG-signed RFC 2136 (certbot through its certbot-dns-rfc2136 plugin, propagation wait 0 s),
  each with its ACME account already registered.

certbot and its plugin come from PyPI into a venv of their own (bench/acme/certbot.py). The data
directories and certificates are made by the same `certvault` command before the timed runs, so
PYTHONPATH=<another checkout>/src measures another version of certvault with the same bench. Prints
figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.servers.bind9 import Bind9
from tests.servers.pebble import Pebble

from bench.acme.certbot import certbot_command
from bench.inventory.corpus import ensure as corpus_files

CERTVAULT = Path(sys.executable).parent / "certvault"
ZONE = "bench.test"
Argv = Sequence[str | Path]


@dataclass
class Timing:
    wall: list[float]
    cpu: list[float]

    def line(self, label: str) -> str:
        wall = [seconds * 1000 for seconds in self.wall]
        return (f"{label:<58} {statistics.median(wall):6.0f} ms median (min {min(wall):.0f}, max {max(wall):.0f}; "
                f"CPU {statistics.median(self.cpu) * 1000:.0f} ms; n={len(wall)})")


def run(argv: Argv, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} failed ({result.returncode}): {result.stderr[-800:]}")
    return result


def timed(argv: Argv | Callable[[], Argv], runs: int) -> Timing:
    """One warm-up run (file cache, .pyc files), then `runs` timed ones; a callable gives each run its arguments."""
    timing = Timing([], [])
    for index in range(runs + 1):
        args = argv() if callable(argv) else argv
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        run(args)
        elapsed = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if index:
            timing.wall.append(elapsed)
            timing.cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return timing


def compile_certvault() -> str:
    """Byte-compile the certvault being measured, as `pip install` does for a wheel (certbot's venv has its .pyc
    files from its install). An editable checkout run with PYTHONDONTWRITEBYTECODE=1 would otherwise compile
    every module from source in every run, about 0.3 s that no installed copy pays."""
    where = run([sys.executable, "-c", "import certvault; print(certvault.__file__)"]).stdout.strip()
    compileall.compile_dir(Path(where).parent, quiet=1)
    return where


def cli(data: Path, *args: str) -> Argv:
    return [CERTVAULT, "--data-dir", data, *args]


def startup(runs: int, certbot: Path | None) -> None:
    print(timed([sys.executable, "-c", "pass"], runs).line("python -c pass (the floor)"), flush=True)
    ours = timed([CERTVAULT, "--help"], runs)
    print(ours.line("certvault --help"), flush=True)
    if certbot is not None:
        theirs = timed([certbot, "--help"], runs)
        print(theirs.line("certbot --help"), flush=True)
        print(f"{'':<58} certvault --help takes {statistics.median(ours.wall) / statistics.median(theirs.wall):.2f}x "
              "certbot's time")


def listing(runs: int, work: Path, certificates: int) -> None:
    empty = work / "data-empty"
    run(cli(empty, "cert", "list", "--json"))  # creates the data directory, master key and database
    print(timed(cli(empty, "cert", "list", "--json"), runs).line("certvault cert list --json, empty store"), flush=True)
    full = work / "data-full"
    stored = 0
    for file in corpus_files(certificates):
        stored += json.loads(run(cli(full, "cert", "import", str(file), "--json")).stdout)["imported"]
        if stored >= certificates:
            break
    shown = json.loads(run(cli(full, "cert", "list", "--json")).stdout)
    label = f"certvault cert list --json, {shown['total']:,}{'+' if shown['total_capped'] else ''} certificates"
    print(timed(cli(full, "cert", "list", "--json"), runs).line(label), flush=True)


def _names() -> list[str]:
    apex = f"c{uuid.uuid4().hex[:10]}.{ZONE}"
    return [apex, f"*.{apex}"]


def _certvault_issuer(work: Path, pebble: Pebble, named: Bind9) -> Callable[[], Argv]:
    data = work / "data-acme"
    account = json.loads(run(cli(data, "acme", "account", "register", "--directory", pebble.directory_url,
                                 "--agree-tos", "--ca-bundle", str(pebble.tls_ca), "--json")).stdout)
    dns = json.loads(run(cli(data, "dns-account", "add", "rfc2136", "--server", named.address, "--key-name",
                             named.key_name, "--key-secret", named.secret, "--algorithm", named.algorithm,
                             "--zone", ZONE, "--json")).stdout)

    def request() -> Argv:
        domains = [arg for name in _names() for arg in ("--domain", name)]
        return cli(data, "acme", "request", "--account", account["id"], *domains, "--challenge", "dns-01",
                   "--dns-account", dns["id"], "--wait", "--json")

    return request


def _certbot_issuer(work: Path, certbot: Path, pebble: Pebble, named: Bind9) -> Callable[[], Argv]:
    host, port = named.address.rsplit(":", 1)
    ini = work / "rfc2136.ini"
    ini.write_text(f"dns_rfc2136_server = {host}\ndns_rfc2136_port = {port}\ndns_rfc2136_name = {named.key_name}\n"
                   f"dns_rfc2136_secret = {named.secret}\ndns_rfc2136_algorithm = {named.algorithm.upper()}\n")
    ini.chmod(0o600)
    dirs = ["--config-dir", str(work / "certbot" / "config"), "--work-dir", str(work / "certbot" / "work"),
            "--logs-dir", str(work / "certbot" / "logs")]
    common = ["--non-interactive", "--server", pebble.directory_url, "--no-verify-ssl", *dirs]
    run([certbot, "register", "--agree-tos", "--register-unsafely-without-email", *common])

    def request() -> Argv:
        domains = [arg for name in _names() for arg in ("-d", name)]
        return [certbot, "certonly", *common, "--authenticator", "dns-rfc2136", "--dns-rfc2136-credentials", str(ini),
                "--dns-rfc2136-propagation-seconds", "0", "--key-type", "ecdsa", *domains]

    return request


def issuance(runs: int, work: Path, certbot: Path | None) -> None:
    named = Bind9(work / "bind", zones=(ZONE,)).start()
    pebble = Pebble(work / "pebble", dns_server=named.address).start()
    try:
        ours = timed(_certvault_issuer(work, pebble, named), runs)
        print(ours.line("certvault acme request --wait, wildcard + apex (dns-01)"), flush=True)
        if certbot is None:
            return
        theirs = timed(_certbot_issuer(work, certbot, pebble, named), runs)
        print(theirs.line("certbot certonly --dns-rfc2136, wildcard + apex"), flush=True)
        print(f"{'':<58} certvault is {statistics.median(theirs.wall) / statistics.median(ours.wall):.1f}x faster "
              "per certificate, whole process")
    finally:
        pebble.stop()
        named.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cli")
    parser.add_argument("--runs", type=int, default=10, help="timed runs of --help and cert list")
    parser.add_argument("--acme-runs", type=int, default=7, help="timed certificate requests per client")
    parser.add_argument("--certificates", type=int, default=10_000, help="certificates in the populated store")
    parser.add_argument("--no-certbot", action="store_true", help="skip certbot (no PyPI install)")
    args, _ = parser.parse_known_args(sys.argv[2:] if len(sys.argv) > 1 and sys.argv[1] == "cli" else sys.argv[1:])
    certbot = None if args.no_certbot else certbot_command()
    work = Path(tempfile.mkdtemp(prefix="cv-bench-cli-"))
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; certvault from {compile_certvault()}", flush=True)
    try:
        startup(args.runs, certbot)
        listing(args.runs, work, args.certificates)
        issuance(args.acme_runs, work, certbot)
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
