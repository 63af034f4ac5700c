"""Amazon Route 53 through boto3: the TXT set is read, merged and written whole (UPSERT), then the
change is followed until Route 53 reports it INSYNC. An account makes one request at a time, each at
least 0.2 s after the previous answer, so Route 53 never sees more than its documented 5 per second
(boto3's own retries included); boto3 signs, retries throttled calls
and reads the standard credential chain (environment, profile, role) when no access key is given."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, field_validator

from certvault.errors import IntegrationError, InvalidInput
from certvault.plugins.dns.hosted import ZONES, HostedOptions, ZoneNotFound, fingerprint, longest_zone, record_lock
from certvault.plugins.protocols import HttpClientFactory, NameServer, Propagation, SecretResolver

if TYPE_CHECKING:
    from botocore.client import BaseClient

RATE = 5.0  # requests per second per account (Route 53's limit): a gap of 0.2 s after each answer
PLAIN = {  # AWS error codes -> what a person should check
    "InvalidClientTokenId": "bad credentials: the access key id is not known to AWS",
    "SignatureDoesNotMatch": "bad credentials: the secret access key is wrong",
    "UnrecognizedClientException": "bad credentials: the access key id is not known to AWS",
    "AccessDenied": "the credentials may not do this (IAM needs route53:ListHostedZones, "
                    "ListResourceRecordSets, ChangeResourceRecordSets and GetChange)",
    "NoSuchHostedZone": "the hosted zone does not exist",
    "Throttling": "Route 53 is rate limiting this account (5 requests per second) even after retries; "
                  "certvault tries again later",
    "PriorRequestNotComplete": "an earlier change to this record set is still being applied",
    "InvalidChangeBatch": "Route 53 refused the change",
}


class Route53Options(HostedOptions):
    access_key_id: str | None = Field(default=None, max_length=128,
                                      description="AWS access key id (default: the AWS credential chain)")
    region: str = Field(default="us-east-1", max_length=32, pattern=r"^[a-z0-9-]+$")
    hosted_zone_id: str | None = Field(default=None, max_length=64, description="use only this hosted zone")
    ttl: int = Field(default=60, ge=1, le=86400, description="TTL of the TXT records, seconds")
    propagation_timeout: float = Field(default=180.0, gt=0, le=3600,
                                       description="seconds to wait for INSYNC and for every name server")

    @field_validator("hosted_zone_id")
    @classmethod
    def _zone_id(cls, value: str | None) -> str | None:
        return value.strip().removeprefix("/hostedzone/") if value else None


class Pacer:
    """At most `rate` calls per second from one account in this process."""

    def __init__(self, rate: float) -> None:
        self._gap = 1.0 / rate
        self._next = 0.0
        self._lock = threading.Lock()
        self.busy = threading.Lock()  # held for a whole call (with boto3's retries)
        self.calls = 0

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self._gap
            self.calls += 1
        if start > now:
            time.sleep(start - now)

    def answered(self) -> None:
        """The next request leaves a full gap after this answer: the server then sees them a gap apart,
        however long this one took to reach it."""
        with self._lock:
            self._next = max(self._next, time.monotonic() + self._gap)


_PACERS: dict[str, Pacer] = {}
_PACERS_LOCK = threading.Lock()


def pacer_of(account_key: str) -> Pacer:
    """One pacer per account in the process, whichever provider object of it calls."""
    with _PACERS_LOCK:
        return _PACERS.setdefault(account_key, Pacer(RATE))


class Route53Provider:
    name: ClassVar[str] = "route53"
    title: ClassVar[str] = "Amazon Route 53"
    secret_fields: ClassVar[tuple[str, ...]] = ("secret_access_key",)
    required_secrets: ClassVar[tuple[str, ...]] = ()
    Options = Route53Options

    def __init__(self, options: Route53Options, secrets: SecretResolver,
                 _http: HttpClientFactory | None = None) -> None:
        self.options = options
        self._secret = secrets("secret_access_key")
        self.validate_secrets(options, {"secret_access_key": self._secret})
        self._client: BaseClient | None = None
        self.account_key = fingerprint(self.name, options.endpoint, options.region, options.access_key_id,
                                       options.hosted_zone_id, self._secret)
        self.pacer = pacer_of(self.account_key)

    @staticmethod
    def validate_secrets(options: Route53Options, secrets: Mapping[str, str]) -> None:
        if bool(options.access_key_id) != bool(secrets.get("secret_access_key")):
            raise InvalidInput("Route 53: give both the access key id and the secret access key, or neither "
                               "(to use the AWS credential chain)")

    # ---- protocol ------------------------------------------------------------------------------
    def check(self) -> str:
        zones = self._zone_map(fresh=True)
        where = self.options.endpoint or "route53.amazonaws.com"
        return f"Route 53 at {where} answered; {len(zones)} hosted zone(s) editable"

    def zones(self) -> list[str]:
        return sorted(self._zone_map())

    def present(self, fqdn: str, value: str) -> None:
        change = self._write(fqdn, lambda values: values if value in values else [*values, value])
        if change:
            self._wait_insync(change, fqdn)

    def cleanup(self, fqdn: str, value: str) -> None:
        try:
            self._write(fqdn, lambda values: [v for v in values if v != value])
        except ZoneNotFound:
            return  # no zone of the account holds the name: nothing of ours is there

    def propagation(self) -> Propagation:
        return Propagation(timeout=self.options.propagation_timeout, interval=self.options.polling_interval)

    def visibility_servers(self, fqdn: str) -> list[NameServer]:
        return []  # the zone's authoritative name servers

    # ---- record sets ---------------------------------------------------------------------------
    def _write(self, fqdn: str, merge: Any) -> str | None:
        """Read the TXT set, apply `merge` to its values, write it back whole. Returns the change id."""
        name = fqdn.lower().rstrip(".") + "."
        zone_id = self._zone_id(name)
        with record_lock(f"{self.account_key}:{name}"):  # one read-merge-write at a time per name
            current, ttl = self._read(zone_id, name)
            wanted = merge(current)
            if wanted == current:
                return None
            if wanted:
                record = {"Name": name, "Type": "TXT", "TTL": self.options.ttl,
                          "ResourceRecords": [{"Value": _quoted(v)} for v in wanted]}
                change = {"Action": "UPSERT", "ResourceRecordSet": record}
            else:  # DELETE must name the set exactly as it is
                record = {"Name": name, "Type": "TXT", "TTL": ttl,
                          "ResourceRecords": [{"Value": _quoted(v)} for v in current]}
                change = {"Action": "DELETE", "ResourceRecordSet": record}
            answer = self._call("changing the TXT record " + name.rstrip("."), "change_resource_record_sets",
                                HostedZoneId=zone_id, ChangeBatch={"Comment": "certvault dns-01",
                                                                   "Changes": [change]})
        return str(answer["ChangeInfo"]["Id"])

    def _read(self, zone_id: str, name: str) -> tuple[list[str], int]:
        answer = self._call(f"reading the TXT record {name.rstrip('.')}", "list_resource_record_sets",
                            HostedZoneId=zone_id, StartRecordName=name, StartRecordType="TXT", MaxItems="1")
        for rrset in answer.get("ResourceRecordSets", []):
            if rrset["Name"].lower() == name and rrset["Type"] == "TXT":
                return [_unquoted(r["Value"]) for r in rrset.get("ResourceRecords", [])], int(rrset.get("TTL", 60))
        return [], self.options.ttl

    def _wait_insync(self, change_id: str, fqdn: str) -> None:
        deadline = time.monotonic() + self.options.propagation_timeout
        while True:
            answer = self._call(f"following the change of {fqdn}", "get_change", Id=change_id)
            if answer["ChangeInfo"]["Status"] == "INSYNC":
                return
            if time.monotonic() > deadline:
                raise IntegrationError(f"Route 53: the change of {fqdn} was not INSYNC after "
                                       f"{self.options.propagation_timeout:g} s")
            time.sleep(self.options.polling_interval)

    # ---- zones ---------------------------------------------------------------------------------
    def _zone_id(self, name: str) -> str:
        zone = longest_zone(name, self._zone_map())
        if zone is None and ZONES.age(self.account_key) > ZONES.refresh_after:  # a zone added since?
            zone = longest_zone(name, self._zone_map(fresh=True))
        if zone is not None:
            return zone.id
        which = f" (hosted zone {self.options.hosted_zone_id})" if self.options.hosted_zone_id else ""
        raise ZoneNotFound(f"Route 53: no zone these credentials can edit{which} contains {name.rstrip('.')}")

    def _zone_map(self, fresh: bool = False) -> dict[str, str]:
        """Zone name -> hosted zone id, cached per account for minutes (hosted.ZONES)."""
        return ZONES.get(self.account_key, self._load_zones, fresh=fresh)

    def _load_zones(self) -> dict[str, str]:
        zones: dict[str, str] = {}
        if self.options.hosted_zone_id:
            answer = self._call("reading the hosted zone", "get_hosted_zone", Id=self.options.hosted_zone_id)
            zones[_zone_name(answer["HostedZone"])] = self.options.hosted_zone_id
        else:
            marker: str | None = None
            while True:
                page = self._call("listing hosted zones", "list_hosted_zones",
                                  **({"Marker": marker} if marker else {}))
                for zone in page.get("HostedZones", []):
                    if not zone.get("Config", {}).get("PrivateZone"):
                        zones[_zone_name(zone)] = zone["Id"].removeprefix("/hostedzone/")
                marker = page.get("NextMarker") if page.get("IsTruncated") else None
                if not marker:
                    break
        return zones

    # ---- calls ---------------------------------------------------------------------------------
    def _boto(self) -> BaseClient:
        if self._client is None:
            import boto3
            from botocore.config import Config

            session = boto3.session.Session(aws_access_key_id=self.options.access_key_id or None,
                                            aws_secret_access_key=self._secret or None,
                                            region_name=self.options.region)
            config = Config(connect_timeout=10, read_timeout=30, retries={"mode": "standard", "max_attempts": 5},
                            user_agent_extra="certvault")
            client = session.client("route53", endpoint_url=self.options.endpoint, config=config)
            # every HTTP attempt waits its turn, boto3's own retries of throttled calls included
            client.meta.events.register("before-send.route-53", lambda **_kw: self.pacer.wait())
            client.meta.events.register("response-received.route-53", lambda **_kw: self.pacer.answered())
            self._client = client
        return self._client

    def _call(self, doing: str, operation: str, **params: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            # one call of an account at a time: each request leaves after the previous one was answered, so
            # requests paced apart on this side cannot arrive at Route 53 bunched together
            with self.pacer.busy:
                return getattr(self._boto(), operation)(**params)  # type: ignore[no-any-return]
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = str(error.get("Code", "error")), str(error.get("Message", ""))[:300]
            hint = PLAIN.get(code, "")
            raise IntegrationError(f"Route 53 refused {doing}: {code}" + (f" ({hint})" if hint else "")
                                   + (f": {message}" if message and code == "InvalidChangeBatch" else "")) from None
        except NoCredentialsError:
            raise IntegrationError("Route 53: no AWS credentials; give --access-key-id and --secret-access-key or "
                                   "configure the AWS credential chain (environment, profile, role)") from None
        except BotoCoreError as exc:
            if "Profile" in type(exc).__name__ or "Credential" in type(exc).__name__:
                raise IntegrationError(f"Route 53: the AWS credential chain failed ({exc})"[:400]) from None
            raise IntegrationError(f"Route 53 could not be reached while {doing} ({type(exc).__name__})") from None


def _zone_name(zone: Mapping[str, Any]) -> str:
    return str(zone["Name"]).lower().rstrip(".")


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquoted(value: str) -> str:
    """One TXT value as Route 53 shows it ("a" "b" for long strings) back to its text."""
    parts, text, i = [], value.strip(), 0
    while i < len(text):
        if text[i] == '"':
            j, chunk = i + 1, []
            while j < len(text) and text[j] != '"':
                if text[j] == "\\" and j + 1 < len(text):
                    j += 1
                chunk.append(text[j])
                j += 1
            parts.append("".join(chunk))
            i = j + 1
        elif text[i].isspace():
            i += 1
        else:
            j = text.find(" ", i)
            j = len(text) if j < 0 else j
            parts.append(text[i:j])
            i = j
    return "".join(parts)
