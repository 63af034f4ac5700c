"""What the help-desk plugins share: the base-URL option, one kept-alive client per plugin, calls whose
failures name the help desk (never a secret), status-name matching and batching.

The client comes from the `http` factory the registry hands in (trust, mutual TLS, retries honouring
Retry-After, pacing, size cap); a plugin never builds its own. It is made on first use and kept, so a
sync of thousands of tickets reuses one TLS connection; `close()` ends it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from certvault.errors import IntegrationError, InvalidInput
from certvault.plugins.protocols import TICKET_STATES, HttpClientFactory, RemoteTicket, SecretResolver

BATCH = 100  # tickets per batched status read
MAX_KEY = 200
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:@._/+-]*$")


class HelpDeskOptions(BaseModel):
    """`url` is the help desk's base URL as its administrators know it; the plugin adds the API path."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="the help desk's base URL as its administrators know it (https://...)")

    @field_validator("url")
    @classmethod
    def _https(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError("must be an https:// URL with a host, e.g. https://example.service-now.com")
        if parts.query or parts.fragment:
            raise ValueError("must not carry a query or fragment")
        return value.strip().rstrip("/")


def normalise(name: str) -> str:
    """Status names compared case-insensitively, ignoring spaces, hyphens and underscores."""
    return re.sub(r"[\s_-]+", "", name).lower()


class MappedStatusOptions(HelpDeskOptions):
    """A help desk whose status names an administrator may rename: `status_map` maps more of them."""

    status_map: dict[str, str] = Field(default_factory=dict, description=(
        "more status names: NAME=open|in_progress|on_hold|resolved|canceled|closed"))

    @field_validator("status_map")
    @classmethod
    def _states(cls, value: dict[str, str]) -> dict[str, str]:
        state_map({}, value)
        return value


def state_map(defaults: Mapping[str, str], overrides: Mapping[str, str]) -> dict[str, str]:
    """Help-desk status name -> TICKET_STATES entry, the account's overrides winning."""
    for name, state in overrides.items():
        if state not in TICKET_STATES:
            raise ValueError(f"status {name!r} maps to {state!r}; choose one of {', '.join(TICKET_STATES)}")
    return {normalise(k): v for k, v in {**defaults, **overrides}.items()}


def check_key(key: str) -> str:
    """Correlation keys travel inside queries (encoded query, JQL, search criteria): a plain alphabet only."""
    if not key or len(key) > MAX_KEY or not _KEY.match(key):
        raise InvalidInput(f"correlation key {key[:60]!r} must be 1-{MAX_KEY} characters of letters, digits and "
                           ":@._/+- (starting with a letter or digit)")
    return key


def batches(numbers: list[str], size: int = BATCH) -> Iterator[list[str]]:
    unique = list(dict.fromkeys(n for n in numbers if n))
    for start in range(0, len(unique), size):
        yield unique[start:start + size]


def first_open(tickets: list[RemoteTicket]) -> RemoteTicket | None:
    """Of the tickets carrying one key (newest first), one not Closed/Canceled when there is one: after a
    final ticket certvault opens a new one with the same key, and that is the one to track."""
    live = [t for t in tickets if t.state not in ("closed", "canceled")]
    ranked = live or tickets
    return ranked[0] if ranked else None


def short(text: str, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[:limit - 1] + "…"


class HelpDeskPlugin:
    """Base of the three help-desk plugins (not registered itself)."""

    name: ClassVar[str]
    title: ClassVar[str]
    secret_fields: ClassVar[tuple[str, ...]]

    def __init__(self, options: Any, secrets: SecretResolver, http: HttpClientFactory | None = None) -> None:
        self.options = options
        self._secrets = secrets
        self._http = http
        self._client: httpx.Client | None = None
        self.host = urlsplit(options.url).netloc

    # ---- the connection -----------------------------------------------------------------------
    def client_headers(self) -> dict[str, str]:
        return {"Accept": "application/json"}

    def client_auth(self) -> Any:
        return None

    def session(self) -> httpx.Client:
        if self._client is None:
            if self._http is None:
                raise IntegrationError(f"{self.title} plugin built without the outbound HTTPS client")
            self._client = self._http(base_url=self.options.url, headers=self.client_headers(),
                                      auth=self.client_auth())
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def send(self, method: str, path: str, what: str, **kwargs: Any) -> httpx.Response:
        """One call; a transport failure or exhausted retries become IntegrationError naming `what`."""
        try:
            response = self.session().request(method, path, **kwargs)
            response.read()
        except IntegrationError as exc:
            error = IntegrationError(f"{self.title} at {self.host}: {what} failed: {exc.message}")
            error.details.update(exc.details)  # status, retry_after: for a delayed retry
            raise error from None
        except httpx.HTTPError as exc:
            raise IntegrationError(f"{self.title} at {self.host}: {what} failed: {type(exc).__name__}") from None
        return response

    def refuse(self, response: httpx.Response, what: str, detail: str) -> IntegrationError:
        status = response.status_code
        hint = " (check the credentials)" if status == 401 else ""
        return IntegrationError(f"{self.title} at {self.host} answered HTTP {status} to {what}{hint}: "
                                f"{short(detail) or 'no detail'}", status=status)

    def json(self, response: httpx.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise IntegrationError(f"{self.title} at {self.host} answered {what} with something other than "
                                   f"JSON (HTTP {response.status_code}, "
                                   f"{response.headers.get('content-type', 'no content type')})") from None

    def refused_change(self, number: str, wanted: str, kept: str) -> IntegrationError:
        return IntegrationError(f"{self.title} at {self.host} kept ticket {number} {kept!r} after certvault set it "
                                f"{wanted!r}: a business rule or workflow refused the change")
