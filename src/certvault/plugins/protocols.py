"""The small protocols every integration implements. Imports nothing of the app but errors.

Every plugin class declares `name`, `title`, an `Options` pydantic model and `secret_fields`, and is
built by the registry as `Plugin(options, secrets, http)`: validated options, a resolver for its
secrets (held in the vault, opened when used) and the shared outbound HTTPS client factory, already
bound to the account's trust, mutual-TLS, pacing and proxy settings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from certvault.errors import IntegrationError

if TYPE_CHECKING:
    import httpx

SecretResolver = Callable[[str], str]
"""Gives a plugin one of its secrets by field name (sealed in storage, opened only when used); "" for an
optional secret that is not set."""


class HttpClientFactory(Protocol):
    """The shared outbound client (timeouts, retries honouring Retry-After, pacing, size cap, trust, mTLS)."""

    def __call__(self, *, base_url: str = "", headers: Mapping[str, str] | None = None,
                 auth: Any = None, ca_bundle: str | None = None) -> httpx.Client:
        """`ca_bundle` (PEM) is trusted in place of the system store when the account sets no trust."""
        ...


# ---- notifications -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Notification:
    """One alert as a channel sends it. `details` never holds a secret value."""

    event: str  # e.g. service_account.locked
    title: str
    body: str
    severity: str  # info | warning | critical
    occurred_at: datetime
    details: Mapping[str, str] = field(default_factory=dict)
    message_id: str = ""
    html: str | None = None  # digests: an HTML part beside the text body (email)
    attachments: tuple[Attachment, ...] = ()  # email only (a digest's CSV, an e-mailed certificate)
    recipients: tuple[str, ...] = ()  # email: these instead of the channel's own recipients
    items: tuple[Mapping[str, str], ...] = ()  # the rows a digest collates (webhook json, CEF)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # e.g. text/csv, application/x-pkcs12
    data: bytes


class Notifier(Protocol):
    """A notification channel (email, syslog, webhook). Built with validated options and its secret."""

    kind: ClassVar[str]

    def send(self, notification: Notification) -> None:
        """Deliver one notification or raise IntegrationError naming the peer and the reason."""
        ...


# ---- DNS providers (dns-01) --------------------------------------------------------------------

@dataclass(frozen=True)
class NameServer:
    host: str
    port: int = 53

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Propagation:
    timeout: float = 120.0  # seconds to wait for a record to become visible before giving up
    interval: float = 2.0  # seconds between visibility checks


class DNSProvider(Protocol):
    """Publishes and removes the TXT records of dns-01 challenges in one DNS service.

    Built as `Provider(options, secrets)` where `options` is an instance of the class's `Options`
    pydantic model (validated by the registry) and `secrets` resolves the names in `secret_fields`.
    Errors are IntegrationError (or InvalidInput) with a message that names the service and why.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    secret_fields: ClassVar[tuple[str, ...]]

    def present(self, fqdn: str, value: str) -> None:
        """Add the TXT value at `fqdn` (e.g. _acme-challenge.www.example.com); keep other values."""
        ...

    def cleanup(self, fqdn: str, value: str) -> None:
        """Remove exactly this TXT value; succeed when it is already gone."""
        ...

    def propagation(self) -> Propagation:
        ...

    def visibility_servers(self, fqdn: str) -> list[NameServer]:
        """Where the record must be visible before the CA is told; [] = the zone's authoritative NS."""
        ...

    def check(self) -> str:
        """One authenticated call that changes nothing; a one-line description of what answered."""
        ...

    def zones(self) -> list[str]:
        """The zones these credentials can edit (lower case, no trailing dot), cached per account for minutes.

        "Test connection" lists them and certvault picks, per name, the enabled account whose zone is the
        longest suffix of it. [] means the provider cannot list zones (RFC 2136 without a zone, hook)."""
        ...


# ---- help desks (tickets) ----------------------------------------------------------------------

TICKET_STATES = ("open", "in_progress", "on_hold", "resolved", "canceled", "closed")
"""A help desk's statuses mapped onto these; the last three are "done" and may need reopening."""


@dataclass(frozen=True)
class TicketDraft:
    subject: str
    body: str
    correlation_key: str  # certvault's dedupe key, stored in the help desk's correlation field
    priority: str = "high"


@dataclass(frozen=True)
class RemoteTicket:
    number: str  # as people quote it: SDP id, ServiceNow INC0010001, Jira KEY-12
    state: str  # one of TICKET_STATES
    url: str = ""
    remote_status: str = ""  # the help desk's own name for the state


