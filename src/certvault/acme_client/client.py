"""One ACME account talking to one CA: accounts, orders, challenges, finalization, ARI, revocation.

Built on `acme`'s JWS signing and nonce handling (ResilientNetwork); order resources are parsed
from JSON directly. Every call is short and returns; waiting between polls is the caller's job.
An instance is not shared between threads at the same time.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from typing import Any

import josepy as jose
import requests
from acme import client as acme_client
from acme import errors as acme_errors
from acme import messages
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from certvault.acme_client import keys as keyutil
from certvault.acme_client.network import ResilientNetwork, RetryPolicy, retry_after_seconds
from certvault.acme_client.problems import AcmeError, AcmeProblem, AcmeProtocolError
from certvault.acme_client.resources import (
    Account,
    Authorization,
    Challenge,
    DirectoryInfo,
    Identifier,
    Order,
    RenewalWindow,
    parse_time,
)
from certvault.errors import InvalidInput

ARI_DEFAULT_RETRY = 6 * 3600.0


@dataclass(frozen=True)
class ClientConfig:
    directory_url: str
    ca_bundle: str | None = None  # path of a PEM bundle that signs the CA's HTTPS certificate
    timeout: float = 30.0
    user_agent: str = "certvault"
    policy: RetryPolicy = field(default_factory=RetryPolicy)

    def verify(self) -> bool | str:
        """A given bundle wins; else REQUESTS_CA_BUNDLE or SSL_CERT_FILE; else the system default."""
        return self.ca_bundle or os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE") or True


class RawJSON(jose.JSONDeSerializable):
    """A JWS payload given as a plain dict (newOrder with `replaces`, finalize, status changes)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def to_partial_json(self) -> dict[str, Any]:
        return self.data

    @classmethod
    def from_json(cls, jobj: Any) -> RawJSON:
        return cls(dict(jobj))


def _problem_message(exc: Exception) -> str:
    return str(exc) if str(exc) else type(exc).__name__


