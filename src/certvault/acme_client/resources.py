"""Plain views of ACME resources, parsed straight from the CA's JSON (cheap, and easy to store)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    if "." in text:  # trim sub-microsecond digits Go servers send
        head, _, tail = text.partition(".")
        digits = "".join(ch for ch in tail if "0" <= ch <= "9")
        zone = tail[len(digits):]
        text = f"{head}.{digits[:6]}{zone}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class Identifier:
    type: str  # dns | ip
    value: str

    def to_json(self) -> dict[str, str]:
        return {"type": self.type, "value": self.value}


@dataclass(frozen=True)
class Challenge:
    type: str
    url: str
    status: str
    token: str | None
    error: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Challenge:
        return cls(type=data.get("type", ""), url=data.get("url", ""), status=data.get("status", ""),
                   token=data.get("token"), error=data.get("error"))


@dataclass(frozen=True)
class Authorization:
    url: str
    status: str
    identifier: Identifier
    wildcard: bool
    challenges: tuple[Challenge, ...]
    expires: datetime | None = None

    @classmethod
    def from_json(cls, url: str, data: dict[str, Any]) -> Authorization:
        ident = data.get("identifier") or {}
        return cls(url=url, status=data.get("status", ""),
                   identifier=Identifier(ident.get("type", "dns"), ident.get("value", "")),
                   wildcard=bool(data.get("wildcard", False)),
                   challenges=tuple(Challenge.from_json(c) for c in data.get("challenges") or []),
                   expires=parse_time(data.get("expires")))

    def challenge(self, kind: str) -> Challenge | None:
        return next((c for c in self.challenges if c.type == kind), None)

    def error(self) -> dict[str, Any] | None:
        return next((c.error for c in self.challenges if c.error), None)


@dataclass(frozen=True)
class Order:
    url: str
    status: str
    identifiers: tuple[Identifier, ...]
    authorizations: tuple[str, ...]
    finalize: str
    certificate: str | None = None
    error: dict[str, Any] | None = None
    expires: datetime | None = None
    retry_after: float | None = None  # seconds, when the CA sent Retry-After

    @classmethod
    def from_json(cls, url: str, data: dict[str, Any], retry_after: float | None = None) -> Order:
        return cls(url=url, status=data.get("status", ""),
                   identifiers=tuple(Identifier(i.get("type", "dns"), i.get("value", ""))
                                     for i in data.get("identifiers") or []),
                   authorizations=tuple(data.get("authorizations") or []), finalize=data.get("finalize", ""),
                   certificate=data.get("certificate"), error=data.get("error"),
                   expires=parse_time(data.get("expires")), retry_after=retry_after)


@dataclass(frozen=True)
class Account:
    url: str
    status: str
    contact: tuple[str, ...]
    orders_url: str | None = None

    @property
    def email(self) -> str | None:
        for item in self.contact:
            if item.startswith("mailto:"):
                return item[len("mailto:"):]
        return None


@dataclass(frozen=True)
class RenewalWindow:
    """ARI (RFC 9773) answer for one certificate."""

    start: datetime
    end: datetime
    explanation_url: str | None
    retry_after: float  # seconds until the CA wants to be asked again
    cert_id: str


@dataclass(frozen=True)
class DirectoryInfo:
    url: str
    terms_of_service: str | None
    external_account_required: bool
    profiles: dict[str, str] = field(default_factory=dict)
    renewal_info: str | None = None
    website: str | None = None
