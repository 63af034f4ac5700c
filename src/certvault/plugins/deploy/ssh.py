"""Linux over SSH (asyncssh): files by SFTP to a temporary name then renamed, commands over the same connection.

The server's host key is pinned, from a known_hosts line or a SHA256 fingerprint; there is no way to turn the
check off. The key or password comes from the vault. An optional jump host is reached with the same credentials
and pinned the same way.
"""

from __future__ import annotations

import asyncio
import re
import shlex
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from certvault.errors import IntegrationError, InvalidInput
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


def _known_host_key(line: str) -> Any:
    """The public key of a known_hosts line ("[host]:port ssh-ed25519 AAAA... comment") or "ssh-ed25519 AAAA..."."""
    import asyncssh

    fields = line.split()
    for start in range(min(2, len(fields))):
        try:
            return asyncssh.import_public_key(" ".join(fields[start:start + 2]))
        except (asyncssh.KeyImportError, ValueError):
            continue
    raise ValueError("not a known_hosts line (HOST KEYTYPE BASE64) or KEYTYPE BASE64")


def private_key_text(text: str) -> str:
    """The key as PEM lines again when a one-line form field lost its line breaks (or turned them into spaces)."""
    found = re.fullmatch(r"\s*(-----BEGIN [A-Z0-9 ]+-----)(.*?)(-----END [A-Z0-9 ]+-----)\s*", text, re.S)
    if found is None:
        return text
    body = re.sub(r"\s+", "", found.group(2))
    return "\n".join([found.group(1), *(body[i:i + 64] for i in range(0, len(body), 64)), found.group(3)]) + "\n"


def _fingerprint(value: str) -> str:
    value = value.strip()
    if not value.startswith("SHA256:") or len(value) < 20 or len(value) > 80:
        raise ValueError("must be SHA256:<base64>, as ssh-keygen -l prints it")
    return value


class SshOptions(FileTargetOptions):
    host: str = Field(min_length=1, max_length=255, description="the server")
    port: int = Field(default=22, ge=1, le=65535)
    user: str = Field(min_length=1, max_length=64, description="the login name")
    known_host: str | None = Field(default=None, max_length=4096, description="the server's known_hosts line")
    host_key_fingerprint: str | None = Field(default=None, description="SHA256:... of the server's host key")
    jump_host: str | None = Field(default=None, max_length=300,
                                  description="HOST, USER@HOST or USER@HOST:PORT to connect through")
    jump_known_host: str | None = Field(default=None, max_length=4096, description="the jump host's known_hosts line")
    jump_host_key_fingerprint: str | None = Field(default=None, description="SHA256:... of the jump host's key")
    timeout: float = Field(default=30.0, gt=0, le=600, description="seconds for connecting and for each command")

    @field_validator("known_host", "jump_known_host")
    @classmethod
    def _line(cls, value: str | None) -> str | None:
        if value is not None:
            _known_host_key(value)
        return value

    @field_validator("host_key_fingerprint", "jump_host_key_fingerprint")
    @classmethod
    def _fp(cls, value: str | None) -> str | None:
        return None if value is None else _fingerprint(value)

    @model_validator(mode="after")
    def _pinned(self) -> SshOptions:
        if bool(self.known_host) == bool(self.host_key_fingerprint):
            raise ValueError("pin the host key with exactly one of --known-host or --host-key-fingerprint")
        if self.jump_host and bool(self.jump_known_host) == bool(self.jump_host_key_fingerprint):
            raise ValueError("pin the jump host's key with --jump-known-host or --jump-host-key-fingerprint")
        return self


def _pins(line: str | None, fingerprint: str | None) -> tuple[Any, type[Any]]:
    """(known_hosts for asyncssh, client class): a trusted key, or none trusted and the fingerprint checked."""
    import asyncssh

    class Pinned(asyncssh.SSHClient):
        def validate_host_public_key(self, host: str, addr: str, port: int, key: Any) -> bool:
            return bool(fingerprint) and key.get_fingerprint("sha256") == fingerprint

    trusted = [_known_host_key(line)] if line else []
    return (trusted, [], []), Pinned


class SshTransport:
    def __init__(self, conn: Any, sftp: Any, label: str, timeout: float) -> None:
        self._conn, self._sftp, self.label, self._timeout = conn, sftp, label, timeout

    async def exists(self, path: str) -> bool:
        return bool(await self._sftp.exists(path))

    async def write(self, path: str, content: bytes, mode: int) -> None:
        import asyncssh

        async with self._sftp.open(path, "wb", attrs=asyncssh.SFTPAttrs(permissions=mode)) as fh:
            await fh.write(content)
        await self._sftp.chmod(path, mode)

    async def rename(self, source: str, target: str) -> None:
        await self._sftp.posix_rename(source, target)

    async def remove(self, path: str) -> None:
        await self._must(f"rm -f -- {shlex.quote(path)}", "removing a file")

    async def makedirs(self, path: str) -> None:
        await self._sftp.makedirs(path, exist_ok=True)

    async def run(self, command: str) -> tuple[int, str]:
        import asyncssh

        try:
            result = await self._conn.run(command, check=False, timeout=self._timeout)
        except asyncssh.TimeoutError:
            return 124, f"timed out after {self._timeout:g} s"
        output = (str(result.stdout or "") + str(result.stderr or "")).strip()
        return int(result.exit_status if result.exit_status is not None else 255), output[-OUTPUT_TAIL:]

    async def _must(self, command: str, what: str) -> None:
        status, output = await self.run(command)
        if status != 0:
            raise IntegrationError(f"{self.label}: {what} failed (exit {status}): {output}")


