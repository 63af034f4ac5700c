"""RFC 2136 dynamic updates signed with TSIG (BIND, Knot, PowerDNS, Windows DNS with GSS off)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import ClassVar

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.update
from pydantic import BaseModel, Field, field_validator

from certvault.errors import IntegrationError, InvalidInput
from certvault.plugins.protocols import HttpClientFactory, NameServer, Propagation, SecretResolver

ALGORITHMS = {
    "hmac-sha256": dns.tsig.HMAC_SHA256, "hmac-sha384": dns.tsig.HMAC_SHA384,
    "hmac-sha512": dns.tsig.HMAC_SHA512, "hmac-sha224": dns.tsig.HMAC_SHA224, "hmac-sha1": dns.tsig.HMAC_SHA1,
}


def parse_server(value: str, default_port: int = 53) -> NameServer:
    """host, host:port, [v6]:port or a bare IPv6 address."""
    text = value.strip()
    if not text:
        raise ValueError("empty server")
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else default_port
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = int(port_text)
    else:
        host, port = text, default_port
    if not 0 < port < 65536:
        raise ValueError(f"port {port} is out of range")
    return NameServer(host, port)


class Rfc2136Options(BaseModel):
    server: str = Field(description="primary DNS server that accepts updates, HOST:PORT")
    key_name: str = Field(min_length=1, max_length=255)
    algorithm: str = "hmac-sha256"
    zone: str | None = None  # found with an SOA walk when not given
    ttl: int = Field(default=60, ge=1, le=86400)
    timeout: float = Field(default=10.0, gt=0, le=120)
    propagation_timeout: float = Field(default=120.0, gt=0, le=3600)
    check_servers: list[str] = Field(default_factory=list)  # default: the update server itself

    @field_validator("server")
    @classmethod
    def _server(cls, value: str) -> str:
        try:
            parse_server(value)
        except ValueError as exc:
            raise ValueError(f"not HOST:PORT ({exc})") from None
        return value.strip()

    @field_validator("check_servers")
    @classmethod
    def _checks(cls, values: list[str]) -> list[str]:
        for value in values:
            parse_server(value)
        return values

    @field_validator("algorithm")
    @classmethod
    def _algorithm(cls, value: str) -> str:
        value = value.lower().strip()
        if value not in ALGORITHMS:
            raise ValueError(f"choose one of {', '.join(ALGORITHMS)}")
        return value


class Rfc2136Provider:
    name: ClassVar[str] = "rfc2136"
    title: ClassVar[str] = "RFC 2136 (nsupdate with TSIG)"
    secret_fields: ClassVar[tuple[str, ...]] = ("key_secret",)
    Options = Rfc2136Options

    def __init__(self, options: Rfc2136Options, secrets: SecretResolver,
                 _http: HttpClientFactory | None = None) -> None:
        self.options = options
        self.server = parse_server(options.server)
        secret = secrets("key_secret")
        self.validate_secrets(options, {"key_secret": secret})
        self._keyname = dns.name.from_text(options.key_name)
        self._keyring = dns.tsigkeyring.from_text({options.key_name: secret})
        self._algorithm = ALGORITHMS[options.algorithm]
        self._zones: dict[str, dns.name.Name] = {}

    @staticmethod
    def validate_secrets(_options: Rfc2136Options, secrets: Mapping[str, str]) -> None:
        try:
            base64.b64decode(secrets.get("key_secret", ""), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("the TSIG key secret must be base64 (as tsig-keygen prints it)") from None

    # ---- protocol ------------------------------------------------------------------------------
    def check(self) -> str:
        """A TSIG-signed SOA query: the server answering it proves the address and the key."""
        zone = dns.name.from_text(self.options.zone or ".")
        query = dns.message.make_query(zone, dns.rdatatype.SOA)
        query.use_tsig(self._keyring, self._keyname, algorithm=self._algorithm)
        response = self._query(query, f"checking the key with an SOA query for {zone.to_text(True) or '.'}")
        authoritative = bool(response.flags & dns.flags.AA) and any(
            r.rdtype == dns.rdatatype.SOA and r.name == zone for r in response.answer)
        where = (f"authoritative for {self.options.zone}" if authoritative else
                 f"not authoritative for {self.options.zone}" if self.options.zone else "zones are found per name")
        return (f"DNS server {self.server} accepted TSIG key {self.options.key_name} "
                f"({dns.rcode.to_text(response.rcode())}); {where}")

    def zones(self) -> list[str]:
        """The configured zone; [] when zones are found per name with an SOA walk."""
        return [self.options.zone.lower().rstrip(".")] if self.options.zone else []

    def present(self, fqdn: str, value: str) -> None:
        zone, relative = self._split(fqdn)
        update = self._update(zone)
        update.add(relative, self.options.ttl, "TXT", _quoted(value))
        self._send(update, f"adding the TXT record {fqdn}")

    def cleanup(self, fqdn: str, value: str) -> None:
        zone, relative = self._split(fqdn)
        update = self._update(zone)
        update.delete(relative, "TXT", _quoted(value))
        self._send(update, f"removing the TXT record {fqdn}")

    def propagation(self) -> Propagation:
        return Propagation(timeout=self.options.propagation_timeout, interval=1.0)

    def visibility_servers(self, fqdn: str) -> list[NameServer]:
        return [parse_server(s) for s in self.options.check_servers] or [self.server]

    # ---- internals -----------------------------------------------------------------------------
    def _update(self, zone: dns.name.Name) -> dns.update.UpdateMessage:
        return dns.update.UpdateMessage(zone, keyring=self._keyring, keyname=self._keyname,
                                        keyalgorithm=self._algorithm)

    def _split(self, fqdn: str) -> tuple[dns.name.Name, dns.name.Name]:
        name = dns.name.from_text(fqdn)
        zone = self._zone_for(name)
        return zone, name.relativize(zone)

    def _zone_for(self, name: dns.name.Name) -> dns.name.Name:
        if self.options.zone:
            zone = dns.name.from_text(self.options.zone)
            if not name.is_subdomain(zone):
                raise InvalidInput(f"{name.to_text(True)} is not in the DNS account's zone {self.options.zone}")
            return zone
        cached = self._zones.get(name.to_text())
        if cached is not None:
            return cached
        candidate = name
        while len(candidate.labels) > 1:
            if self._is_zone_apex(candidate):
                self._zones[name.to_text()] = candidate
                return candidate
            candidate = candidate.parent()
        raise IntegrationError(f"no zone for {name.to_text(True)} on DNS server {self.server}: "
                               "set the zone on the DNS account")

    def _is_zone_apex(self, name: dns.name.Name) -> bool:
        query = dns.message.make_query(name, dns.rdatatype.SOA)
        query.flags &= ~dns.flags.RD
        response = self._query(query, f"looking up the zone of {name.to_text(True)}")
        return bool(response.rcode() == dns.rcode.NOERROR and response.flags & dns.flags.AA and any(
            rrset.rdtype == dns.rdatatype.SOA and rrset.name == name for rrset in response.answer))

    def _query(self, message: dns.message.Message, doing: str) -> dns.message.Message:
        try:
            return dns.query.tcp(message, self.server.host, timeout=self.options.timeout, port=self.server.port)
        except dns.tsig.PeerBadSignature:
            raise IntegrationError(f"DNS server {self.server} rejected the TSIG signature while {doing}: "
                                   "the key secret is wrong") from None
        except dns.tsig.PeerBadKey:
            raise IntegrationError(f"DNS server {self.server} does not know the TSIG key "
                                   f"{self.options.key_name} ({doing})") from None
        except (dns.tsig.PeerError, dns.tsig.BadSignature) as exc:
            raise IntegrationError(f"DNS server {self.server} failed TSIG while {doing} ({exc})") from None
        except dns.exception.Timeout:
            raise IntegrationError(f"DNS server {self.server} did not answer within {self.options.timeout:g} s "
                                   f"while {doing}") from None
        except OSError as exc:
            raise IntegrationError(f"DNS server {self.server} could not be reached while {doing} "
                                   f"({exc.strerror or exc})") from None

    def _send(self, update: dns.update.UpdateMessage, doing: str) -> None:
        response = self._query(update, doing)
        rcode = response.rcode()
        if rcode == dns.rcode.NOERROR:
            return
        hints = {dns.rcode.REFUSED: "check the key's update-policy allows TXT records in this zone",
                 dns.rcode.NOTAUTH: "the server is not authoritative for the zone or the key is not accepted",
                 dns.rcode.NOTZONE: "the name is outside the zone"}
        hint = hints.get(rcode, "")
        raise IntegrationError(f"DNS server {self.server} answered {dns.rcode.to_text(rcode)} while {doing}"
                               + (f": {hint}" if hint else ""))


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
