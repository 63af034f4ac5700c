"""A real `certvault serve` process over HTTPS on a loopback port, with its own data directory."""

from __future__ import annotations

import http.cookiejar
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers.process import free_port, start, stop, wait_until

BIN = Path(sys.executable).parent
ADMIN_PASSWORD = "Live-admin-pass-1"


def certvault_cli(data_dir: Path, *args: str, env: dict[str, str] | None = None,
                  check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `certvault` command against a data directory."""
    result = subprocess.run(
        [str(BIN / "certvault"), "--data-dir", str(data_dir), *args], capture_output=True, text=True,
        env={**os.environ, "CERTVAULT_SECURITY_PASSWORD_MIN_LENGTH": "8", **(env or {})}, input=input,
        timeout=300,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"certvault {' '.join(args)} failed ({result.returncode}):\n"
                             f"{result.stdout}\n{result.stderr}")
    return result


@dataclass
class LiveServer:
    data_dir: Path
    port: int
    host: str = "127.0.0.1"
    env: dict[str, str] = field(default_factory=dict)
    admin_password: str | None = None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://{'[' + self.host + ']' if ':' in self.host else self.host}:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.data_dir / "tls" / "ca.pem"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def start(self, *extra: str) -> LiveServer:
        init = certvault_cli(self.data_dir, "init", env=self.env)
        for line in init.stdout.splitlines():
            if "One-time password:" in line:
                self.admin_password = line.rsplit("One-time password:", 1)[1].strip()
        log = self.data_dir / "serve.log"
        self.proc = start(
            [str(BIN / "certvault"), "--data-dir", str(self.data_dir), "serve", "--host", self.host,
             "--port", str(self.port), *extra],
            log, env={"CERTVAULT_SECURITY_PASSWORD_MIN_LENGTH": "8", **self.env},
        )
        wait_until(self._healthy, 30, "certvault serve", self.proc, log)
        return self

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/api/v1/health", context=self.ssl_context(),
                                        timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return certvault_cli(self.data_dir, *args, env=self.env, check=check)

    def token(self, user: str = "admin") -> str:
        if user == "admin":
            self.replace_admin_password()
        return str(json.loads(self.cli("token", "create", "--user", user, "--json").stdout)["token"])

    def replace_admin_password(self, new: str = ADMIN_PASSWORD) -> None:
        """Replace the printed one-time password, as the operator does at the first login: until then the
        admin account (its tokens too) can do nothing but change it."""
        if self.admin_password in (None, new):
            return
        opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=self.ssl_context()),
                                             urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        login = _post_json(opener, self.url + "/api/v1/auth/login",
                           {"username": "admin", "password": self.admin_password})
        _post_json(opener, self.url + "/api/v1/users/me/password",
                   {"current_password": self.admin_password, "new_password": new},
                   {"X-CSRF-Token": login["csrf_token"]})
        self.admin_password = new

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)


def _post_json(opener: urllib.request.OpenerDirector, url: str, body: dict[str, str],
               headers: dict[str, str] | None = None) -> dict[str, str]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    with opener.open(request, timeout=10) as response:
        return dict(json.loads(response.read()))


def start_live_server(env: dict[str, str] | None = None, *extra: str) -> LiveServer:
    data_dir = Path(tempfile.mkdtemp(prefix="cv-live-"))
    return LiveServer(data_dir=data_dir, port=free_port(), env=env or {}).start(*extra)


def remove_live_server(server: LiveServer) -> None:
    server.stop()
    shutil.rmtree(server.data_dir, ignore_errors=True)
