"""Every module holding tables, so Alembic and the schema check see the whole metadata.

Listed by name (not imported at the top) so `db` stays below the domain packages.
"""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

from certvault.db.base import Base

MODEL_MODULES = (
    "certvault.keyring.models",
    "certvault.audit.models",
    "certvault.auth.models",
    "certvault.system.models",
    "certvault.jobs.models",
    "certvault.events.models",
    "certvault.pki.models",
    "certvault.certificates.models",
    "certvault.issuance.models",
    "certvault.scanning.models",
    "certvault.vault.models",
    "certvault.notifications.models",
    "certvault.integrations.models",
    "certvault.deploy.models",
    "certvault.agents.models",
    "certvault.tickets.models",
)


def load_all_models() -> MetaData:
    for name in MODEL_MODULES:
        importlib.import_module(name)
    return Base.metadata
