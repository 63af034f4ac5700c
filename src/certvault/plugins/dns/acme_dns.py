"""acme-dns (github.com/joohoi/acme-dns): a small DNS server that holds only challenge records.

The user delegates once with `_acme-challenge.<domain> CNAME <fulldomain>`; certvault then updates
the account's subdomain with POST /update (X-Api-User / X-Api-Key). acme-dns keeps the two most
recent values of a subdomain (enough for a name and its wildcard) and has no delete call, so cleanup
leaves them: they live in acme-dns's own zone, never in the user's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, Field, field_validator

from certvault.errors import IntegrationError, InvalidInput
from certvault.plugins.protocols import HttpClientFactory, NameServer, Propagation, SecretResolver

MAX_ANSWER = 4096


class AcmeDnsOptions(BaseModel):
    server: str = Field(max_length=500, description="acme-dns API URL, e.g. https://auth.example.org")
    username: str | None = Field(default=None, max_length=100, description="the registration's username")
    subdomain: str | None = Field(default=None, max_length=100, pattern=r"^[A-Za-z0-9-]+$",
                                  description="the registration's subdomain")
    fulldomain: str | None = Field(default=None, max_length=255,
                                   description="where _acme-challenge names point (CNAME target)")
    propagation_timeout: float = Field(default=120.0, gt=0, le=3600)

    @field_validator("server")
    @classmethod
    def _server(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @field_validator("fulldomain")
    @classmethod
    def _fulldomain(cls, value: str | None) -> str | None:
        return value.lower().rstrip(".") if value else None


class AcmeDnsProvider:
    name: ClassVar[str] = "acme-dns"
    title: ClassVar[str] = "acme-dns (CNAME delegation)"
    secret_fields: ClassVar[tuple[str, ...]] = ("password",)
    required_secrets: ClassVar[tuple[str, ...]] = ()  # given, or made by --register
    Options = AcmeDnsOptions

    def __init__(self, options: AcmeDnsOptions, secrets: SecretResolver, http: HttpClientFactory | None = None) -> None:
        self.options = options
        self._password = secrets("password")
        self.validate_secrets(options, {"password": self._password})
        self._http = http

    @staticmethod
    def validate_secrets(options: AcmeDnsOptions, secrets: Mapping[str, str]) -> None:
        if not (options.username and options.subdomain and secrets.get("password")):
            raise InvalidInput("acme-dns: give --username, --password and --subdomain of a registration, "
                               "or --register to make one")

    @staticmethod
    def register(options: Mapping[str, Any], http: HttpClientFactory) -> tuple[dict[str, Any], dict[str, str]]:
        """POST /register: a new registration. Returns the options and secrets of the account to add."""
        server = AcmeDnsOptions(server=str(options.get("server", ""))).server
        with http(base_url=server) as client:
            answer = _json(_post(client, "/register", {}, "registering a new account"), "register")
        try:
            made = {"username": str(answer["username"]), "subdomain": str(answer["subdomain"]),
                    "fulldomain": str(answer["fulldomain"])}
            password = str(answer["password"])
        except KeyError as exc:
            raise IntegrationError(f"acme-dns at {server} answered /register without {exc.args[0]}") from None
        return {**options, **made}, {"password": password}

    # ---- protocol ------------------------------------------------------------------------------
    def check(self) -> str:
        """GET /health (changes nothing; acme-dns has no read call that proves the credentials)."""
        with self._client() as client:
            try:
                response = client.get("/health")
            except Exception as exc:  # noqa: BLE001 - the outbound client's errors name the peer
                raise IntegrationError(f"acme-dns at {self.options.server} could not be reached: {exc}") from None
        if response.status_code != 200:
            raise IntegrationError(f"acme-dns at {self.options.server} answered /health with {response.status_code}")
        return f"acme-dns at {self.options.server} is up; records go to {self._target()}"

    def zones(self) -> list[str]:
        """The one name this registration can edit (known when certvault registered it or was told)."""
        return [self.options.fulldomain] if self.options.fulldomain else []

    def present(self, fqdn: str, value: str) -> None:
        body = {"subdomain": self.options.subdomain, "txt": value}
        with self._client() as client:
            response = _post(client, "/update", body, f"updating the TXT record for {fqdn}", self._auth())
        if response.status_code == 401:
            raise IntegrationError(f"acme-dns at {self.options.server} refused the username or password")
        if response.status_code != 200:
            raise IntegrationError(f"acme-dns at {self.options.server} refused the update for {fqdn}: "
                                   f"{response.status_code} {_error(response)}")

    def cleanup(self, fqdn: str, value: str) -> None:
        """acme-dns has no delete: the value stays in its own zone until two newer ones replace it."""

    def propagation(self) -> Propagation:
        return Propagation(timeout=self.options.propagation_timeout, interval=2.0)

    def visibility_servers(self, fqdn: str) -> list[NameServer]:
        return []

    # ---- internals -----------------------------------------------------------------------------
    def _target(self) -> str:
        return self.options.fulldomain or f"{self.options.subdomain}.<acme-dns domain>"

    def _auth(self) -> dict[str, str]:
        return {"X-Api-User": self.options.username or "", "X-Api-Key": self._password}

    def _client(self) -> Any:
        if self._http is None:
            raise IntegrationError("acme-dns needs the outbound HTTP client")
        return self._http(base_url=self.options.server)


def _post(client: Any, path: str, body: dict[str, Any], doing: str, headers: dict[str, str] | None = None) -> Any:
    try:
        return client.post(path, json=body, headers=headers or {})
    except Exception as exc:  # noqa: BLE001 - the outbound client's errors name the peer and the reason
        raise IntegrationError(f"acme-dns could not be reached while {doing}: {exc}") from None


def _json(response: Any, what: str) -> dict[str, Any]:
    if response.status_code not in (200, 201):
        raise IntegrationError(f"acme-dns answered /{what} with {response.status_code} {_error(response)}")
    try:
        data = response.json()
    except ValueError:
        raise IntegrationError(f"acme-dns answered /{what} with something that is not JSON") from None
    if not isinstance(data, dict):
        raise IntegrationError(f"acme-dns answered /{what} with an unexpected shape")
    return data


def _error(response: Any) -> str:
    try:
        return str(response.json().get("error", ""))[:200]
    except (ValueError, AttributeError):
        return str(response.text)[:200]
