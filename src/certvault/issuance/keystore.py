"""Export defaults of ACME-issued certificates: the keystore type and password chosen on the request.

The inventory's export asks `certificates.export.recorded_defaults`, which calls `export_defaults`
(listed in `certificates.export.DEFAULTS_PROVIDERS`) when the caller leaves the format or password out.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from certvault.context import ServiceContext
from certvault.issuance.models import ManagedCertificate


def export_defaults(ctx: ServiceContext, entry_id: uuid.UUID) -> tuple[str, str | None] | None:
    """(keystore type, its password) recorded for an inventory entry issued through ACME, else None."""
    managed = ctx.session.scalar(select(ManagedCertificate).where(ManagedCertificate.certificate_entry_id == entry_id))
    if managed is None:
        return None
    return managed.keystore_type, open_keystore_password(ctx, managed)


def open_keystore_password(ctx: ServiceContext, managed: ManagedCertificate) -> str | None:
    """The one place a managed certificate's keystore password is opened (the vault work may swap it)."""
    if managed.keystore_password_sealed is None:
        return None
    return ctx.sealer.open_text(managed.keystore_password_sealed, aad=f"acme_managed.keystore:{managed.id}")
