"""Talking to the server: enrolment, the poll loop, results, and the agent's own certificate rotation.

Every call after enrolment goes out over HTTPS with the agent's client certificate, trusting only
certvault's root. At two thirds of its certificate's lifetime the agent sends a CSR for a new key over
its current session, stores the new identity (one rename) and opens its next connection with it; the
server drops the old certificate at that first use. A poll never waits past the renewal point, so the
rotation always happens between two polls and no call fails for it.
"""

from __future__ import annotations

import logging
import platform
import shutil
import signal
import socket
import ssl
import time
from pathlib import Path
from typing import Any

import httpx

from certvault import __version__
from certvault.agent import identity, work
from certvault.agent.identity import AgentDir

log = logging.getLogger("certvault.agent")
RESULT_ATTEMPTS = 5
BACKOFF = (1, 2, 5, 10, 30)


class Refused(Exception):
    """The server answered 401/403: this agent's certificate is revoked, expired or unknown."""


def _context(ca_file: Path, identity_file: Path | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca_file))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if identity_file is not None:
        context.load_cert_chain(str(identity_file))
    return context


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail") or response.text)[:300]
    except ValueError:
        return response.text[:300]


def enroll(folder: AgentDir, server: str, token: str, ca_file: Path) -> str:
    from certvault.agent.main import AgentError

    folder.path.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = identity.new_key()
    body = {"token": token, "csr_pem": identity.csr_pem(key, socket.gethostname()[:64]),
            "details": {"platform": platform.platform()[:100], "version": __version__,
                        "hostname": socket.gethostname()[:100]}}
    try:
        with httpx.Client(base_url=server, verify=_context(ca_file), timeout=30) as client:
            response = client.post("/api/v1/agent/enroll", json=body)
    except httpx.HTTPError as exc:
        raise AgentError(f"cannot reach {server}: {exc}") from None
    if response.status_code != 201:
        raise AgentError(f"enrolment refused ({response.status_code}): {_detail(response)}")
    answer = response.json()
    if ca_file.absolute() != folder.ca_file.absolute():
        shutil.copyfile(ca_file, folder.ca_file)
    folder.save_identity(key, answer["cert_pem"], answer["chain_pem"])
    folder.save_config(server, answer["agent"])
    now = identity.utcnow().isoformat()
    folder.update_state(enrolled_at=now, received_at=now, serial=answer["serial"])
    return str(answer["agent"])


class Runner:
    def __init__(self, folder: AgentDir, poll_wait: float = 25.0) -> None:
        self.folder = folder
        self.server = str(folder.config()["server"])
        self.poll_wait = poll_wait
        self.stopping = False
        state = folder.state()
        self.polls, self.failed_polls = int(state.get("polls", 0)), int(state.get("failed_polls", 0))
        self.rotations = int(state.get("rotations", 0))
        self.client = self._client()

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.server, verify=_context(self.folder.ca_file, self.folder.identity),
                            timeout=httpx.Timeout(15.0, read=self.poll_wait + 20.0))

    def run_forever(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self.stop())
        signal.signal(signal.SIGINT, lambda *_: self.stop())
        failures = 0
        while not self.stopping:
            self.renew_if_due()
            if self.poll_once():
                failures = 0
                continue
            time.sleep(BACKOFF[min(failures, len(BACKOFF) - 1)])
            failures += 1
        self.client.close()

    def stop(self) -> None:
        self.stopping = True

    # ---- polling -------------------------------------------------------------------------------
    def poll_once(self) -> bool:
        due = self.folder.renew_after()
        wait = max(0.0, min(self.poll_wait, (due - identity.utcnow()).total_seconds()))
        try:
            response = self._get_jobs(wait)
        except httpx.HTTPError as exc:
            return self._failed(f"poll failed: {type(exc).__name__}: {exc}")
        if response.status_code in (401, 403):
            self.folder.update_state(last_error=_detail(response), refused_at=identity.utcnow().isoformat())
            raise Refused(_detail(response))
        if response.status_code != 200:
            return self._failed(f"poll answered {response.status_code}: {_detail(response)}")
        self.polls += 1
        self.folder.update_state(last_poll=identity.utcnow().isoformat(), polls=self.polls,
                                 failed_polls=self.failed_polls)
        for job in response.json().get("jobs", []):
            self.execute(job)
        return True

    def _get_jobs(self, wait: float) -> httpx.Response:
        try:
            return self.client.get("/api/v1/agent/jobs", params={"wait": round(wait, 1)})
        except httpx.RemoteProtocolError:  # the server closed an idle kept-alive connection as it was reused
            return self.client.get("/api/v1/agent/jobs", params={"wait": round(wait, 1)})

    def _failed(self, message: str) -> bool:
        self.failed_polls += 1
        log.warning("%s", message)
        self.folder.update_state(last_error=message, failed_polls=self.failed_polls)
        return False

    def execute(self, job: dict[str, Any]) -> None:
        job_id = str(job["id"])
        try:
            result, ok, error = work.run(str(job["kind"]), job_id, dict(job.get("payload") or {})), True, None
        except work.JobFailed as exc:
            result, ok, error = {}, False, str(exc)
        except Exception as exc:  # noqa: BLE001 - any failure is the job's outcome, reported to the server
            result, ok, error = {}, False, f"{type(exc).__name__}: {exc}"
        self._report(job_id, {"ok": ok, "result": result, "error": error})

    def _report(self, job_id: str, body: dict[str, Any]) -> None:
        """Deliver a result; when that keeps failing the lease runs out and the job comes again (idempotent)."""
        for attempt in range(RESULT_ATTEMPTS):
            try:
                response = self.client.post(f"/api/v1/agent/jobs/{job_id}/result", json=body)
                if response.status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(BACKOFF[attempt])

    # ---- rotation ------------------------------------------------------------------------------
    def renew_if_due(self) -> bool:
        if identity.utcnow() < self.folder.renew_after():
            return False
        key = identity.new_key()
        try:
            response = self.client.post("/api/v1/agent/certificate",
                                        json={"csr_pem": identity.csr_pem(key, self.folder.config()["name"])})
        except httpx.HTTPError as exc:
            log.warning("certificate renewal failed, will retry: %s", exc)
            return False
        if response.status_code in (401, 403):
            raise Refused(_detail(response))
        if response.status_code != 201:
            log.warning("certificate renewal answered %s: %s", response.status_code, _detail(response))
            return False
        answer = response.json()
        self.folder.save_identity(key, answer["cert_pem"], answer["chain_pem"])
        old, self.client = self.client, self._client()
        old.close()
        self.rotations += 1
        now = identity.utcnow().isoformat()
        self.folder.update_state(serial=answer["serial"], rotations=self.rotations, rotated_at=now, received_at=now)
        return True