def _split_jump(value: str, default_user: str) -> tuple[str, str, int]:
    user, _, rest = value.rpartition("@")
    host, _, port = rest.partition(":") if not rest.startswith("[") else (rest[1:rest.index("]")], "",
                                                                           rest[rest.index("]") + 2:])
    return user or default_user, host, int(port or 22)


class SshTarget:
    name: ClassVar[str] = "ssh"
    title: ClassVar[str] = "Linux server over SSH"
    secret_fields: ClassVar[tuple[str, ...]] = ("private_key", "password", "keystore_password")
    required_secrets: ClassVar[tuple[str, ...]] = ()
    file_secrets: ClassVar[tuple[str, ...]] = ("private_key",)  # the CLI reads --private-key FILE
    Options = SshOptions

    def __init__(self, options: SshOptions, secrets: SecretResolver, _http: HttpClientFactory | None = None) -> None:
        self.options = options
        self._secrets = secrets
        self.label = f"ssh {options.user}@{options.host}:{options.port}"

    @staticmethod
    def validate_secrets(options: SshOptions, secrets: Mapping[str, str]) -> None:
        import asyncssh

        if not secrets.get("private_key") and not secrets.get("password"):
            raise InvalidInput("ssh deploy target: give --private-key FILE or --password")
        if secrets.get("private_key"):
            try:
                asyncssh.import_private_key(private_key_text(secrets["private_key"]))
            except (asyncssh.KeyImportError, ValueError):
                raise InvalidInput("ssh deploy target: --private-key is not an unencrypted private key "
                                   "(OpenSSH or PEM)") from None
        check_keystore_password(options, secrets.get("keystore_password", ""))

    # ---- connection ----------------------------------------------------------------------------
    def _credentials(self) -> dict[str, Any]:
        import asyncssh

        key = self._secrets("private_key")
        if key:
            return {"client_keys": [asyncssh.import_private_key(private_key_text(key))],
                    "password": self._secrets("password") or None}
        return {"client_keys": None, "password": self._secrets("password")}

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[SshTransport]:
        import asyncssh

        o = self.options
        known, client = _pins(o.known_host, o.host_key_fingerprint)
        common = {"connect_timeout": o.timeout, "agent_path": None, "known_hosts": known, "client_factory": client,
                  **self._credentials()}
        try:
            tunnel = None
            if o.jump_host:
                user, host, port = _split_jump(o.jump_host, o.user)
                jump_known, jump_client = _pins(o.jump_known_host, o.jump_host_key_fingerprint)
                tunnel = await asyncssh.connect(host, port, username=user, **{
                    **common, "known_hosts": jump_known, "client_factory": jump_client})
            try:
                async with asyncssh.connect(o.host, o.port, username=o.user, tunnel=tunnel, **common) as conn:
                    async with conn.start_sftp_client() as sftp:
                        yield SshTransport(conn, sftp, self.label, o.timeout)
            finally:
                if tunnel is not None:
                    tunnel.close()
        except asyncssh.HostKeyNotVerifiable:
            raise IntegrationError(f"{self.label}: the server's host key does not match the pinned one; "
                                   "refusing to connect") from None
        except asyncssh.PermissionDenied:
            raise IntegrationError(f"{self.label}: authentication refused") from None
        except (TimeoutError, asyncssh.Error, OSError) as exc:
            reason = getattr(exc, "reason", "") or getattr(exc, "strerror", "") or type(exc).__name__
            raise IntegrationError(f"{self.label}: {reason}") from None

    def _run(self, work: Any) -> Any:
        async def go() -> Any:
            async with self._session() as t:
                return await work(t)
        return asyncio.run(go())

    # ---- protocol ------------------------------------------------------------------------------
    def check(self) -> str:
        async def probe(t: SshTransport) -> str:
            status, output = await t.run("id -un")
            return f"{self.label}: logged in as {output or '?'} (exit {status}), host key pinned"
        return str(self._run(probe))

    def deploy(self, bundle: CertificateBundle) -> DeployReceipt:
        password = self._secrets("keystore_password")

        async def work(t: SshTransport) -> DeployReceipt:
            return await install.install(t, self.label, self.options, bundle, password)
        try:
            return self._run(work)  # type: ignore[no-any-return]
        except DeployFailed:
            raise
        except IntegrationError as exc:
            raise _broke_off(exc.message, lambda: self._run(
                lambda t: install.undo(t, self.options, bundle, password))) from None

    def verify(self, bundle: CertificateBundle) -> None:
        endpoints.verify_until(bundle, self.options.verify, self.options.verify_timeout)

    def rollback(self, receipt: DeployReceipt) -> None:
        async def work(t: SshTransport) -> str:
            return await install.restore(t, self.options, receipt)
        self._run(work)

    # ---- http-01 -------------------------------------------------------------------------------
    def answers_http01(self) -> bool:
        return bool(self.options.webroot)

    def place_http01(self, token: str, key_authorization: str) -> None:
        webroot = self._webroot()
        self._run(lambda t: install.place_challenge(t, webroot, token, key_authorization))

    def remove_http01(self, token: str) -> None:
        webroot = self._webroot()
        self._run(lambda t: install.remove_challenge(t, webroot, token))

    def _webroot(self) -> str:
        if not self.options.webroot:
            raise IntegrationError(f"{self.label}: no webroot is set")
        return self.options.webroot
