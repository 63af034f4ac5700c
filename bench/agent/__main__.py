"""Agent polls one certvault server process sustains with 1,000 agents connected over mutual TLS.

A real `certvault serve` (SQLite, one process, worker off) and 1,000 simulated agents in this process: each
enrolled through the real enrolment API with its own key and client certificate, then an httpx.AsyncClient
of its own (its own TLS connection, kept alive). Three phases:

1. idle: every agent holds a long poll (wait=25 s) open; the server's CPU while 1,000 polls wait.
2. saturation: every agent polls with wait=0 in a loop for --seconds; polls/s answered (every one with the
   full per-call check: issued by the internal CA, in validity, not revoked, a live agent's, a lease query).
3. delivery: with every agent long-polling, jobs are queued for --jobs agents; time from queue to receipt.

Prints figures; asserts nothing.   python -m bench.agent [--agents 1000] [--seconds 20] [--jobs 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import statistics
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from tests.servers.certvault_server import LiveServer, remove_live_server, start_live_server

from certvault.agent.identity import csr_pem, new_key
from certvault.config import load_settings
from certvault.container import App, build_app


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _app(live: LiveServer) -> App:
    return build_app(load_settings(environ={}, overrides={"data_dir": str(live.data_dir)}), run_migrations=False)


def _tokens(app: App, count: int) -> list[str]:
    from certvault.auth.rbac import Actor

    actor = Actor.system("bench", via="cli")
    with app.transaction() as svc:
        return [svc.agents.create_token(actor, f"bench-{i:04d}", timedelta(hours=1))[0] for i in range(count)]


async def _enrol(live: LiveServer, tokens: list[str], folder: Path) -> list[Path]:
    from cryptography.hazmat.primitives import serialization

    verify = ssl.create_default_context(cafile=str(live.ca_file))
    async with httpx.AsyncClient(base_url=live.url, verify=verify, timeout=60,
                                 limits=httpx.Limits(max_connections=16)) as client:
        async def one(index: int, token: str) -> None:
            key = new_key()
            answer = (await client.post("/api/v1/agent/enroll", json={"token": token, "csr_pem": csr_pem(key, "")}))
            answer.raise_for_status()
            path = folder / f"{index}.pem"
            path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()) + answer.json()["cert_pem"].encode())

        for start in range(0, len(tokens), 50):
            await asyncio.gather(*(one(start + i, t) for i, t in enumerate(tokens[start:start + 50])))
    return [folder / f"{index}.pem" for index in range(len(tokens))]  # identity i is agent bench-i


def _clients(live: LiveServer, identities: list[Path]) -> list[httpx.AsyncClient]:
    clients = []
    for identity in identities:
        context = ssl.create_default_context(cafile=str(live.ca_file))
        context.load_cert_chain(str(identity))
        clients.append(httpx.AsyncClient(base_url=live.url, verify=context, timeout=httpx.Timeout(60.0),
                                         limits=httpx.Limits(max_connections=1)))
    return clients


RETRIED = [0]


async def _poll(client: httpx.AsyncClient, wait: float) -> dict[str, Any]:
    """One poll as the agent makes it: once more at once when the server had just closed the idle connection."""
    try:
        response = await client.get("/api/v1/agent/jobs", params={"wait": wait})
    except httpx.RemoteProtocolError:
        RETRIED[0] += 1
        response = await client.get("/api/v1/agent/jobs", params={"wait": wait})
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


async def _connect(clients: list[httpx.AsyncClient]) -> None:
    for start in range(0, len(clients), 50):  # TLS handshakes in batches (the server verifies each certificate)
        await asyncio.gather(*(_poll(c, 0) for c in clients[start:start + 50]))


async def _idle(live: LiveServer, clients: list[httpx.AsyncClient], seconds: float) -> None:
    assert live.proc is not None
    tasks = [asyncio.create_task(_poll(c, 25)) for c in clients]
    await asyncio.sleep(2)
    cpu, wall = _cpu_seconds(live.proc.pid), time.monotonic()
    await asyncio.sleep(seconds)
    used = (_cpu_seconds(live.proc.pid) - cpu) / (time.monotonic() - wall)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    failed = Counter(_why(r) for r in results if isinstance(r, BaseException))
    print(f"idle:       {len(clients)} agents holding a 25 s long poll: server CPU {used * 100:.1f}% of one core; "
          f"{sum(failed.values())} polls failed {dict(failed) or ''}; {RETRIED[0]} polls so far sent again on a new "
          "connection (server closed the idle one)", flush=True)


def _why(exc: BaseException) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}: {exc.response.text[:100]}"
    return type(exc).__name__


async def _saturate(live: LiveServer, clients: list[httpx.AsyncClient], seconds: float) -> None:
    assert live.proc is not None
    counts, failures, latencies = [0], [0], []
    deadline = time.monotonic() + seconds

    async def loop(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            began = time.monotonic()
            try:
                await _poll(client, 0)
                counts[0] += 1
                latencies.append(time.monotonic() - began)
            except httpx.HTTPError:
                failures[0] += 1

    cpu, wall, client_cpu = _cpu_seconds(live.proc.pid), time.monotonic(), time.process_time()
    await asyncio.gather(*(loop(c) for c in clients))
    elapsed = time.monotonic() - wall
    server_cpu = (_cpu_seconds(live.proc.pid) - cpu) / elapsed
    latencies.sort()
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
    print(f"saturation: {counts[0] / elapsed:.0f} polls/s answered by one server process ({len(clients)} agents, "
          f"wait=0, {elapsed:.0f} s); p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms; {failures[0]} failed; "
          f"server CPU {server_cpu * 100:.0f}%, this client {(time.process_time() - client_cpu) / elapsed * 100:.0f}%",
          flush=True)


async def _delivery(live: LiveServer, app: App, clients: list[httpx.AsyncClient], jobs: int) -> None:
    names = [f"bench-{i:04d}" for i in range(len(clients))]
    received: dict[int, float] = {}

    async def wait_for_job(index: int, client: httpx.AsyncClient) -> None:
        while index < jobs and index not in received:
            answer = await _poll(client, 25)
            if answer["jobs"]:
                received[index] = time.monotonic()

    tasks = [asyncio.create_task(wait_for_job(i, c)) for i, c in enumerate(clients)]
    await asyncio.sleep(3)  # every poll is waiting
    queued = time.monotonic()
    with app.transaction() as svc:
        for name in names[:jobs]:
            svc.agents.submit(name, "tls.check", {"port": 443})
    await asyncio.wait_for(asyncio.gather(*tasks[:jobs]), 120)
    for task in tasks[jobs:]:
        task.cancel()
    delays = sorted(t - queued for t in received.values())
    print(f"delivery:   {jobs} jobs queued while {len(clients)} agents long-poll: received after median "
          f"{statistics.median(delays) * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms (the wake-up check runs "
          "once a second per process)", flush=True)


async def run(agents: int, seconds: float, jobs: int) -> None:
    live = start_live_server({}, "--no-worker")
    try:
        app = _app(live)
        began = time.monotonic()
        identities = await _enrol(live, _tokens(app, agents), Path(tempfile.mkdtemp(prefix="cv-bench-agents-")))
        print(f"enrolled {len(identities)} agents through the API in {time.monotonic() - began:.0f} s "
              f"(load {' '.join(Path('/proc/loadavg').read_text().split()[:3])})", flush=True)
        clients = _clients(live, identities)
        began = time.monotonic()
        await _connect(clients)
        print(f"connected:  {len(clients)} mutual-TLS connections in {time.monotonic() - began:.1f} s", flush=True)
        await _idle(live, clients, min(seconds, 20))
        await _saturate(live, clients, seconds)
        await _delivery(live, app, clients, jobs)
        await asyncio.gather(*(c.aclose() for c in clients))
        app.close()
    finally:
        remove_live_server(live)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.agent")
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--jobs", type=int, default=100)
    args, _ = parser.parse_known_args()
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    asyncio.run(run(args.agents, args.seconds, args.jobs))


if __name__ == "__main__":
    main()
