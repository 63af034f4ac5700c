"""An SSH deploy target that logs in with a password (from the vault) instead of a key. OpenSSH's sshd cannot
check passwords when it runs unprivileged, as the tests run it, so this runs against asyncssh's own SSH
server on loopback: password authentication, SFTP over the local file system and commands run by a shell,
with the host key pinned by its SHA256 fingerprint like any target."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from certvault.auth.rbac import Actor
from certvault.container import App
from certvault.errors import CertvaultError
from certvault.plugins.protocols import CertificateBundle
from tests.outbound.pki import key_pem, make_pki, pem
from tests.servers.process import free_port

ADMIN = Actor.system("test")
PASSWORD = "deploy-pass-4711"


class _PasswordOnly(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return password == PASSWORD


async def _shell(process: Any) -> None:
    child = await asyncio.create_subprocess_shell(process.command, stdout=asyncio.subprocess.PIPE,
                                                  stderr=asyncio.subprocess.STDOUT)
    output, _ = await child.communicate()
    process.stdout.write(output.decode())
    process.exit(child.returncode or 0)


@pytest.fixture
def ssh_server() -> Iterator[tuple[int, str]]:
    """(port, SHA256 fingerprint of its host key)."""
    loop = asyncio.new_event_loop()
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    port = free_port()
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(asyncssh.create_server(
            _PasswordOnly, "127.0.0.1", port, server_host_keys=[host_key], process_factory=_shell,
            sftp_factory=True))
        started.set()
        loop.run_forever()
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(10)
    yield port, host_key.get_fingerprint("sha256")
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def _bundle() -> CertificateBundle:
    pki = make_pki("password deploy CA")
    leaf = pki.issue("www.example.test", client=False, sans=("www.example.test",))
    return CertificateBundle(("www.example.test",), format(leaf.cert.serial_number, "x"), pem(leaf.cert),
                             pem(pki.ca.cert), key_pem(leaf.key))


def _add(app: App, port: int, fingerprint: str, out: Path, password: str) -> Any:
    options = {"host": "127.0.0.1", "port": port, "user": "deploy", "host_key_fingerprint": fingerprint,
               "cert_path": str(out / "cert.pem"), "key_path": str(out / "key.pem"),
               "fullchain_path": str(out / "fullchain.pem"), "mode": "0600",
               "test_command": f"test -s {out / 'fullchain.pem'}", "reload_command": f"touch {out / 'reloaded'}"}
    with app.transaction() as svc:
        return svc.integrations.add(ADMIN, "deploy", "ssh", f"pw-{password[:4]}", options, {"password": password})


def test_a_password_from_the_vault_logs_in_and_deploys(sqlite_app: App, ssh_server: tuple[int, str],
                                                        tmp_path: Path) -> None:
    port, fingerprint = ssh_server
    account = _add(sqlite_app, port, fingerprint, tmp_path, PASSWORD)
    bundle = _bundle()
    with sqlite_app.transaction() as svc:
        target = svc.integrations.deploy_target(svc.integrations.find("deploy", account.id))
    assert "logged in" in target.check()
    target.deploy(bundle)
    assert (tmp_path / "fullchain.pem").read_bytes() == bundle.fullchain_pem
    assert (tmp_path / "key.pem").read_bytes() == bundle.key_pem
    assert oct((tmp_path / "key.pem").stat().st_mode & 0o777) == "0o600"
    assert (tmp_path / "reloaded").exists()  # the test command passed, then the reload ran


def test_a_wrong_password_is_refused_in_one_line_without_it(sqlite_app: App, ssh_server: tuple[int, str],
                                                            tmp_path: Path) -> None:
    port, fingerprint = ssh_server
    account = _add(sqlite_app, port, fingerprint, tmp_path, "not-the-password")
    with sqlite_app.transaction() as svc:
        target = svc.integrations.deploy_target(svc.integrations.find("deploy", account.id))
    with pytest.raises(CertvaultError) as refused:
        target.check()
    assert "authentication refused" in refused.value.message and "not-the-password" not in refused.value.message
    assert not (tmp_path / "cert.pem").exists()