class AcmeClient:
    def __init__(self, config: ClientConfig, account_key: PrivateKeyTypes, account_url: str | None = None) -> None:
        self.config = config
        self.key = account_key
        jwk, alg = keyutil.jwk_and_alg(account_key)
        self.thumbprint = keyutil.b64url(jwk.public_key().thumbprint())
        self.net = ResilientNetwork(jwk, alg=alg, verify=config.verify(), timeout=config.timeout,
                                    user_agent=config.user_agent, policy=config.policy,
                                    proxy_for=config.directory_url)
        self._directory: messages.Directory | None = None
        self._directory_json: dict[str, Any] = {}
        self._acme: acme_client.ClientV2 | None = None
        self.account_url = account_url
        if account_url:
            self.net.account = messages.RegistrationResource(uri=account_url, body=messages.Registration())

    # ---- directory -----------------------------------------------------------------------------
    @property
    def acme(self) -> acme_client.ClientV2:
        if self._acme is None:
            response = self.net.get(self.config.directory_url)
            try:
                self._directory_json = response.json()
                self._directory = messages.Directory.from_json(response.json())  # it mutates its input
            except (ValueError, jose.DeserializationError) as exc:
                raise AcmeProtocolError(f"{self.config.directory_url} is not an ACME directory ({exc})") from None
            if "newAccount" not in self._directory_json or "newOrder" not in self._directory_json:
                raise AcmeProtocolError(f"{self.config.directory_url} is not an ACME directory "
                                        "(no newAccount/newOrder)")
            self._acme = acme_client.ClientV2(self._directory, self.net)
        return self._acme

    def directory_info(self) -> DirectoryInfo:
        _ = self.acme
        meta = self._directory_json.get("meta") or {}
        profiles = meta.get("profiles") or {}
        return DirectoryInfo(
            url=self.config.directory_url, terms_of_service=meta.get("termsOfService"),
            external_account_required=bool(meta.get("externalAccountRequired")),
            profiles={str(k): str(v) for k, v in profiles.items()} if isinstance(profiles, dict) else {},
            renewal_info=self._directory_json.get("renewalInfo"), website=meta.get("website"))

    def _url(self, name: str) -> str:
        _ = self.acme
        url = self._directory_json.get(name)
        if not url:
            raise AcmeProtocolError(f"the CA's directory has no {name} endpoint")
        return str(url)

    def _post(self, url: str, payload: dict[str, Any] | None, **kwargs: Any) -> requests.Response:
        obj = RawJSON(payload) if payload is not None else None
        return self.net.post(url, obj, new_nonce_url=self._url("newNonce"), **kwargs)

    # ---- accounts ------------------------------------------------------------------------------
    def register(self, email: str | None, agree_tos: bool, eab_kid: str | None = None,
                 eab_hmac: str | None = None, eab_alg: str = "HS256") -> Account:
        info = self.directory_info()
        if not agree_tos:
            raise InvalidInput("you must agree to the CA's terms of service"
                               + (f" ({info.terms_of_service})" if info.terms_of_service else ""))
        if info.external_account_required and not (eab_kid and eab_hmac):
            raise InvalidInput("this CA requires External Account Binding: give --eab-kid and --eab-hmac")
        payload: dict[str, Any] = {"termsOfServiceAgreed": True}
        if email:
            payload["contact"] = [f"mailto:{email}"]
        if eab_kid and eab_hmac:
            payload["externalAccountBinding"] = self._eab(eab_kid, eab_hmac, eab_alg)
        self.net.account = None
        try:
            response = self._post(self._url("newAccount"), payload)
        except acme_errors.ConflictError as conflict:  # the key already has an account
            return self._adopt_url(conflict.location)
        location = response.headers.get("Location")
        if not location:
            raise AcmeProtocolError("the CA created the account but sent no account URL")
        return self._adopt_url(location, response.json())

    def _eab(self, kid: str, hmac_key: str, alg: str) -> dict[str, Any]:
        try:
            padded = hmac_key + "=" * (-len(hmac_key) % 4)
            base64.urlsafe_b64decode(padded)
        except (ValueError, TypeError):
            raise InvalidInput("the EAB HMAC key must be base64url text as the CA gave it") from None
        eab = messages.ExternalAccountBinding.from_data(
            account_public_key=self.net.key.public_key(), kid=kid, hmac_key=hmac_key,  # type: ignore[union-attr]
            directory=self.acme.directory, hmac_alg=alg)
        return dict(eab)

    def find_existing(self) -> Account:
        """Recover the account URL of this key (onlyReturnExisting)."""
        self.net.account = None
        try:
            response = self._post(self._url("newAccount"), {"onlyReturnExisting": True})
        except acme_errors.ConflictError as conflict:
            return self._adopt_url(conflict.location)
        location = response.headers.get("Location")
        if not location:
            raise AcmeProtocolError("the CA sent no account URL for this key")
        return self._adopt_url(location, response.json())

    def _adopt_url(self, url: str, body: dict[str, Any] | None = None) -> Account:
        self.account_url = url
        self.net.account = messages.RegistrationResource(uri=url, body=messages.Registration())
        return self._account(body) if body else self.fetch_account()

    def _account(self, body: dict[str, Any]) -> Account:
        assert self.account_url
        return Account(url=self.account_url, status=body.get("status", ""),
                       contact=tuple(body.get("contact") or ()), orders_url=body.get("orders"))

    def _require_account(self) -> str:
        if not self.account_url:
            raise InvalidInput("the ACME account has no URL yet; register or recover it first")
        return self.account_url

    def fetch_account(self) -> Account:
        return self._account(self._post(self._require_account(), None).json())

    def update_contact(self, email: str | None) -> Account:
        contact = [f"mailto:{email}"] if email else []
        return self._account(self._post(self._require_account(), {"contact": contact}).json())

    def deactivate(self) -> Account:
        return self._account(self._post(self._require_account(), {"status": "deactivated"}).json())

    # ---- orders --------------------------------------------------------------------------------
    def new_order(self, identifiers: list[Identifier], profile: str | None = None,
                  replaces: str | None = None) -> Order:
        payload: dict[str, Any] = {"identifiers": [i.to_json() for i in identifiers]}
        if profile:
            payload["profile"] = profile
        if replaces:
            payload["replaces"] = replaces
        try:
            response = self._post(self._url("newOrder"), payload)
        except (acme_errors.ConflictError, AcmeProblem) as exc:
            # alreadyReplaced (409 on newer CAs): order again without `replaces`.
            if replaces and (isinstance(exc, acme_errors.ConflictError) or exc.type == "alreadyReplaced"):
                return self.new_order(identifiers, profile, None)
            raise
        location = response.headers.get("Location")
        if not location:
            raise AcmeProtocolError("the CA created the order but sent no order URL")
        return Order.from_json(location, response.json())

    def get_order(self, url: str) -> Order:
        response = self._post(url, None)
        return Order.from_json(url, response.json(), retry_after_seconds(response.headers.get("Retry-After")))

    def list_orders(self, max_pages: int = 50) -> list[str]:
        """URLs of this account's orders, following `Link: rel=next` pages."""
        account = self.fetch_account()
        url, urls = account.orders_url, list[str]()
        for _ in range(max_pages):
            if not url:
                break
            response = self._post(url, None)
            urls.extend(response.json().get("orders") or [])
            url = next((link for link in self.acme._get_links(response, "next")), None)
        return urls

    def get_authorization(self, url: str) -> Authorization:
        return Authorization.from_json(url, self._post(url, None).json())

    def answer_challenge(self, url: str) -> Challenge:
        return Challenge.from_json(self._post(url, {}).json())

    def finalize(self, order: Order, csr_der: bytes) -> Order:
        response = self._post(order.finalize, {"csr": keyutil.b64url(csr_der)})
        return Order.from_json(order.url, response.json(), retry_after_seconds(response.headers.get("Retry-After")))

    def download(self, certificate_url: str) -> str:
        response = self._post(certificate_url, None, headers={
            "Content-Type": "application/jose+json", "Accept": "application/pem-certificate-chain"})
        text = response.content.decode("ascii", errors="replace")
        if "-----BEGIN CERTIFICATE-----" not in text:
            raise AcmeProtocolError("the CA's certificate download is not a PEM chain")
        return text

    def key_authorization(self, token: str) -> str:
        return keyutil.key_authorization(token, self.thumbprint)

    # ---- renewal information (RFC 9773) ----------------------------------------------------------
    def renewal_info(self, cert: x509.Certificate) -> RenewalWindow | None:
        """The CA's suggested renewal window, or None when the CA offers no ARI."""
        base = self.directory_info().renewal_info
        if not base:
            return None
        cert_id = keyutil.ari_cert_id(cert)
        response = self.net.get(f"{base.rstrip('/')}/{cert_id}")
        try:
            data = response.json()
            window = data["suggestedWindow"]
            start, end = parse_time(window["start"]), parse_time(window["end"])
        except (ValueError, KeyError, TypeError):
            raise AcmeProtocolError("the CA's renewal information is not valid JSON with a suggestedWindow") from None
        if start is None or end is None or end < start:
            raise AcmeProtocolError("the CA's renewal window is not a valid time range")
        retry = retry_after_seconds(response.headers.get("Retry-After"), ARI_DEFAULT_RETRY) or ARI_DEFAULT_RETRY
        return RenewalWindow(start=start, end=end, explanation_url=data.get("explanationURL"),
                             retry_after=min(max(retry, 60.0), 86400.0 * 7), cert_id=cert_id)

    # ---- revocation ----------------------------------------------------------------------------
    def revoke(self, cert: x509.Certificate, reason: int) -> None:
        """Revoke, signing with this client's key (the account's, or the certificate's own)."""
        from cryptography.hazmat.primitives.serialization import Encoding

        payload = {"certificate": keyutil.b64url(cert.public_bytes(Encoding.DER)), "reason": reason}
        self._post(self._url("revokeCert"), payload)


def revoke_with_certificate_key(config: ClientConfig, cert: x509.Certificate, cert_key: PrivateKeyTypes,
                                reason: int) -> None:
    """Revocation signed by the certificate's own key (JWS with `jwk`, no account needed)."""
    client = AcmeClient(config, cert_key)
    try:
        client.revoke(cert, reason)
    except AcmeError:
        raise
    except acme_errors.Error as exc:
        raise AcmeProtocolError(_problem_message(exc)) from None
