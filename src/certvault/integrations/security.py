"""Mutual TLS and server trust of an integration account (help desk, webhook channel, DNS provider, ...).

The client identity is a JKS or PKCS#12 keystore (kept as a system secret in the vault with its password,
opened and checked when it is set) or a client certificate issued by the internal CA (its key stays sealed
in the inventory). Either way the certificate joins the inventory, where its expiry is watched. The
trusted server certificate goes into the account's connection settings: a CA is trusted in place of the
system store, a server's own certificate is pinned.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from certvault.auth.rbac import Actor
from certvault.context import ServiceContext
from certvault.errors import InvalidInput, NotFound
from certvault.integrations.models import IntegrationAccount

if TYPE_CHECKING:
    from certvault.certificates.service import CertificateService
    from certvault.outbound import ClientIdentity
    from certvault.vault.service import VaultService

MAX_KEYSTORE_BYTES = 256 * 1024
SYSTEM = Actor.system("certvault:integrations:mtls")


def trust_settings(pem: str | None) -> dict[str, Any]:
    """Connection settings for a trusted certificate: a CA replaces the system store, a leaf is pinned."""
    if not pem:
        return {}
    from cryptography import x509

    first = x509.load_pem_x509_certificates(pem.encode())[0]
    try:
        is_ca = first.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    return {"trust": "ca_bundle", "ca_bundle": pem} if is_ca else {"trust": "pinned", "pinned_certificate": pem}


def trusted_pem(value: bytes | str) -> str:
    """A PEM paste or a DER upload of one or more certificates, as PEM; anything else is refused in words."""
    from certvault.outbound.options import as_pem_certificates

    try:
        return as_pem_certificates(value)
    except ValueError as exc:
        raise InvalidInput(f"trusted certificate: {exc}") from None


def facts(identity: ClientIdentity) -> dict[str, str]:
    """What the pages show of a client identity (never the key)."""
    cert = identity.certificate
    return {"subject": identity.subject, "serial": format(cert.serial_number, "x"),
            "not_after": cert.not_valid_after_utc.isoformat()}


class ConnectionSecurity:
    def __init__(self, ctx: ServiceContext, vault: VaultService,
                 certificates: Callable[[], CertificateService]) -> None:
        self._ctx = ctx
        self._s = ctx.session
        self._vault = vault
        self._certificates = certificates

    def from_keystore(self, account: IntegrationAccount, folder: str, data: bytes,
                      password: str) -> dict[str, Any]:
        """Open the keystore now (a wrong password, no key, a chain not matching it or an expired certificate
        is refused before anything is stored), keep it in the vault, track its certificate's expiry."""
        from certvault.outbound import ClientIdentity

        if len(data) > MAX_KEYSTORE_BYTES:
            raise InvalidInput(f"client keystore: larger than {MAX_KEYSTORE_BYTES // 1024} KiB")
        identity = ClientIdentity.from_keystore(data, password, "client keystore")
        identity.check_validity()
        self._track_expiry(account, identity)
        fields = {"keystore": base64.b64encode(data).decode(), "keystore_password": password}
        secret = self._vault.create_system_secret(SYSTEM, folder_path=folder, template="generic", fields=fields,
                                                  name=f"{account.name} client keystore {uuid.uuid4().hex[:8]}")
        return {"source": "keystore", "secret": str(secret), **facts(identity)}

    def from_internal_ca(self, actor: Actor, ref: str) -> dict[str, Any]:
        """A client certificate the internal CA issued (by id or serial), with its key in the inventory."""
        from certvault.pki.models import CaIssued

        stmt = select(CaIssued).where(CaIssued.profile == "client")
        try:
            stmt = stmt.where(CaIssued.id == uuid.UUID(ref))
        except ValueError:
            stmt = stmt.where(CaIssued.serial == ref.strip().lower())
        issued = self._s.scalar(stmt)
        entry_id = (issued.certificate_id or self._inventory_entry(issued.cert_pem)) if issued is not None else None
        if issued is None or entry_id is None:
            raise NotFound(f"no client certificate {ref} issued by the internal CA with its key in the inventory")
        spec = {"source": "internal_ca", "entry_id": str(entry_id)}
        identity = self.identity(spec, actor)
        assert identity is not None
        identity.check_validity()
        return {**spec, **facts(identity)}

    def identity(self, spec: dict[str, Any], actor: Actor = SYSTEM) -> ClientIdentity | None:
        """The client identity an account's spec names, opened now (in the caller's transaction); None for none
        (then nothing of the outbound client loads: an RFC 2136 account never needs httpx)."""
        if spec.get("source") == "keystore":
            from certvault.outbound import ClientIdentity

            secret = uuid.UUID(spec["secret"])
            data = base64.b64decode(self._vault.resolve_field(secret, "keystore", purpose="mtls"))
            password = self._vault.resolve_field(secret, "keystore_password", purpose="mtls")
            return ClientIdentity.from_keystore(data, password, "client keystore")
        if spec.get("source") == "internal_ca":
            return self._internal_identity(uuid.UUID(spec["entry_id"]), actor)
        return None

    def _internal_identity(self, entry_id: uuid.UUID, actor: Actor) -> ClientIdentity:
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding

        from certvault.outbound import ClientIdentity

        certificates = self._certificates()
        entry = certificates.get(actor, entry_id)
        version = next(v for v in entry.versions if v.id == entry.current_version_id)
        key = certificates.current_key_pem(actor, entry_id)
        if key is None:
            raise InvalidInput("the internal CA's client certificate has no private key in the inventory")
        pem = x509.load_der_x509_certificate(version.der).public_bytes(Encoding.PEM)
        chain = b"".join(c.public_bytes(Encoding.PEM) for c in certificates.chain(actor, version))
        return ClientIdentity.from_pem(pem + chain, key, label="internal CA client certificate")

    def _track_expiry(self, account: IntegrationAccount, identity: ClientIdentity) -> None:
        """The client certificate (never its key) joins the inventory, where its expiry is watched."""
        from cryptography.hazmat.primitives.serialization import Encoding

        chain = b"".join(c.public_bytes(Encoding.PEM) for c in (identity.certificate, *identity.chain))
        self._certificates().import_data(SYSTEM, chain, f"{account.kind} {account.name} client certificate",
                                         tags=["integration-client"])

    def _inventory_entry(self, cert_pem: str) -> uuid.UUID | None:
        """The inventory entry holding this certificate (the internal CA stores what it issues there)."""
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding

        from certvault.certificates.models import CertificateVersion

        der = x509.load_pem_x509_certificate(cert_pem.encode()).public_bytes(Encoding.DER)
        stmt = select(CertificateVersion.entry_id).where(
            CertificateVersion.fingerprint_sha256 == hashlib.sha256(der).hexdigest())
        return self._s.scalar(stmt)


def describe_security(account: IntegrationAccount) -> dict[str, Any]:
    """An account's mutual TLS and trust as pages show and the audit records them: never a key or password."""
    identity = dict(account.client_identity or {})
    trust = account.connection.get("trust", "system")
    return {"client_identity": {k: identity[k] for k in ("source", "subject", "serial", "not_after") if k in identity}
            or None, "trust": trust}
