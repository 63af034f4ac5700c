"""A directory on the certvault host: the same files, backups, test and reload commands as over SSH."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from certvault.errors import IntegrationError
from certvault.plugins.deploy import endpoints, install
from certvault.plugins.deploy.files import FileTargetOptions, check_keystore_password
from certvault.plugins.deploy.install import broke_off as _broke_off
from certvault.plugins.protocols import (
    CertificateBundle,
    DeployFailed,
    DeployReceipt,
    HttpClientFactory,
    SecretResolver,
)

OUTPUT_TAIL = 400


class LocalOptions(FileTargetOptions):
    timeout: float = Field(default=60.0, gt=0, le=600, description="seconds for each command")


class LocalTransport:
    def __init__(self, timeout: float) -> None:
        self.label = "local"
        self._timeout = timeout

    async def exists(self, path: str) -> bool:
        return os.path.lexists(path)

    async def write(self, path: str, content: bytes, mode: int) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        os.chmod(path, mode)

    async def rename(self, source: str, target: str) -> None:
        os.replace(source, target)

    async def remove(self, path: str) -> None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    async def makedirs(self, path: str) -> None:
        os.makedirs(path, mode=0o755, exist_ok=True)

    async def run(self, command: str) -> tuple[int, str]:
        def call() -> tuple[int, str]:
            try:
                done = subprocess.run(command, shell=True, capture_output=True, timeout=self._timeout,  # noqa: S602
                                      check=False)
            except subprocess.TimeoutExpired:
                return 124, f"timed out after {self._timeout:g} s"
            output = (done.stdout + done.stderr).decode(errors="replace").strip()
            return done.returncode, output[-OUTPUT_TAIL:]
        return await asyncio.to_thread(call)


class LocalTarget:
    name: ClassVar[str] = "local"
    title: ClassVar[str] = "Directory on the certvault host"
    secret_fields: ClassVar[tuple[str, ...]] = ("keystore_password",)
    required_secrets: ClassVar[tuple[str, ...]] = ()
    Options = LocalOptions

    def __init__(self, options: LocalOptions, secrets: SecretResolver, _http: HttpClientFactory | None = None) -> None:
        self.options = options
        self._secrets = secrets

    @staticmethod
    def validate_secrets(options: LocalOptions, secrets: Mapping[str, str]) -> None:
        check_keystore_password(options, secrets.get("keystore_password", ""))

    def _run(self, work: Any) -> Any:
        return asyncio.run(work(LocalTransport(self.options.timeout)))

    def check(self) -> str:
        paths = [p for p in (self.options.setting(f) for f in ("cert_path", "key_path", "chain_path",
                                                              "fullchain_path", "combined_path", "keystore_path")) if p]
        missing = sorted({os.path.dirname(p) for p in paths if not os.path.isdir(os.path.dirname(p))})
        writable = all(os.access(os.path.dirname(p), os.W_OK) for p in paths if os.path.isdir(os.path.dirname(p)))
        return (f"local: {len(paths)} path(s); " + (f"directories to create: {', '.join(missing)}; " if missing else "")
                + ("writable" if writable else "NOT writable by certvault"))

    def deploy(self, bundle: CertificateBundle) -> DeployReceipt:
        password = self._secrets("keystore_password")
        try:
            return self._run(lambda t: install.install(t, "local", self.options, bundle, password))  # type: ignore[no-any-return]
        except DeployFailed:
            raise
        except (IntegrationError, OSError) as exc:
            raise _broke_off(f"local: {getattr(exc, 'message', None) or exc}", lambda: self._run(
                lambda t: install.undo(t, self.options, bundle, password))) from None

    def verify(self, bundle: CertificateBundle) -> None:
        endpoints.verify_until(bundle, self.options.verify, self.options.verify_timeout)

    def rollback(self, receipt: DeployReceipt) -> None:
        self._run(lambda t: install.restore(t, self.options, receipt))

    def answers_http01(self) -> bool:
        return bool(self.options.webroot)

    def place_http01(self, token: str, key_authorization: str) -> None:
        webroot = self.options.webroot or ""
        self._run(lambda t: install.place_challenge(t, webroot, token, key_authorization))

    def remove_http01(self, token: str) -> None:
        webroot = self.options.webroot or ""
        self._run(lambda t: install.remove_challenge(t, webroot, token))
