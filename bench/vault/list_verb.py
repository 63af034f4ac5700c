"""What accepting Vault's LIST verb costs: the same `certvault serve` with uvicorn's httptools parser,
with certvault's LIST-aware httptools protocol (the default), and with h11 (which accepts LIST natively).

wrk (keep-alive, HTTPS) drives GET /api/v1/health and an audited vault read against each in turn,
several rounds interleaved so the machine's load hits every variant alike. Prints figures; asserts nothing.
(wrk itself cannot send LIST; the LIST requests themselves are served by h11, so they cost what h11 costs.)

    python -m bench.vault.list_verb [--seconds 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import ssl
import statistics
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.servers.certvault_server import certvault_cli
from tests.servers.process import free_port, start, stop, wait_until

VARIANTS = ("httptools", "list-aware", "h11")


def serve(data_dir: str, port: str, variant: str) -> None:
    """Child process: `certvault serve` with the chosen HTTP implementation."""
    import certvault.api.list_verb as list_verb
    from certvault.cli.main import app

    chosen = list_verb._list_aware_class() if variant == "list-aware" else variant
    list_verb.http_protocol = lambda: chosen  # type: ignore[assignment]
    app(["--data-dir", data_dir, "serve", "--host", "127.0.0.1", "--port", port, "--no-worker"])


def _wrk(url: str, seconds: float, connections: int, token: str | None, method: str) -> tuple[float, str]:
    script = Path(os.environ.get("TMPDIR", "/tmp")) / f"wrk-{method}.lua"
    script.write_text(f'wrk.method = "{method}"\n')
    args = ["wrk", "-t", str(min(2, connections)), "-c", str(connections), "-d", f"{seconds:g}s", "--latency",
            "-s", str(script), url]
    if token:
        args[1:1] = ["-H", f"Authorization: Bearer {token}"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60)
    found = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    if found is None:
        raise RuntimeError(f"wrk {' '.join(args)} failed: {done.stdout}{done.stderr}")
    rps = float(found.group(1))
    p99 = re.search(r"99%\s+([\d.]+\w+)", done.stdout)
    return rps, p99.group(1) if p99 else "?"


REQUEST = (b"GET /api/v1/vault/secrets/9b2f6a55-0c1e-4c53-9d43-3f4f3a1c2b7d/values HTTP/1.1\r\nHost: 127.0.0.1:8443\r\n"
           b"User-Agent: python-httpx/0.28\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\n"
           b"Connection: keep-alive\r\nAuthorization: Bearer cvt_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG\r\n\r\n")


def parser_cost(n: int = 50_000) -> dict[str, float]:
    """Microseconds to parse one keep-alive request (h11 also frames the 200 response, as uvicorn does)."""
    import time

    import h11
    import httptools

    class Sink:
        def on_url(self, url: bytes) -> None: ...
        def on_header(self, name: bytes, value: bytes) -> None: ...

    parser = httptools.HttpRequestParser(Sink())
    began = time.perf_counter()
    for _ in range(n):
        parser.feed_data(REQUEST)
    fast = (time.perf_counter() - began) / n * 1e6
    conn = h11.Connection(h11.SERVER)
    began = time.perf_counter()
    for _ in range(n):
        conn.receive_data(REQUEST)
        while not isinstance(conn.next_event(), h11.EndOfMessage):
            pass
        conn.send(h11.Response(status_code=200, headers=[(b"content-length", b"0")]))
        conn.send(h11.EndOfMessage())
        conn.start_next_cycle()
    return {"httptools": fast, "h11": (time.perf_counter() - began) / n * 1e6}


def _start(data_dir: Path, variant: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = data_dir / f"serve-{variant}.log"
    proc = start([sys.executable, "-m", "bench.vault.list_verb", "--serve", str(data_dir), str(port), variant], log,
                 env={"CERTVAULT_SECURITY_PASSWORD_MIN_LENGTH": "8"})
    url = f"https://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(url + "/api/v1/health", context=ssl._create_unverified_context(),
                                        timeout=2) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    wait_until(healthy, 30, f"certvault serve ({variant})", proc, log)
    return proc, url


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", nargs=3)
    args = parser.parse_args()
    if args.serve:
        serve(*args.serve)
        return
    import tempfile

    data_dir = Path(tempfile.mkdtemp(prefix="cv-listverb-"))
    env = {"CERTVAULT_SECURITY_PASSWORD_MIN_LENGTH": "8"}
    certvault_cli(data_dir, "init", env=env)
    certvault_cli(data_dir, "folder", "add", "Bench", env=env)
    secret = json.loads(certvault_cli(data_dir, "secret", "add", "--folder", "Bench", "--template", "password",
                                      "--name", "db", "--field", "username=u", "--field", "password=Bench-Passw0rd",
                                      "--json", env=env).stdout)
    token = json.loads(certvault_cli(data_dir, "token", "create", "--user", "admin", "--json", env=env).stdout)["token"]
    print(f"load average before: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}; {os.cpu_count()} cores; "
          f"wrk -t2 over HTTPS with keep-alive; {args.rounds} rounds of {args.seconds:g} s, interleaved", flush=True)
    results: dict[tuple[str, str], list[float]] = {}
    for _round in range(args.rounds):
        for variant in VARIANTS:
            proc, url = _start(data_dir, variant)
            try:
                cases = [("health, 1 conn", "/api/v1/health", 1, None, "GET"),
                         ("health, 16 conn", "/api/v1/health", 16, None, "GET"),
                         ("vault read, 16 conn", f"/api/v1/vault/secrets/{secret['id']}/values", 16, token, "GET")]
                for name, path, conns, tok, method in cases:
                    rps, _p99 = _wrk(url + path, args.seconds, conns, tok, method)
                    results.setdefault((name, variant), []).append(rps)
            finally:
                stop(proc)
    names = list(dict.fromkeys(name for name, _ in results))
    print(f"{'requests/s (median)':24}" + "".join(f"{v:>14}" for v in VARIANTS))
    for name in names:
        cells = [statistics.median(results[(name, v)]) if (name, v) in results else None for v in VARIANTS]
        print(f"{name:24}" + "".join(f"{c:14.0f}" if c is not None else f"{'refused':>14}" for c in cells))
    cost = parser_cost()
    print(f"parsing one request in-process: httptools {cost['httptools']:.1f} us, h11 {cost['h11']:.1f} us "
          f"({cost['h11'] / cost['httptools']:.0f}x); the LIST-aware protocol is httptools until a LIST arrives")
    subprocess.run(["rm", "-rf", str(data_dir)], check=False)


if __name__ == "__main__":
    main()
