"""The certvault agent on the end server itself (Linux or Windows): deploy, verify, roll back and http-01 as
jobs the agent leases over mutual TLS.

certvault plans the files (plugins/deploy/files.py: PEMs, combined PEM, PKCS#12 or JKS) and sends them
sealed in the job; the agent backs up what each replaces (once per serial), writes them atomically, runs
the test and reload commands and restores everything when one fails. On Windows, `iis_site` makes the
agent import a PFX into Cert:\\LocalMachine\\My and bind it to the site through PowerShell. Verification
is certvault's own TLS connection to each `verify` endpoint, as for SSH.

The jobs reach the agent through an AgentJobs channel (plugins/protocols.py) that the application binds
to this class when it starts (agents/channel.py), so the plugin stays a leaf.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, model_validator

from certvault.errors import IntegrationError
from certvault.plugins.deploy import endpoints
from certvault.plugins.deploy.files import PATH_FIELDS, FileTargetOptions, check_keystore_password, plan
from certvault.plugins.protocols import (
    AgentJobs,
    CertificateBundle,
    DeployFailed,
    DeployReceipt,
    HttpClientFactory,
    SecretResolver,
)


class AgentOptions(FileTargetOptions):
    agent: str = Field(min_length=1, max_length=64, description="the enrolled agent's name")
    iis_site: str | None = Field(default=None, max_length=200, description="Windows: bind to this IIS site "
                                                                           "(PFX imported into LocalMachine\\My)")
    iis_port: int = Field(default=443, ge=1, le=65535, description="Windows: the IIS https binding's port")
    iis_host: str = Field(default="", max_length=253, description="Windows: the binding's host name (SNI)")
    timeout: float = Field(default=300.0, gt=0, le=3600, description="seconds to wait for the agent's result")

    @model_validator(mode="after")
    def _something_to_write(self) -> AgentOptions:  # replaces the file targets' rule: IIS needs no path
        if not self.iis_site and not any(self.setting(f) for f in PATH_FIELDS):
            raise ValueError("give --iis-site or at least one of --cert-path, --key-path, --chain-path, "
                             "--fullchain-path (or a --preset)")
        return self


class AgentTarget:
    name: ClassVar[str] = "agent"
    title: ClassVar[str] = "certvault agent"
    secret_fields: ClassVar[tuple[str, ...]] = ("keystore_password",)
    required_secrets: ClassVar[tuple[str, ...]] = ()
    Options = AgentOptions
    jobs: ClassVar[AgentJobs | None] = None  # bound by the application (agents/channel.py)

    def __init__(self, options: AgentOptions, secrets: SecretResolver, http: HttpClientFactory | None = None) -> None:
        self.options = options
        self._secrets = secrets
        self.label = f"agent {options.agent}"

    @staticmethod
    def validate_secrets(options: AgentOptions, secrets: Mapping[str, str]) -> None:
        check_keystore_password(options, secrets.get("keystore_password", ""))

    def _channel(self) -> AgentJobs:
        if self.jobs is None:
            raise IntegrationError(f"{self.label}: agent jobs are not available in this process")
        return self.jobs

    def _run(self, kind: str, payload: Mapping[str, Any], secret: bytes | None = None,
             dedup_key: str | None = None) -> Mapping[str, Any]:
        return self._channel().run(self.options.agent, kind, payload, secret=secret, timeout=self.options.timeout,
                                   dedup_key=dedup_key)

    def check(self) -> str:
        return self._channel().describe(self.options.agent)

    def _commands(self) -> dict[str, Any]:
        return {"test_command": self.options.setting("test_command"),
                "reload_command": self.options.setting("reload_command")}

    def deploy(self, bundle: CertificateBundle) -> DeployReceipt:
        if self.options.iis_site:
            secret: dict[str, Any] = {"cert_pem": bundle.cert_pem.decode(), "chain_pem": bundle.chain_pem.decode(),
                                      "key_pem": bundle.key_pem.decode()}
            payload: dict[str, Any] = {"serial": bundle.serial, "iis_site": self.options.iis_site,
                                       "iis_port": self.options.iis_port, "iis_host": self.options.iis_host}
        else:
            files = plan(self.options, bundle, self._secrets("keystore_password"))
            secret = {"files": [{"path": f.path, "content": base64.b64encode(f.content).decode()} for f in files]}
            payload = {"serial": bundle.serial, "mode": self.options.mode, "owner": self.options.owner,
                       **self._commands()}
        try:
            result = self._run("deploy", payload, json.dumps(secret).encode(), dedup_key=f"deploy:{bundle.serial}")
        except IntegrationError as exc:
            raise DeployFailed(exc.message, rolled_back="restored" in exc.message) from None
        receipt = {str(k): str(v) for k, v in dict(result.get("receipt") or {}).items()}
        if result.get("thumbprint"):
            receipt["thumbprint"] = str(result["thumbprint"])
        return DeployReceipt(target=self.label, details=receipt)

    def verify(self, bundle: CertificateBundle) -> None:
        if self.options.verify:
            endpoints.verify_until(bundle, self.options.verify, self.options.verify_timeout)

    def rollback(self, receipt: DeployReceipt) -> None:
        if self.options.iis_site:
            raise IntegrationError(f"{self.label}: IIS bindings are not rolled back automatically; bind the "
                                   "previous certificate in IIS Manager")
        self._run("rollback", {"receipt": dict(receipt.details), **self._commands()})

    # ---- http-01 -------------------------------------------------------------------------------
    def answers_http01(self) -> bool:
        return bool(self.options.webroot)

    def place_http01(self, token: str, key_authorization: str) -> None:
        self._run("http01.place", {"webroot": self._webroot(), "token": token, "key_authorization": key_authorization},
                  dedup_key=f"http01.place:{token}")

    def remove_http01(self, token: str) -> None:
        self._run("http01.remove", {"webroot": self._webroot(), "token": token}, dedup_key=f"http01.remove:{token}")

    def _webroot(self) -> str:
        if not self.options.webroot:
            raise IntegrationError(f"{self.label}: no webroot is set")
        return self.options.webroot
