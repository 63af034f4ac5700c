"""An administrator's own commands publish and remove the TXT record (for DNS services without an API
certvault knows). Each command runs without a shell: its words are split once when the account is
saved, and the record name and value are appended as two separate arguments, so no value can reach a
shell. Only administrators may add or change a hook account (`admin_only`); every change is audited."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from typing import ClassVar

from pydantic import BaseModel, Field, field_validator

from certvault.errors import IntegrationError
from certvault.plugins.protocols import HttpClientFactory, NameServer, Propagation, SecretResolver

OUTPUT_SHOWN = 300  # characters of a failing command's stderr in the error


class HookOptions(BaseModel):
    present: str = Field(min_length=1, max_length=2000,
                         description="command run as: CMD RECORD_NAME VALUE (adds the TXT value)")
    cleanup: str = Field(min_length=1, max_length=2000,
                         description="command run as: CMD RECORD_NAME VALUE (removes that value)")
    timeout: float = Field(default=60.0, gt=0, le=3600, description="seconds each run may take")
    zones: list[str] = Field(default_factory=list, max_length=500,
                             description="zones the commands serve (for the automatic account choice)")
    propagation_timeout: float = Field(default=120.0, gt=0, le=3600)

    @field_validator("present", "cleanup")
    @classmethod
    def _command(cls, value: str) -> str:
        try:
            words = shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"cannot split the command ({exc})") from None
        if not words:
            raise ValueError("empty command")
        if not os.path.isabs(words[0]) and shutil.which(words[0]) is None:
            raise ValueError(f"{words[0]} is not an absolute path or a program on PATH")
        return value

    @field_validator("zones")
    @classmethod
    def _zones(cls, values: list[str]) -> list[str]:
        return [v.strip().lower().rstrip(".") for v in values if v.strip()]


class HookProvider:
    name: ClassVar[str] = "hook"
    title: ClassVar[str] = "Hook (your own commands)"
    secret_fields: ClassVar[tuple[str, ...]] = ()
    admin_only: ClassVar[bool] = True
    Options = HookOptions

    def __init__(self, options: HookOptions, _secrets: SecretResolver, _http: HttpClientFactory | None = None) -> None:
        self.options = options

    def check(self) -> str:
        """Both programs exist and are executable (running them would change records)."""
        for which in ("present", "cleanup"):
            program = shlex.split(getattr(self.options, which))[0]
            path = program if os.path.isabs(program) else shutil.which(program)
            if not path or not os.access(path, os.X_OK):
                raise IntegrationError(f"hook: the {which} command {program} is missing or not executable")
        return f"hook: present and cleanup commands are executable (timeout {self.options.timeout:g} s)"

    def zones(self) -> list[str]:
        return list(self.options.zones)

    def present(self, fqdn: str, value: str) -> None:
        self._run("present", fqdn, value)

    def cleanup(self, fqdn: str, value: str) -> None:
        self._run("cleanup", fqdn, value)

    def propagation(self) -> Propagation:
        return Propagation(timeout=self.options.propagation_timeout, interval=2.0)

    def visibility_servers(self, fqdn: str) -> list[NameServer]:
        return []

    def _run(self, which: str, fqdn: str, value: str) -> None:
        argv = [*shlex.split(getattr(self.options, which)), fqdn.rstrip("."), value]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
               "CERTVAULT_RECORD_NAME": fqdn.rstrip("."), "CERTVAULT_RECORD_VALUE": value}
        try:
            done = subprocess.run(argv, capture_output=True, timeout=self.options.timeout, env=env,  # noqa: S603
                                  stdin=subprocess.DEVNULL, check=False)
        except subprocess.TimeoutExpired:
            raise IntegrationError(f"hook: the {which} command for {fqdn} did not finish within "
                                   f"{self.options.timeout:g} s and was stopped") from None
        except OSError as exc:
            raise IntegrationError(f"hook: the {which} command could not start ({exc.strerror or exc})") from None
        if done.returncode != 0:
            said = done.stderr.decode(errors="replace").strip()[-OUTPUT_SHOWN:]
            raise IntegrationError(f"hook: the {which} command for {fqdn} exited with {done.returncode}"
                                   + (f": {said}" if said else ""))
