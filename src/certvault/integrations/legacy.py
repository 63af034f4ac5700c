"""The data half of migration integrations_0001: DNS accounts and notification channels, whose secrets
were sealed on their own rows, become integration accounts whose secrets are vault secrets.

Each sealed value is opened and sealed again in memory only (the vault seals it under its own row's
binding); no plaintext is written, logged or left in an error. Ids stay the same, so orders, managed
certificates, subscriptions and outbox messages keep pointing at the same accounts.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    Boolean,
    Connection,
    LargeBinary,
    String,
    TableClause,
    Uuid,
    column,
    insert,
    select,
    table,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

from certvault.db.base import JSONType, UTCDateTime
from certvault.errors import CertvaultError

_COMMON = ("id", Uuid), ("name", String), ("options", JSONType), ("created_by", String), \
    ("created_at", UTCDateTime), ("updated_at", UTCDateTime)
_DNS = table("acme_dns_accounts", *(column(n, t) for n, t in _COMMON), column("provider", String),
             column("secrets_sealed", LargeBinary))
_CHANNELS = table("notification_channels", *(column(n, t) for n, t in _COMMON), column("kind", String),
                  column("enabled", Boolean), column("sealed_secret", LargeBinary))

_ACCOUNTS = table("integration_accounts", *(column(n, t) for n, t in _COMMON), column("kind", String),
                  column("plugin", String), column("enabled", Boolean), column("secret_refs", JSONType),
                  column("connection", JSONType))

_CHANNEL_SECRET = {"email": "password", "webhook": "signing_secret"}  # what a channel's one secret was


def _rows(connection: Connection, legacy: TableClause) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in connection.execute(select(*legacy.c))]


def move_legacy_accounts(connection: Connection, settings: Any) -> int:
    """Returns how many accounts moved. Needs the settings (master key) only when a secret must move."""
    dns, channels = _rows(connection, _DNS), _rows(connection, _CHANNELS)
    if not dns and not channels:
        return 0
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    mover = _Mover(session, settings) if any(r["secrets_sealed"] for r in dns) or any(
        r["sealed_secret"] for r in channels) else None
    for row in dns:
        account = _insert(session, row, "dns", row["provider"], True)
        if row["secrets_sealed"] and mover is not None:
            mover.move(account, json.loads(mover.open(row["secrets_sealed"], f"acme_dns_accounts:{row['id']}")))
    for row in channels:
        account = _insert(session, row, "notify", row["kind"], bool(row["enabled"]))
        if row["sealed_secret"] and mover is not None:
            field = _CHANNEL_SECRET.get(row["kind"], "secret")
            mover.move(account, {field: mover.open(row["sealed_secret"], f"notification_channel:{row['id']}")})
    session.commit()  # releases the savepoint into the migration's transaction
    session.close()
    return len(dns) + len(channels)


def _insert(session: Session, row: dict[str, Any], kind: str, plugin: str, enabled: bool) -> SimpleNamespace:
    """The account as the table is at this revision (the current model may have more columns)."""
    values = {"id": row["id"], "kind": kind, "plugin": plugin, "name": row["name"], "enabled": enabled,
              "options": _json(row["options"]), "secret_refs": {}, "connection": {},
              "created_by": row["created_by"], "created_at": row["created_at"], "updated_at": row["updated_at"]}
    session.execute(insert(_ACCOUNTS), values)
    return SimpleNamespace(**values)


def _json(value: Any) -> dict[str, Any]:
    return dict(json.loads(value) if isinstance(value, str) else value or {})


class _Mover:
    """The app's own services on the migration's connection: the vault seals and audits as always."""

    def __init__(self, session: Session, settings: Any) -> None:
        if settings is None:
            raise CertvaultError("migration integrations_0001 must re-seal stored secrets: run it through "
                                 "certvault (which knows the master key), not bare Alembic")
        from certvault.audit.service import AuditLog
        from certvault.context import ServiceContext
        from certvault.keyring.service import Keyring, Sealer

        keyring = Keyring(settings.master_key_path, sessionmaker(bind=session.connection(),
                                                                 join_transaction_mode="create_savepoint"))
        keyring.prepare()
        self._sealer = Sealer(keyring, session)
        audit = AuditLog(session, keyring.purpose_key("audit"))
        self._ctx = ServiceContext(session, settings, keyring, self._sealer, audit)

    def open(self, blob: bytes, aad: str) -> str:
        return self._sealer.open_text(blob, aad=aad)

    def move(self, account: Any, values: dict[str, str]) -> None:
        from certvault.integrations.service import IntegrationService
        from certvault.plugins.registry import default_registry
        from certvault.system.service import SystemSettings
        from certvault.vault.core import VaultPeers
        from certvault.vault.service import VaultService

        def unused() -> Any:  # storing a system secret reads settings and nothing else of other domains
            raise RuntimeError("the data move uses the vault's system secrets only")

        # The migration is a composition root of its own: the app's container does not exist yet.
        settings = SystemSettings(self._ctx.session, self._ctx.audit)
        vault = VaultService(self._ctx, VaultPeers(auth=unused, notifications=unused, system=lambda: settings))
        IntegrationService(self._ctx, vault, default_registry(), certificates=unused).store_secrets(account, values)
        self._ctx.session.execute(update(_ACCOUNTS).where(_ACCOUNTS.c.id == account.id)
                                  .values(secret_refs=account.secret_refs))
