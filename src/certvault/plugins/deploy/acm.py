"""AWS Certificate Manager (boto3): import the certificate; later versions are re-imported into the same ARN, so
load balancers and CloudFront distributions that use it pick the new one up.

The ARN is the account's `certificate_arn` when set, else the certificate this target imported before, found by
its `certvault-certificate` tag.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from certvault.errors import IntegrationError, InvalidInput
from certvault.plugins.deploy.endpoints import same_serial
from certvault.plugins.protocols import (
    CertificateBundle,
    DeployFailed,
    DeployReceipt,
    HttpClientFactory,
    SecretResolver,
    VerificationFailed,
)

TAG = "certvault-certificate"


class AcmOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    region: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9-]+$", description="AWS region, e.g. eu-west-1")
    certificate_arn: str | None = Field(default=None, max_length=2048, description="re-import into this ARN")
    endpoint_url: str | None = Field(default=None, max_length=2048, description="another ACM endpoint (testing)")
    timeout: float = Field(default=30.0, gt=0, le=600)

    @field_validator("endpoint_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and (urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).hostname):
            raise ValueError("must be an http(s):// URL")
        return value


class AcmTarget:
    name: ClassVar[str] = "acm"
    title: ClassVar[str] = "AWS Certificate Manager"
    secret_fields: ClassVar[tuple[str, ...]] = ("access_key_id", "secret_access_key")
    required_secrets: ClassVar[tuple[str, ...]] = ()  # both, or neither (the host's AWS credentials)
    Options = AcmOptions

    def __init__(self, options: AcmOptions, secrets: SecretResolver, _http: HttpClientFactory | None = None) -> None:
        self.options = options
        self._secrets = secrets
        self.label = f"ACM in {options.region}"

    @staticmethod
    def validate_secrets(_options: AcmOptions, secrets: Mapping[str, str]) -> None:
        if bool(secrets.get("access_key_id")) != bool(secrets.get("secret_access_key")):
            raise InvalidInput("acm deploy target: give both --access-key-id and --secret-access-key, or neither")

    def _client(self) -> Any:
        import boto3
        from botocore.config import Config

        config = Config(connect_timeout=self.options.timeout, read_timeout=self.options.timeout,
                        retries={"max_attempts": 3, "mode": "standard"})
        keys = {"aws_access_key_id": self._secrets("access_key_id") or None,
                "aws_secret_access_key": self._secrets("secret_access_key") or None}
        return boto3.client("acm", region_name=self.options.region, endpoint_url=self.options.endpoint_url,
                            config=config, **keys)

    def _call(self, what: str, function: Any, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return function(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise IntegrationError(f"{self.label}: {what}: {error.get('Code', '?')} "
                                   f"{str(error.get('Message', ''))[:200]}") from None
        except BotoCoreError as exc:
            raise IntegrationError(f"{self.label}: {what}: {type(exc).__name__}") from None

    def _existing(self, client: Any, certificate_id: str) -> str | None:
        if self.options.certificate_arn:
            return self.options.certificate_arn
        if not certificate_id:
            return None
        pages = client.get_paginator("list_certificates").paginate()
        for page in self._call("listing certificates", lambda: list(pages)):
            for summary in page.get("CertificateSummaryList", []):
                arn = summary["CertificateArn"]
                tags = self._call("reading tags", client.list_tags_for_certificate, CertificateArn=arn)
                if any(t["Key"] == TAG and t.get("Value") == certificate_id for t in tags.get("Tags", [])):
                    return str(arn)
        return None

    # ---- protocol ------------------------------------------------------------------------------
    def check(self) -> str:
        client = self._client()
        found = self._call("listing certificates", client.list_certificates, MaxItems=1)
        count = len(found.get("CertificateSummaryList", []))
        return f"{self.label} answered ({count} certificate(s) on the first page)"

    def deploy(self, bundle: CertificateBundle) -> DeployReceipt:
        client = self._client()
        try:
            arn = self._existing(client, bundle.certificate_id)
            previous = self._serial(client, arn) if arn else ""
            request: dict[str, Any] = {"Certificate": bundle.cert_pem, "PrivateKey": bundle.key_pem}
            if bundle.chain_pem.strip():
                request["CertificateChain"] = bundle.chain_pem
            if arn:
                request["CertificateArn"] = arn
            elif bundle.certificate_id:
                request["Tags"] = [{"Key": TAG, "Value": bundle.certificate_id}]
            done = self._call("importing the certificate", client.import_certificate, **request)
            if arn and bundle.certificate_id:  # found by this tag next time (kept by ACM; moto drops it)
                self._call("tagging the certificate", client.add_tags_to_certificate, CertificateArn=arn,
                           Tags=[{"Key": TAG, "Value": bundle.certificate_id}])
        except IntegrationError as exc:
            raise DeployFailed(exc.message, rolled_back=False) from None
        return DeployReceipt(target=self.label, details={"arn": str(done["CertificateArn"]),
                                                         "created": "no" if arn else "yes",
                                                         "previous_serial": previous})

    def _serial(self, client: Any, arn: str) -> str:
        """The serial in hex: ACM writes it as colon-separated hex (moto as a decimal number)."""
        described = self._call("describing the certificate", client.describe_certificate, CertificateArn=arn)
        raw = str(described["Certificate"].get("Serial", ""))
        if ":" in raw:
            return raw.replace(":", "").lower().lstrip("0") or "0"
        return format(int(raw), "x") if raw.isdigit() else raw.lower()

    def arn_for(self, certificate_id: str) -> str | None:
        return self._existing(self._client(), certificate_id)

    def verify(self, bundle: CertificateBundle) -> None:
        client = self._client()
        arn = self._existing(client, bundle.certificate_id)
        if arn is None:
            raise VerificationFailed(f"{self.label}: the imported certificate is not there")
        served = self._serial(client, arn)
        if not same_serial(served, bundle.serial):
            raise VerificationFailed(f"{self.label}: {arn} holds serial {served}, not {bundle.serial}",
                                     served_serial=served)

    def rollback(self, receipt: DeployReceipt) -> None:
        arn = receipt.details.get("arn", "")
        if receipt.details.get("created") == "yes" and arn:
            client = self._client()
            self._call("deleting the imported certificate", client.delete_certificate, CertificateArn=arn)
            return
        raise IntegrationError(f"{self.label}: ACM keeps no private key to put back; deploy the previous version "
                               f"(serial {receipt.details.get('previous_serial') or '?'}) again")
