"""Windows: the command lines the agent runs there (service registration, PFX import, IIS binding, store
listing). Built as plain data so tests check them on any platform; they are not run on a real Windows host
in this repository's tests. Secrets (the PFX password) travel in an environment variable, never in a
command line.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
from pathlib import Path
from typing import Any

SERVICE = "certvault-agent"
PFX_PASSWORD_ENV = "CERTVAULT_AGENT_PFX_PASSWORD"


def powershell(script: str) -> list[str]:
    """powershell.exe running `script` (passed encoded, so quoting inside it cannot break out)."""
    encoded = base64.b64encode(script.encode("utf-16-le")).decode()
    return ["powershell.exe", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand", encoded]


def ps_quote(value: str) -> str:
    """A PowerShell single-quoted literal."""
    return "'" + value.replace("'", "''") + "'"


def service_commands(executable: str, agent_dir: str) -> list[list[str]]:
    """Register and start the agent as an automatic Windows service restarted on failure (sc.exe)."""
    bin_path = f'"{executable}" run --dir "{agent_dir}"'
    return [
        ["sc.exe", "create", SERVICE, "binPath=", bin_path, "start=", "delayed-auto",
         "DisplayName=", "certvault agent"],
        ["sc.exe", "description", SERVICE, "Deploys certificates and answers http-01 challenges for certvault"],
        ["sc.exe", "failure", SERVICE, "reset=", "86400", "actions=", "restart/60000/restart/60000/restart/60000"],
        ["sc.exe", "start", SERVICE],
    ]


def iis_import_and_bind(pfx_path: str, site: str, port: int = 443, host: str = "") -> str:
    """Import a PFX into Cert:\\LocalMachine\\My and bind it to an IIS site's https binding (created if
    missing, SNI when a host name is given); prints the thumbprint."""
    sni = 1 if host else 0
    find = f"Get-WebBinding -Name {ps_quote(site)} -Protocol https -Port {port} -HostHeader {ps_quote(host)}"
    return "\n".join([
        "$ErrorActionPreference = 'Stop'",
        "Import-Module WebAdministration",
        f"$password = ConvertTo-SecureString -String $env:{PFX_PASSWORD_ENV} -AsPlainText -Force",
        f"$cert = Import-PfxCertificate -FilePath {ps_quote(pfx_path)} -CertStoreLocation Cert:\\LocalMachine\\My "
        "-Password $password",
        f"$binding = {find}",
        f"if (-not $binding) {{ New-WebBinding -Name {ps_quote(site)} -Protocol https -Port {port} "
        f"-HostHeader {ps_quote(host)} -SslFlags {sni}; "
        f"$binding = {find} }}",
        "$binding.AddSslCertificate($cert.Thumbprint, 'My')",
        "Write-Output $cert.Thumbprint",
    ])


def list_store(store: str) -> str:
    """Every certificate of Cert:\\LocalMachine\\<store> as JSON lines {thumbprint, der} (no keys)."""
    location = ps_quote("Cert:\\LocalMachine\\" + store)
    return (f"Get-ChildItem -Path {location} | ForEach-Object {{ "
            "@{ thumbprint = $_.Thumbprint; der = [Convert]::ToBase64String($_.RawData) } | ConvertTo-Json -Compress }")


def store_certificates(stores: list[str]) -> list[dict[str, str]]:
    from certvault.agent.work import store_entry

    found = []
    for store in stores[:10]:
        done = subprocess.run(powershell(list_store(str(store))), capture_output=True, text=True, timeout=120)
        for line in done.stdout.splitlines():
            if line.strip().startswith("{"):
                item = json.loads(line)
                found.append(store_entry(f"Cert:\\LocalMachine\\{store}\\{item['thumbprint']}", item["der"]))
    return found


def write_pfx(job_id: str, payload: dict[str, Any]) -> tuple[Path, str]:
    """The deployment's key and certificate as a PFX in a private temporary file, with a one-time password."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    key = serialization.load_pem_private_key(str(payload["key_pem"]).encode(), None)
    certs = x509.load_pem_x509_certificates((str(payload["cert_pem"]) + str(payload.get("chain_pem", ""))).encode())
    password = secrets.token_urlsafe(24)
    data = pkcs12.serialize_key_and_certificates(
        b"certvault", key, certs[0], certs[1:] or None,  # type: ignore[arg-type]
        serialization.BestAvailableEncryption(password.encode()))
    path = Path(os.environ.get("TEMP", ".")) / f"certvault-{job_id}.pfx"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path, password
