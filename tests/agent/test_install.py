"""install-service: the systemd unit the real program writes, and the Windows command lines (service
registration, PFX import and IIS binding, certificate-store listing) as built; they are not run on a real
Windows host here."""

from __future__ import annotations

import base64
import datetime as dt
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from certvault.agent import windows
from tests.agent.conftest import AGENT, agent_cli


def test_install_service_writes_a_systemd_unit_that_runs_the_agent(tmp_path: Path) -> None:
    agent_dir = tmp_path / "state dir"
    done = agent_cli("install-service", "--dir", str(agent_dir), "--unit-dir", str(tmp_path / "units"))
    unit = (tmp_path / "units" / "certvault-agent.service").read_text()
    assert "wrote" in done.stdout and "systemctl enable --now certvault-agent" in done.stdout
    assert f'ExecStart="{AGENT}" run --dir "{agent_dir}"' in unit
    for line in (
        "[Unit]",
        "After=network-online.target",
        "Restart=on-failure",
        "UMask=0077",
        "NoNewPrivileges=true",
        "WantedBy=multi-user.target",
    ):
        assert line in unit.splitlines()
    assert oct((tmp_path / "units" / "certvault-agent.service").stat().st_mode & 0o777) == "0o644"
    printed = agent_cli("install-service", "--dir", str(agent_dir), "--print").stdout
    assert printed == unit


def test_status_before_enrolment(tmp_path: Path) -> None:
    done = agent_cli("status", "--dir", str(tmp_path), "--json", check=False)
    assert done.returncode == 1 and '"enrolled": false' in done.stdout
    run = agent_cli("run", "--dir", str(tmp_path), check=False)
    assert run.returncode == 2 and "not enrolled" in run.stderr


def test_windows_service_registration_commands() -> None:
    commands = windows.service_commands(
        r"C:\Program Files\certvault-agent\certvault-agent.exe", r"C:\ProgramData\certvault-agent"
    )
    assert [c[:3] for c in commands] == [
        ["sc.exe", "create", "certvault-agent"],
        ["sc.exe", "description", "certvault-agent"],
        ["sc.exe", "failure", "certvault-agent"],
        ["sc.exe", "start", "certvault-agent"],
    ]
    create = subprocess.list2cmdline(commands[0])
    assert create == (
        'sc.exe create certvault-agent binPath= "\\"C:\\Program Files\\certvault-agent\\certvault-agent.exe'
        '\\" run --dir \\"C:\\ProgramData\\certvault-agent\\"" start= delayed-auto '
        'DisplayName= "certvault agent"'
    )
    assert commands[2][3:] == ["reset=", "86400", "actions=", "restart/60000/restart/60000/restart/60000"]


def _script(command: list[str]) -> str:
    assert command[:6] == [
        "powershell.exe",
        "-NoProfile",
        "-NonInteractive",
        "-ExecutionPolicy",
        "Bypass",
        "-EncodedCommand",
    ]
    return base64.b64decode(command[6]).decode("utf-16-le")


def test_iis_import_and_binding_script_keeps_the_password_off_the_command_line() -> None:
    script = windows.iis_import_and_bind(
        r"C:\Windows\Temp\certvault-1.pfx", "Default Web Site", 8443, "www.example.com"
    )
    command = windows.powershell(script)
    assert _script(command) == script
    lines = script.splitlines()
    assert lines[2] == (
        "$password = ConvertTo-SecureString -String $env:CERTVAULT_AGENT_PFX_PASSWORD -AsPlainText -Force"
    )
    assert lines[3] == (
        r"$cert = Import-PfxCertificate -FilePath 'C:\Windows\Temp\certvault-1.pfx' "
        r"-CertStoreLocation Cert:\LocalMachine\My -Password $password"
    )
    assert (
        "New-WebBinding -Name 'Default Web Site' -Protocol https -Port 8443 -HostHeader 'www.example.com' "
        "-SslFlags 1" in script
    )
    assert "$binding.AddSslCertificate($cert.Thumbprint, 'My')" in lines
    quoted = windows.iis_import_and_bind("C:\\x.pfx", "O'Brien's site")
    assert "-Name 'O''Brien''s site'" in quoted and "-SslFlags 0" in quoted


def test_store_listing_script() -> None:
    script = windows.list_store("WebHosting")
    assert script.startswith(r"Get-ChildItem -Path 'Cert:\LocalMachine\WebHosting' | ForEach-Object")
    assert "[Convert]::ToBase64String($_.RawData)" in script and "ConvertTo-Json -Compress" in script


def test_the_pfx_for_iis_holds_key_leaf_and_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMP", str(tmp_path))
    now = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "www.example.com")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    path, password = windows.write_pfx(
        "job-1",
        {
            "key_pem": key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode(),
            "cert_pem": cert.public_bytes(pem).decode(),
        },
    )
    assert path.parent == tmp_path and oct(path.stat().st_mode & 0o777) == "0o600"
    loaded_key, loaded_cert, _ = pkcs12.load_key_and_certificates(path.read_bytes(), password.encode())
    assert loaded_cert is not None and loaded_cert.serial_number == 7 and loaded_key is not None
