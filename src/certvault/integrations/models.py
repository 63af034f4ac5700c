"""One row per configured integration: kind, plugin, options as data, secrets as references into the vault."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from certvault.db.base import Base, JSONType, Timestamps, UUIDPrimaryKey

KINDS = ("dns", "notify", "ticketing", "deploy")


class IntegrationAccount(UUIDPrimaryKey, Timestamps, Base):
    """`secret_refs` maps each of the plugin's secret fields to a vault secret and field:
    {"key_secret": {"secret": "<uuid>", "field": "key_secret"}}. Several accounts may refer to one
    secret, so rotating it in the vault reaches all of them."""

    __tablename__ = "integration_accounts"
    __table_args__ = (UniqueConstraint("kind", "name", name="uq_integration_accounts_kind_name"),)

    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # KINDS
    plugin: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str] = mapped_column(String(150), nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    options: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    secret_refs: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    # the outbound HTTPS client's settings for this account (outbound.ClientOptions: timeouts, pacing,
    # proxy, trust: system store / CA bundle / pinned certificate); {} = the defaults
    connection: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    # the client certificate offered when the server asks for one (integrations/security.py): {} = none,
    # {"source": "keystore", "secret": "<vault secret>", ...} or {"source": "internal_ca", "entry_id": ...}
    client_identity: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    created_by: Mapped[str] = mapped_column(String(150), nullable=False, default="")
