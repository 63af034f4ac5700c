"""What the agent does for a job. Each kind is idempotent: a job handed out again after a lost result
(at-least-once delivery) finds its work done or does it again with the same outcome.

- http01.place / http01.remove: the challenge file under `webroot`/.well-known/acme-challenge/.
- deploy: certificate, key, chain and full chain written atomically (temp name + rename) with a backup of
  what they replace (named after the job, so a repeat keeps the original), then the test command, then
  the reload command; a failed test restores the backups and reloads again. On Windows, `iis_site`
  imports a PFX into Cert:\\LocalMachine\\My and binds it to the site through PowerShell.
- rollback: puts back what a deploy replaced (its receipt), then reloads.
- tls.check: the leaf and chain a local TLS endpoint serves.
- inventory.report: certificates (never keys) in local files and, on Windows, the machine's stores.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

from certvault.agent import windows

PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----")
TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
FILE_ROLES = ("cert_path", "key_path", "chain_path", "fullchain_path")
COMMAND_TIMEOUT = 120
MAX_FILES = 2000


class JobFailed(Exception):
    """The job could not be done; the message goes back to the server as the job's error."""


def run(kind: str, job_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    handler = HANDLERS.get(kind)
    if handler is None:
        raise JobFailed(f"this agent does not know the job kind {kind!r}")
    return handler(job_id, payload)


# ---- http-01 ------------------------------------------------------------------------------------
def _challenge_path(payload: dict[str, Any]) -> Path:
    webroot, token = str(payload.get("webroot", "")), str(payload.get("token", ""))
    if not os.path.isabs(webroot) or not TOKEN.match(token):
        raise JobFailed("http-01 needs an absolute webroot and a token of URL-safe characters")
    return Path(webroot) / ".well-known" / "acme-challenge" / token


def http01_place(_job_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    target = _challenge_path(payload)
    try:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        _atomic_write(target, str(payload["key_authorization"]).encode(), 0o644)
    except (OSError, KeyError) as exc:
        raise JobFailed(f"cannot write the http-01 file {target}: {exc}") from None
    return {"path": str(target)}


def http01_remove(_job_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    target = _challenge_path(payload)
    target.unlink(missing_ok=True)
    return {"path": str(target), "removed": True}


# ---- deploy and rollback ----------------------------------------------------------------------
def deploy(job_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    contents = _contents(payload)
    if payload.get("iis_site"):
        return _deploy_iis(job_id, payload)
    backups: dict[str, str] = {}
    mode = int(str(payload.get("mode") or "0640"), 8)
    for role, data in contents.items():
        path = Path(str(payload[role]))
        backups[str(path)] = _backup(path, job_id)
        _atomic_write(path, data, 0o600 if role == "key_path" else mode, payload.get("owner"))
    failure = _command(payload.get("test_command"), "test")
    if failure:
        _restore(backups)
        _command(payload.get("reload_command"), "reload")
        raise JobFailed(f"{failure}; the previous files were restored")
    failure = _command(payload.get("reload_command"), "reload")
    if failure:
        raise JobFailed(failure)
    return {"backups": backups}


def rollback(_job_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    backups = {str(k): str(v) for k, v in dict(payload.get("backups") or {}).items()}
    _restore(backups)
    failure = _command(payload.get("reload_command"), "reload")
    if failure:
        raise JobFailed(failure)
    return {"restored": sorted(backups)}


def _contents(payload: dict[str, Any]) -> dict[str, bytes]:
    cert, chain = str(payload.get("cert_pem", "")).encode(), str(payload.get("chain_pem", "")).encode()
    key = str(payload.get("key_pem", "")).encode()
    data = {"cert_path": cert, "key_path": key, "chain_path": chain, "fullchain_path": cert + chain}
    wanted = {role: data[role] for role in FILE_ROLES if payload.get(role)}
    if not payload.get("iis_site") and not wanted:
        raise JobFailed("the deployment names no file to write (cert_path, key_path, chain_path, fullchain_path)")
    if any(not os.path.isabs(str(payload[role])) for role in wanted):
        raise JobFailed("deployment paths must be absolute")
    return wanted


def _backup(path: Path, job_id: str) -> str:
    """Copy what `path` holds now (once per job: a repeated job keeps the first copy); "" when it held nothing."""
    backup = path.with_name(f"{path.name}.certvault-backup-{job_id}")
    if backup.exists():
        return str(backup)
    if not path.exists():
        return ""
    shutil.copy2(path, backup)
    return str(backup)


def _restore(backups: dict[str, str]) -> None:
    for target, backup in backups.items():
        if backup and Path(backup).exists():
            shutil.copy2(backup, Path(target).with_name(f".{Path(target).name}.restore"))
            os.replace(Path(target).with_name(f".{Path(target).name}.restore"), target)
        elif not backup:
            Path(target).unlink(missing_ok=True)


def _atomic_write(path: Path, data: bytes, mode: int, owner: Any = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.certvault-tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, mode)
    if owner:
        user, _, group = str(owner).partition(":")
        shutil.chown(tmp, user or None, group or None)  # type: ignore[arg-type]
    os.replace(tmp, path)


def _command(command: Any, what: str) -> str | None:
    """Run a test or reload command; a message when it fails, None when it succeeds (or there is none)."""
    if not command:
        return None
    try:
        done = subprocess.run(str(command), shell=True, capture_output=True, text=True,  # noqa: S602 - configured by an admin
                              timeout=COMMAND_TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"the {what} command did not finish within {COMMAND_TIMEOUT} s"
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return f"the {what} command failed (exit {done.returncode}): {' / '.join(tail)}"[:1000]
    return None


def _deploy_iis(job_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    if sys.platform != "win32":
        raise JobFailed("IIS bindings need the agent on Windows")
    pfx_path, password = windows.write_pfx(job_id, payload)
    try:
        script = windows.iis_import_and_bind(str(pfx_path), str(payload["iis_site"]),
                                             int(payload.get("iis_port") or 443), payload.get("iis_host") or "")
        done = subprocess.run(windows.powershell(script), capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
                              env={**os.environ, windows.PFX_PASSWORD_ENV: password})
    finally:
        pfx_path.unlink(missing_ok=True)
    if done.returncode != 0:
        raise JobFailed(f"PowerShell failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    return {"thumbprint": done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""}


# ---- checks and inventory ---------------------------------------------------------------------
def tls_check(_job_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    host, port = str(payload.get("host") or "127.0.0.1"), int(payload.get("port") or 443)
    sni = payload.get("sni") or None
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # we report what is served, trusted or not
    try:
        with socket.create_connection((host, port), timeout=10) as raw, \
                context.wrap_socket(raw, server_hostname=sni) as tls:
            der = tls.getpeercert(binary_form=True)
    except OSError as exc:
        raise JobFailed(f"cannot connect to {host}:{port}: {exc}") from None
    if not der:
        raise JobFailed(f"{host}:{port} served no certificate")
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    return {"serial": format(cert.serial_number, "x"), "cert_pem": ssl.DER_cert_to_PEM_cert(der)}


def inventory_report(_job_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    found: list[dict[str, str]] = []
    for place in [str(p) for p in payload.get("paths") or []][:100]:
        found.extend(_certificates_under(Path(place)))
    if payload.get("windows_stores") and sys.platform == "win32":
        found.extend(windows.store_certificates(payload.get("windows_stores") or ["My"]))
    return {"certificates": found[:500]}


def _certificates_under(place: Path) -> list[dict[str, str]]:
    files = [place] if place.is_file() else sorted(p for p in place.rglob("*") if p.is_file())[:MAX_FILES]
    found = []
    for file in files:
        try:
            data = file.read_bytes()[:1_000_000]
        except OSError:
            continue
        for index, match in enumerate(PEM_CERT.findall(data)):
            found.append({"path": f"{file}#{index}" if index else str(file), "pem": match.decode()})
    return found


def store_entry(path: str, der_b64: str) -> dict[str, str]:
    der = base64.b64decode(der_b64)
    return {"path": path, "pem": ssl.DER_cert_to_PEM_cert(der)}


HANDLERS = {
    "http01.place": http01_place, "http01.remove": http01_remove, "deploy": deploy, "rollback": rollback,
    "tls.check": tls_check, "inventory.report": inventory_report,
}
