"""What the agent does for a job. Each kind is idempotent: a job handed out again after a lost result
(at-least-once delivery) finds its work done or does it again with the same outcome.

- http01.place / http01.remove: the challenge file under `webroot`/.well-known/acme-challenge/.
- deploy: the files certvault planned (PEMs, combined PEM, keystore; sent sealed) written atomically (temp
  name + rename) after a backup of what each replaces (named after the serial, so a repeat keeps the
  original), then the test command, then the reload command; a failure restores the backups and reloads
  again. On Windows, `iis_site` imports a PFX into Cert:\\LocalMachine\\My and binds it to the site through
  PowerShell.
- rollback: puts back what a deploy replaced (its receipt), then tests and reloads.
- tls.check: the leaf and chain a local TLS endpoint serves.
- inventory.report: certificates (never keys) in local files and, on Windows, the machine's stores.
"""

from __future__ import annotations

import base64
import json
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
ABSENT = "absent"
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
    """Write the planned files (sent sealed, in `secret`) with a backup of each; test, reload; undo on failure.
    The receipt maps "file:<path>" to its backup ("absent" when the path held nothing)."""
    secret = json.loads(str(payload.get("secret") or "{}"))
    if payload.get("iis_site"):
        return _deploy_iis(job_id, {**payload, **secret})
    files = [(str(f["path"]), base64.b64decode(f["content"])) for f in secret.get("files", [])]
    if not files or any(not os.path.isabs(path) for path, _ in files):
        raise JobFailed("the deployment names no file to write, or a path that is not absolute")
    serial = re.sub(r"[^0-9a-fA-F]", "", str(payload.get("serial") or job_id))[:64] or "job"
    mode = int(str(payload.get("mode") or "0640"), 8)
    receipt: dict[str, str] = {"serial": serial}
    for path, _ in files:  # every backup before any write
        receipt[f"file:{path}"] = _backup(Path(path), serial)
    for path, content in files:
        _atomic_write(Path(path), content, mode, payload.get("owner"))
    for label in ("test_command", "reload_command"):
        failure = _command(payload.get(label), label.split("_")[0])
        if failure:
            _restore(receipt)
            _command(payload.get("reload_command"), "reload")
            raise JobFailed(f"{failure}; the previous files were restored and reloaded")
    return {"receipt": receipt}


def rollback(_job_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    receipt = {str(k): str(v) for k, v in dict(payload.get("receipt") or {}).items()}
    _restore(receipt)
    for label in ("test_command", "reload_command"):
        failure = _command(payload.get(label), label.split("_")[0])
        if failure:
            raise JobFailed(f"the previous files were restored but {failure}")
    return {"restored": sorted(k[5:] for k in receipt if k.startswith("file:"))}


def _backup(path: Path, serial: str) -> str:
    """Copy what `path` holds now, once per serial (a repeated job keeps the first copy: the original)."""
    backup = path.with_name(f"{path.name}.certvault-backup-{serial}")
    absent = path.with_name(f"{backup.name}.{ABSENT}")
    if backup.exists():
        return str(backup)
    if absent.exists():
        return ABSENT
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        absent.write_bytes(b"")
        return ABSENT
    shutil.copy2(path, backup)
    return str(backup)


def _restore(receipt: dict[str, str]) -> None:
    for key, backup in receipt.items():
        if not key.startswith("file:"):
            continue
        target = Path(key[5:])
        if backup == ABSENT:
            target.unlink(missing_ok=True)
        elif Path(backup).exists():
            temp = target.with_name(f".{target.name}.certvault-tmp")
            shutil.copy2(backup, temp)
            os.replace(temp, target)


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