class HelpDesk(Protocol):
    """Creates, finds, notes, reopens and resolves tickets in one help desk.

    Every write is followed by a read-back: a status the help desk silently refused raises
    IntegrationError. `reopen` raises Conflict when the ticket's state is final there (ServiceNow
    Closed/Canceled), so the caller opens a new ticket that names the old one.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    secret_fields: ClassVar[tuple[str, ...]]

    def check(self) -> str:
        """One authenticated call; returns a one-line description of what answered."""
        ...

    def find(self, correlation_key: str) -> RemoteTicket | None:
        ...

    def create(self, draft: TicketDraft) -> RemoteTicket:
        ...

    def read(self, number: str) -> RemoteTicket:
        ...

    def read_many(self, numbers: list[str]) -> dict[str, RemoteTicket]:
        """Statuses of many tickets, one query per up to 100; a number the help desk no longer has is left out."""
        ...

    def add_note(self, number: str, text: str) -> None:
        ...

    def reopen(self, number: str, note: str) -> RemoteTicket:
        ...

    def resolve(self, number: str, note: str) -> RemoteTicket:
        ...


# ---- deploy targets ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateBundle:
    """What a deployment installs. `key_pem` is the only secret; it never reaches a log or an error."""

    names: tuple[str, ...]
    serial: str  # hex, as the served leaf is compared against it
    cert_pem: bytes
    chain_pem: bytes
    key_pem: bytes = field(repr=False)
    certificate_id: str = ""  # the inventory entry: lets a target find what it installed before (an ACM ARN)

    @property
    def fullchain_pem(self) -> bytes:
        return self.cert_pem + self.chain_pem


@dataclass(frozen=True)
class DeployReceipt:
    """Enough to undo one deployment (backup paths, previous keystore alias, previous ARN...)."""

    target: str
    details: Mapping[str, str] = field(default_factory=dict)


class DeployFailed(IntegrationError):
    """deploy() failed; `rolled_back` says the target already put back what it had replaced."""

    def __init__(self, message: str, *, rolled_back: bool) -> None:
        super().__init__(message)
        self.rolled_back = rolled_back


class VerificationFailed(IntegrationError):
    """verify() found another certificate served; `served_serial` is its serial (hex), "" when none answered."""

    def __init__(self, message: str, *, served_serial: str = "") -> None:
        super().__init__(message)
        self.served_serial = served_serial


class DeployTarget(Protocol):
    """Installs a certificate where a server uses it, proves it, and undoes it when the proof fails.

    Every step may run again after a crash (the deploy job resumes from the last recorded step), so
    deploy() keeps the first backup it made for a serial and rollback() restores from a copy.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    secret_fields: ClassVar[tuple[str, ...]]

    def check(self) -> str:
        ...

    def deploy(self, bundle: CertificateBundle) -> DeployReceipt:
        """Install atomically, keeping what it replaces; run the target's test and reload steps."""
        ...

    def verify(self, bundle: CertificateBundle) -> None:
        """Raise IntegrationError naming what the server serves instead of `bundle`."""
        ...

    def rollback(self, receipt: DeployReceipt) -> None:
        ...


class AgentJobs(Protocol):
    """Work for a certvault agent on an end server (agents/channel.py behind it): the `agent` deploy target
    queues a job and waits for the agent's result. Jobs are at-least-once; every kind is idempotent."""

    def run(self, agent: str, kind: str, payload: Mapping[str, Any], *, secret: bytes | None = None,
            timeout: float = 300.0, dedup_key: str | None = None) -> Mapping[str, Any]:
        """Queue one job (`secret` is sealed at rest) and wait for its result; IntegrationError names the agent
        and its reason when the job fails or does not finish in time."""
        ...

    def describe(self, agent: str) -> str:
        """One line on the agent (enrolled, last seen); IntegrationError when it is unknown or revoked."""
        ...


class Http01Target(Protocol):
    """A deploy target that can also answer http-01 challenges (SSH with a webroot, the agent)."""

    def answers_http01(self) -> bool:
        """Whether it is configured to (a webroot is set)."""
        ...

    def place_http01(self, token: str, key_authorization: str) -> None:
        """Write <webroot>/.well-known/acme-challenge/<token> (mode 0644); safe to repeat."""
        ...

    def remove_http01(self, token: str) -> None:
        """Remove it; succeed when it is already gone."""
        ...
