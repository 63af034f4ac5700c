"""A webhook: one JSON POST with the PEMs (and the key unless left out), signed with HMAC-SHA256, through the
shared outbound client (timeouts, retries, proxy, trust and the account's client certificate for mutual TLS).

Headers as for notification webhooks: X-Certvault-Event (certificate.deploy or certificate.rollback),
X-Certvault-Timestamp and X-Certvault-Signature: sha256=HEX(HMAC(secret, "<timestamp>.<body>")).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import ClassVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from certvault.errors import IntegrationError, InvalidInput
from certvault.plugins.deploy import endpoints
from certvault.plugins.protocols import (
    CertificateBundle,
    DeployFailed,
    DeployReceipt,
    HttpClientFactory,
    SecretResolver,
)
from certvault.plugins.signed_post import HttpsUrl, post_signed


class WebhookDeployOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: HttpsUrl = Field(max_length=2048, description="https:// URL that receives the certificate")
    ca_file: str | None = Field(default=None, description="PEM file of the CA that signed the receiver's certificate")
    include_key: bool = Field(default=True, description="send the private key (key_pem)")
    timeout: float = Field(default=30.0, gt=0, le=600)
    verify: list[str] = Field(default_factory=list, description="HOST:PORT or HOST:PORT/SNI that must serve it")
    verify_timeout: float = Field(default=60.0, gt=0, le=600)

    @field_validator("verify")
    @classmethod
    def _verify(cls, values: list[str]) -> list[str]:
        return endpoints.check_list(values[:50])


class WebhookTarget:
    name: ClassVar[str] = "webhook"
    title: ClassVar[str] = "Webhook (JSON with the PEMs, HMAC-signed)"
    secret_fields: ClassVar[tuple[str, ...]] = ("signing_secret",)
    Options = WebhookDeployOptions

    def __init__(self, options: WebhookDeployOptions, secrets: SecretResolver,
                 http: HttpClientFactory | None = None) -> None:
        self.options = options
        self._secrets = secrets
        self._http = http
        self.label = f"webhook {urlsplit(options.url).hostname}"

    @staticmethod
    def validate_secrets(_options: WebhookDeployOptions, secrets: Mapping[str, str]) -> None:
        if len(secrets.get("signing_secret", "")) < 16:
            raise InvalidInput("webhook deploy target: the signing secret must be at least 16 characters")

    def _post(self, event: str, document: dict[str, object]) -> int:
        body = json.dumps({"event": event, **document}, separators=(",", ":")).encode()
        return post_signed(self._http, self.options.url, event, body, secret=self._secrets("signing_secret"),
                           label=self.label, timeout=self.options.timeout, ca_file=self.options.ca_file,
                           user_agent="certvault-deploy")

    def check(self) -> str:
        status = self._post("certificate.test", {})
        return f"{self.label} accepted a signed test call (HTTP {status})"

    def deploy(self, bundle: CertificateBundle) -> DeployReceipt:
        document: dict[str, object] = {
            "certificate": bundle.certificate_id, "names": list(bundle.names), "serial": bundle.serial,
            "cert_pem": bundle.cert_pem.decode(), "chain_pem": bundle.chain_pem.decode(),
            "fullchain_pem": bundle.fullchain_pem.decode()}
        if self.options.include_key:
            document["key_pem"] = bundle.key_pem.decode()
        try:
            status = self._post("certificate.deploy", document)
        except IntegrationError as exc:
            raise DeployFailed(exc.message, rolled_back=False) from None
        return DeployReceipt(target=self.label, details={"serial": bundle.serial, "status": str(status),
                                                         "certificate": bundle.certificate_id})

    def verify(self, bundle: CertificateBundle) -> None:
        endpoints.verify_until(bundle, self.options.verify, self.options.verify_timeout)

    def rollback(self, receipt: DeployReceipt) -> None:
        self._post("certificate.rollback", {"certificate": receipt.details.get("certificate", ""),
                                            "serial": receipt.details.get("serial", "")})
